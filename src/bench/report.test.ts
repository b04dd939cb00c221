import assert from "node:assert/strict";
import os from "node:os";
import { test } from "node:test";
import { benchConfig } from "./options.js";
import { benchDocument, toHtml, toMarkdown } from "./report.js";
import type { BenchResults, ScenarioResult } from "./run.js";

function scenario(p50: number, gbps: number, rss: number): ScenarioResult {
  return {
    throughput_gbps: gbps,
    throughput_multi_gbps: gbps * 1.5,
    rps: 1000 / p50,
    p50_ms: p50,
    p90_ms: p50 * 1.5,
    p99_ms: p50 * 2,
    newconn_p50_ms: p50,
    newconn_p99_ms: p50 * 3,
    cpu_s_per_1k_req: 0.05,
    proxy_rss_mb: rss,
    proxy_anon_mb: rss / 2,
    rate: { target: 1000, achieved: 999, errors: 0 },
    errors: { fixed_rate: 0, max_rps: 0, newconn: 0 },
    proxies:
      rss > 0
        ? [
            {
              role: "ztunnel node-1",
              pid: 1,
              rss_mb: rss,
              anon_mb: rss / 2,
              cpu_s: 1,
              cores_at_max: 0.45,
              cores_at_multi: 0.9,
            },
          ]
        : [],
    machine_cores_at_max: 1.6,
    machine_cores_at_multi: 1.9,
    cdf: [
      [p50, 0.5],
      [p50 * 2, 1],
    ],
  };
}

const results: BenchResults = {
  scenarios: {
    direct: scenario(0.1, 10, 0),
    "ambient-l4": scenario(0.25, 2, 80),
    sidecar: scenario(0.4, 1, 20),
  },
  scale: [
    {
      pods: 10,
      rate: 200,
      ambient: { proxies: 2, rss_mb: 160, anon_mb: 60, cpu_s: 1, errors: 0 },
      sidecar: { proxies: 10, rss_mb: 100, anon_mb: 40, cpu_s: 4, errors: 0 },
    },
  ],
};

test("bench report: comparisons are computed against direct and the sidecar model", () => {
  const doc = benchDocument(benchConfig({}), results, "abc1234", new Date("2026-11-26T04:00:00Z"));
  assert.deepEqual(doc.comparisons.added_latency_ms["ambient-l4"], { p50: 0.15, p90: 0.225, p99: 0.3 });
  assert.equal(doc.comparisons.throughput_vs_direct.sidecar, 0.1);
  assert.equal(doc.comparisons.throughput_multi_vs_direct["ambient-l4"], 0.2);
  assert.deepEqual(doc.comparisons.ambient_vs_sidecar, [
    { pods: 10, memory: 1.6, memory_anon: 1.5, cpu: 0.25 },
  ]);
  assert.deepEqual(doc.comparisons.throughput_vs_best_sidecar, { "ambient-l4": { median: 2, rounds: [2] } });
  assert.equal(doc.commit, "abc1234");
  assert.ok(doc.machine.cores >= 1);
});

test("bench report: with rounds, each is compared with the better sidecar of its own round and listed", () => {
  const withRounds = (s: ScenarioResult, gbps: number[]): ScenarioResult => ({
    ...s,
    throughput_gbps: [...gbps].sort((a, b) => a - b)[1] as number,
    rounds: gbps.map((g, i) => ({
      throughput_gbps: g,
      throughput_multi_gbps: g + 1,
      rps: 1000,
      p50_ms: s.p50_ms,
      p90_ms: s.p90_ms + i / 10,
      p99_ms: s.p99_ms,
      newconn_p50_ms: 2 + i,
      newconn_p99_ms: 9,
      cpu_s_per_1k_req: 0.3,
    })),
  });
  const res: BenchResults = {
    scenarios: {
      direct: withRounds(scenario(0.1, 10, 0), [10, 11, 12]),
      "ambient-l4": withRounds(scenario(0.25, 2, 80), [2, 3, 2.7]),
      sidecar: withRounds(scenario(0.4, 1, 20), [3, 2, 3]),
      "sidecar-stunnel": withRounds(scenario(0.4, 1, 20), [2.5, 4, 2]),
    },
    scale: [],
  };
  const doc = benchDocument(benchConfig({ rounds: "3" }), res, "abc1234");
  // Round by round: 2 / max(3, 2.5), 3 / max(2, 4), 2.7 / max(3, 2).
  assert.deepEqual(doc.comparisons.throughput_vs_best_sidecar["ambient-l4"], {
    median: 0.75,
    rounds: [0.667, 0.75, 0.9],
  });
  assert.equal(doc.comparisons.throughput_vs_best_sidecar.sidecar, undefined, "sidecars are the baseline");
  const md = toMarkdown(doc);
  assert.match(md, /3 rounds, interleaved: each figure is the median of its rounds/);
  assert.match(md, /^- ambient-l4: 0.75 \(median; rounds 0.667, 0.75, 0.9\)$/m);
  assert.match(
    md,
    /^\| ambient-l4 \| 2, 3, 2.7 \| 3, 4, 3.7 \| 0.375, 0.475, 0.575 \| 2, 3, 4 \| 0.3, 0.3, 0.3 \|$/m,
  );
  const html = toHtml(doc);
  assert.equal(html.match(/<table>/g)?.length, 3, "results, busy cores, rounds: one table each");
  assert.match(
    html,
    /<tr><th>scenario<\/th><th>Gbit\/s, 1 stream<\/th>/,
    "each table's header row is a header",
  );
  assert.match(html, /<li>ambient-l4: 0.75 \(median; rounds 0.667, 0.75, 0.9\)<\/li>/);
});

test("bench report: Markdown has a row per scenario; HTML has the plots and the raw data", () => {
  const doc = benchDocument(benchConfig({}), results, "abc1234", new Date("2026-11-26T04:00:00Z"));
  const md = toMarkdown(doc);
  // Machines of one kind differ by their kernel build; a run's header says which one it was.
  assert.match(
    md.split("\n")[0] as string,
    new RegExp(`, kernel ${os.release().replaceAll(".", "\\.")}, Node v`),
  );
  for (const name of ["direct", "ambient-l4", "sidecar"])
    assert.match(md, new RegExp(`^\\| ${name} \\|`, "m"));
  assert.match(md, /^\| 10 \| 200 \| 2: 160 \(60\) \/ 1 \| 10: 100 \(40\) \/ 4 \| 1.6 \(1.5\) \| 0.25 \|$/m);
  assert.match(md, /^\| ambient-l4 \| .* \| 80 \(40\) \| 0 \|$/m, "RSS (anon) per scenario");
  assert.match(
    md,
    /^\| ambient-l4 \| 1.6 \| ztunnel node-1 0.45 \| 1.9 \| ztunnel node-1 0.9 \|$/m,
    "busy cores at max throughput and over several streams",
  );
  assert.match(md, /^\| direct \| 1.6 \| — \| 1.9 \| — \|$/m);
  assert.match(md, /\| Gbit\/s \(1 \/ 4 streams\) \|/);
  assert.match(md, /^\| ambient-l4 \| .* \| 2 \/ 3 \| 0.05 \|/m, "1-stream / multi-stream Gbit/s");
  const html = toHtml(doc);
  assert.equal(html.match(/<svg /g)?.length, 5, "CDF, three bar charts, memory vs pods");
  const data = /<script type="application\/json" id="bench-data">(.*)<\/script>/s.exec(html)?.[1] ?? "";
  assert.equal((JSON.parse(data) as { commit: string }).commit, "abc1234");
});

test("bench report: a pod count measured twice gets each run's own ratios in the table", () => {
  const again = {
    pods: 10,
    rate: 200,
    ambient: { proxies: 2, rss_mb: 150, anon_mb: 50, cpu_s: 2, errors: 0 },
    sidecar: { proxies: 10, rss_mb: 100, anon_mb: 40, cpu_s: 1, errors: 0 },
  };
  const doc = benchDocument(
    benchConfig({}),
    { ...results, scale: [...results.scale, again] },
    "abc1234",
    new Date("2026-11-26T04:00:00Z"),
  );
  const rows = toMarkdown(doc)
    .split("\n")
    .filter((l) => l.startsWith("| 10 | 200 |"));
  assert.equal(rows.length, 2);
  assert.ok(rows[0]?.endsWith("| 1.6 (1.5) | 0.25 |"), rows[0]);
  assert.ok(rows[1]?.endsWith("| 1.5 (1.25) | 2 |"), rows[1]);
});
