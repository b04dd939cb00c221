/**
 * `ambit bench` output: the JSON document (machine, commit, date, settings, per-scenario results,
 * comparisons against direct and the sidecar model), a Markdown table, and a self-contained HTML
 * report with inline SVG plots (latency CDF, throughput bars, proxy memory vs pod count).
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { median } from "./percentiles.js";
import type { BenchConfig, BenchResults, ScaleResult, ScenarioName, ScenarioResult } from "./run.js";

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memory_gb: number;
  readonly kernel: string;
  readonly node: string;
  /** 1-minute load average when the run ended: a busy machine makes every number worse. */
  readonly load1: number;
}

export interface BenchDocument {
  readonly machine: MachineInfo;
  readonly commit: string;
  readonly date: string;
  readonly settings: BenchConfig;
  readonly scenarios: BenchResults["scenarios"];
  readonly scale: BenchResults["scale"];
  readonly comparisons: Comparisons;
}

export interface Comparisons {
  /** Latency added over `direct` at the fixed rate, ms. */
  readonly added_latency_ms: Partial<Record<ScenarioName, { p50: number; p90: number; p99: number }>>;
  /** Single-stream throughput as a fraction of direct. */
  readonly throughput_vs_direct: Partial<Record<ScenarioName, number>>;
  /** Multi-stream throughput (`settings.iperfStreams` parallel streams) as a fraction of direct's. */
  readonly throughput_multi_vs_direct: Partial<Record<ScenarioName, number>>;
  /**
   * Single-stream throughput over the better of the sidecar pairs measured (HAProxy, stunnel), per
   * round (the paths of one round ran minutes apart, not hours) and the median of those ratios.
   */
  readonly throughput_vs_best_sidecar: Partial<Record<ScenarioName, { median: number; rounds: number[] }>>;
  /** Ambient / sidecar at each pod count: memory and CPU ratios. */
  /** `memory`: total RSS ratio; `memory_anon`: the same for anonymous memory (no program text). */
  readonly ambient_vs_sidecar: readonly { pods: number; memory: number; memory_anon: number; cpu: number }[];
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown",
    cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    load1: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function gitCommit(cwd: string): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

export function comparisons(res: BenchResults): Comparisons {
  const direct = res.scenarios.direct;
  const added: Comparisons["added_latency_ms"] = {};
  const tput: Comparisons["throughput_vs_direct"] = {};
  const tputMulti: Comparisons["throughput_multi_vs_direct"] = {};
  if (direct !== undefined) {
    for (const [name, s] of Object.entries(res.scenarios) as [ScenarioName, ScenarioResult][]) {
      if (name === "direct") continue;
      added[name] = {
        p50: r3(s.p50_ms - direct.p50_ms),
        p90: r3(s.p90_ms - direct.p90_ms),
        p99: r3(s.p99_ms - direct.p99_ms),
      };
      if (direct.throughput_gbps > 0) tput[name] = r3(s.throughput_gbps / direct.throughput_gbps);
      if (direct.throughput_multi_gbps > 0)
        tputMulti[name] = r3(s.throughput_multi_gbps / direct.throughput_multi_gbps);
    }
  }
  return {
    added_latency_ms: added,
    throughput_vs_direct: tput,
    throughput_multi_vs_direct: tputMulti,
    throughput_vs_best_sidecar: versusBestSidecar(res),
    ambient_vs_sidecar: res.scale.map((s) => ({
      pods: s.pods,
      memory: s.sidecar.rss_mb > 0 ? r3(s.ambient.rss_mb / s.sidecar.rss_mb) : 0,
      memory_anon: s.sidecar.anon_mb > 0 ? r3(s.ambient.anon_mb / s.sidecar.anon_mb) : 0,
      cpu: s.sidecar.cpu_s > 0 ? r3(s.ambient.cpu_s / s.sidecar.cpu_s) : 0,
    })),
  };
}

const SIDECARS: readonly ScenarioName[] = ["sidecar", "sidecar-stunnel"];

/** Each round's single-stream throughput of a scenario, or its one figure. */
function perRound(s: ScenarioResult): number[] {
  return s.rounds?.map((r) => r.throughput_gbps) ?? [s.throughput_gbps];
}

function versusBestSidecar(res: BenchResults): Comparisons["throughput_vs_best_sidecar"] {
  const sidecars = SIDECARS.flatMap((n) =>
    res.scenarios[n] === undefined ? [] : [perRound(res.scenarios[n])],
  );
  const out: Comparisons["throughput_vs_best_sidecar"] = {};
  if (sidecars.length === 0) return out;
  for (const [name, s] of Object.entries(res.scenarios) as [ScenarioName, ScenarioResult][]) {
    if (name === "direct" || SIDECARS.includes(name)) continue;
    const mine = perRound(s);
    const ratios = mine.flatMap((v, i) => {
      const best = Math.max(...sidecars.map((rs) => rs[i] ?? 0));
      return best > 0 ? [r3(v / best)] : [];
    });
    if (ratios.length === 0) continue;
    out[name] = { median: r3(median(ratios)), rounds: ratios };
  }
  return out;
}

export function benchDocument(
  settings: BenchConfig,
  res: BenchResults,
  commit: string,
  date = new Date(),
): BenchDocument {
  return {
    machine: machineInfo(),
    commit,
    date: date.toISOString(),
    settings,
    scenarios: res.scenarios,
    scale: res.scale,
    comparisons: comparisons(res),
  };
}

export function toJson(doc: BenchDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function toMarkdown(doc: BenchDocument): string {
  const m = doc.machine;
  const rounds = doc.settings.rounds ?? 1;
  const lines = [
    `ambit bench — ${doc.date.slice(0, 16).replace("T", " ")} UTC, commit ${doc.commit}, ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GiB, kernel ${m.kernel}, Node ${m.node}, load ${m.load1}`,
    `settings: ${doc.settings.rate} req/s open loop and max throughput over ${doc.settings.connections} connections for ${doc.settings.seconds} s each, ${doc.settings.bodyBytes} B responses, ${doc.settings.newConnections} new connections, iperf3 ${doc.settings.iperfSeconds} s with 1 and ${doc.settings.iperfStreams} streams, ${doc.settings.capture ?? "node"} capture${rounds > 1 ? `; ${rounds} rounds, interleaved: each figure is the median of its rounds, errors are summed` : ""}`,
    "",
    `| scenario | p50 / p90 / p99 ms | added p90 / p99 ms | max req/s | new conn p50 / p99 ms | Gbit/s (1 / ${doc.settings.iperfStreams} streams) | CPU s / 1k req | proxy RSS (anon) MiB | errors |`,
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [name, s] of Object.entries(doc.scenarios) as [ScenarioName, ScenarioResult][]) {
    const add = doc.comparisons.added_latency_ms[name];
    const errs = s.errors.fixed_rate + s.errors.max_rps + s.errors.newconn;
    lines.push(
      `| ${name} | ${s.p50_ms} / ${s.p90_ms} / ${s.p99_ms} | ${add ? `${add.p90} / ${add.p99}` : "—"} | ${s.rps} | ${s.newconn_p50_ms} / ${s.newconn_p99_ms} | ${s.throughput_gbps} / ${s.throughput_multi_gbps} | ${s.cpu_s_per_1k_req} | ${s.proxy_rss_mb} (${s.proxy_anon_mb}) | ${errs} |`,
    );
  }
  lines.push(
    "",
    `busy cores during max throughput and during the ${doc.settings.iperfStreams}-stream iperf3 (machine: ${m.cores} cores; one proxy thread saturated = 1.0):`,
    "",
    "| scenario | machine, max req/s | proxies, max req/s | machine, streams | proxies, streams |",
    "|---|---|---|---|---|",
  );
  for (const [name, s] of Object.entries(doc.scenarios) as [ScenarioName, ScenarioResult][]) {
    const cores = (pick: (p: ScenarioResult["proxies"][number]) => number): string =>
      s.proxies.map((p) => `${p.role} ${pick(p)}`).join(", ") || "—";
    lines.push(
      `| ${name} | ${s.machine_cores_at_max} | ${cores((p) => p.cores_at_max)} | ${s.machine_cores_at_multi} | ${cores((p) => p.cores_at_multi)} |`,
    );
  }
  const versus = Object.entries(doc.comparisons.throughput_vs_best_sidecar ?? {});
  if (versus.length > 0) {
    lines.push("", "single-stream throughput over the better sidecar pair's (same round):", "");
    for (const [name, v] of versus)
      lines.push(
        `- ${name}: ${v.median}${v.rounds.length > 1 ? ` (median; rounds ${v.rounds.join(", ")})` : ""}`,
      );
  }
  if (rounds > 1) {
    lines.push(
      "",
      "each round's own figures:",
      "",
      "| scenario | Gbit/s, 1 stream | Gbit/s, streams | p90 ms | new conn p50 ms | CPU s / 1k req |",
      "|---|---|---|---|---|---|",
    );
    for (const [name, s] of Object.entries(doc.scenarios) as [ScenarioName, ScenarioResult][]) {
      const each = (pick: (r: NonNullable<ScenarioResult["rounds"]>[number]) => number): string =>
        (s.rounds ?? []).map(pick).join(", ");
      lines.push(
        `| ${name} | ${each((r) => r.throughput_gbps)} | ${each((r) => r.throughput_multi_gbps)} | ${each((r) => r.p90_ms)} | ${each((r) => r.newconn_p50_ms)} | ${each((r) => r.cpu_s_per_1k_req)} |`,
      );
    }
  }
  if (doc.scale.length > 0) {
    lines.push(
      "",
      "| pods | load req/s | ambient proxies: RSS (anon) MiB / CPU s | sidecar proxies: RSS (anon) MiB / CPU s | ambient/sidecar memory: RSS (anon) | ambient/sidecar CPU |",
      "|---|---|---|---|---|---|",
    );
    // One comparison per scale run, in the same order (a pod count may be measured twice).
    for (const [i, s] of doc.scale.entries()) {
      const c = doc.comparisons.ambient_vs_sidecar[i];
      lines.push(
        `| ${s.pods} | ${s.rate} | ${s.ambient.proxies}: ${s.ambient.rss_mb} (${s.ambient.anon_mb}) / ${s.ambient.cpu_s} | ${s.sidecar.proxies}: ${s.sidecar.rss_mb} (${s.sidecar.anon_mb}) / ${s.sidecar.cpu_s} | ${c ? `${c.memory} (${c.memory_anon})` : "—"} | ${c?.cpu ?? "—"} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

const COLORS: Record<string, string> = {
  direct: "#6b7280",
  "ambient-l4": "#2563eb",
  "ambient-l7": "#7c3aed",
  sidecar: "#dc2626",
  "sidecar-stunnel": "#ea580c",
  "ambient anon": "#93c5fd",
  "sidecar anon": "#fca5a5",
};

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch] ?? ch);
}

interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

/** A line chart; x on a log scale when `logX` (latencies span decades). */
function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly Series[],
  logX: boolean,
): string {
  const W = 640;
  const H = 320;
  const L = 60;
  const B = 40;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return "";
  const xs = all.map((p) => p[0]).filter((x) => !logX || x > 0);
  const ys = all.map((p) => p[1]);
  const fx = (x: number): number => (logX ? Math.log10(Math.max(x, 1e-3)) : x);
  const x0 = Math.min(...xs.map(fx));
  const x1 = Math.max(...xs.map(fx));
  const y1 = Math.max(...ys, 0) || 1;
  const sx = (x: number): number => L + ((fx(x) - x0) / (x1 - x0 || 1)) * (W - L - 20);
  const sy = (y: number): number => H - B - (y / y1) * (H - B - 20);
  const ticks = Array.from({ length: 5 }, (_, i) => x0 + ((x1 - x0) * i) / 4);
  const out = [
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="10" x2="${L}" y2="${H - B}" stroke="#999"/>`,
    ...ticks.map((t) => {
      const v = logX ? 10 ** t : t;
      const x = L + ((t - x0) / (x1 - x0 || 1)) * (W - L - 20);
      return `<text x="${x}" y="${H - B + 16}" font-size="11" text-anchor="middle">${v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`;
    }),
    `<text x="${(W + L) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${(H - B) / 2}" font-size="12" transform="rotate(-90 14 ${(H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
    `<text x="${L - 6}" y="${sy(y1) + 4}" font-size="11" text-anchor="end">${y1.toFixed(y1 < 10 ? 2 : 0)}</text>`,
  ];
  series.forEach((s, i) => {
    const d = s.points
      .map((p, j) => `${j === 0 ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join("");
    const color = COLORS[s.name] ?? ["#059669", "#d97706", "#0891b2"][i % 3];
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${L + 10}" y="${24 + i * 16}" font-size="12" fill="${color}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("");
}

function barChart(title: string, unit: string, bars: readonly { name: string; value: number }[]): string {
  const W = 640;
  const rowH = 28;
  const H = 20 + bars.length * rowH;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const out = [
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>`,
  ];
  bars.forEach((b, i) => {
    const w = (b.value / max) * (W - 260);
    const y = 10 + i * rowH;
    out.push(
      `<text x="130" y="${y + 17}" font-size="12" text-anchor="end">${esc(b.name)}</text>`,
      `<rect x="140" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="${COLORS[b.name] ?? "#059669"}"/>`,
      `<text x="${146 + w}" y="${y + 17}" font-size="12">${b.value} ${esc(unit)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("");
}

/** The Markdown report's tables, lists and lines as HTML (a line above a `|---` row is a header). */
function markdownBlocks(lines: readonly string[]): string {
  const out: string[] = [];
  const cells = (l: string): string[] =>
    l
      .split("|")
      .slice(1, -1)
      .map((c) => esc(c.trim()));
  let i = 0;
  while (i < lines.length) {
    const l = lines[i] ?? "";
    if (l.startsWith("|")) {
      const rows: string[] = [];
      for (; i < lines.length && (lines[i] ?? "").startsWith("|"); i++) {
        const row = lines[i] ?? "";
        if (row.startsWith("|---")) continue;
        const tag = (lines[i + 1] ?? "").startsWith("|---") ? "th" : "td";
        rows.push(
          `<tr>${cells(row)
            .map((c) => `<${tag}>${c}</${tag}>`)
            .join("")}</tr>`,
        );
      }
      out.push(`<table>\n${rows.join("\n")}\n</table>`);
    } else if (l.startsWith("- ")) {
      const items: string[] = [];
      for (; i < lines.length && (lines[i] ?? "").startsWith("- "); i++)
        items.push(`<li>${esc((lines[i] ?? "").slice(2))}</li>`);
      out.push(`<ul class="meta">${items.join("")}</ul>`);
    } else {
      if (l.trim() !== "") out.push(`<p class="meta">${esc(l)}</p>`);
      i++;
    }
  }
  return out.join("\n");
}

export function toHtml(doc: BenchDocument): string {
  const sc = Object.entries(doc.scenarios) as [ScenarioName, ScenarioResult][];
  const cdfSeries = sc.map(([name, s]) => ({ name, points: s.cdf }));
  const scale = doc.scale as readonly ScaleResult[];
  const memSeries: Series[] =
    scale.length > 0
      ? [
          { name: "ambient", points: scale.map((s) => [s.pods, s.ambient.rss_mb] as const) },
          { name: "sidecar", points: scale.map((s) => [s.pods, s.sidecar.rss_mb] as const) },
          { name: "ambient anon", points: scale.map((s) => [s.pods, s.ambient.anon_mb] as const) },
          { name: "sidecar anon", points: scale.map((s) => [s.pods, s.sidecar.anon_mb] as const) },
        ]
      : [];
  const md = toMarkdown(doc);
  const body = markdownBlocks(md.split("\n").slice(2));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ambit bench ${esc(doc.date)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem;color:#111}
table{border-collapse:collapse;font-size:13px;margin:1rem 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}svg{max-width:100%;height:auto;margin:1rem 0}
.meta{color:#555;font-size:13px}
</style></head><body>
<h1>ambit bench</h1>
<p class="meta">${esc(md.split("\n")[0] ?? "")}<br>${esc(md.split("\n")[1] ?? "")}</p>
${body}
<h2>Latency CDF at ${doc.settings.rate} req/s (open loop)</h2>
${lineChart("Latency CDF", "latency ms (log scale)", "fraction of requests", cdfSeries, true)}
<h2>Single-stream throughput</h2>
${barChart(
  "Single-stream throughput (iperf3)",
  "Gbit/s",
  sc.map(([name, s]) => ({ name, value: s.throughput_gbps })),
)}
<h2>Throughput over ${doc.settings.iperfStreams} streams</h2>
${barChart(
  `Throughput over ${doc.settings.iperfStreams} parallel streams (iperf3 -P)`,
  "Gbit/s",
  sc.map(([name, s]) => ({ name, value: s.throughput_multi_gbps })),
)}
<h2>Keep-alive max throughput</h2>
${barChart(
  "Max requests per second",
  "req/s",
  sc.map(([name, s]) => ({ name, value: s.rps })),
)}
${memSeries.length > 0 ? `<h2>Total proxy memory vs pod count</h2>${lineChart("Proxy memory vs pods", "pods", "MiB (sum of proxy RSS; anon: without program text)", memSeries, false)}` : ""}
<script type="application/json" id="bench-data">${JSON.stringify(doc).replace(/</g, "\\u003c")}</script>
</body></html>
`;
}
