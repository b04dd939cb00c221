/**
 * `ambit top [-n ns] [--interval 1s] [-o json] [--once]`: the mesh's edges sorted by requests/s,
 * with bytes/s, error rate, p99 and mTLS, redrawn in place until q or Ctrl-C. `--once -o json`
 * prints one snapshot for scripts. Rates are the control plane's (GET /v1/traffic): counter deltas
 * between its last two scrapes of every ztunnel and waypoint.
 */
import type { Command } from "commander";
import type { TrafficReport } from "../../control/traffic-collector.js";
import type { TrafficEdge } from "../../control/traffic-model.js";
import { AdminClient, adminOptionsOf, table } from "../admin-client.js";

interface TopFlags {
  namespace?: string;
  interval: string;
  output?: string;
  once?: boolean;
  home?: string;
  server?: string;
}

/** Rates need two scrapes; a control plane that just started has one. */
const FIRST_RATES_DEADLINE_MS = 10_000;

export function register(program: Command): void {
  program
    .command("top")
    .description("live per-edge requests/s, bytes/s, errors and p99 of the mesh (q or Ctrl-C quits)")
    .option("-n, --namespace <ns>", "only edges from or to this namespace")
    .option("--interval <duration>", "refresh period, e.g. 1s, 500ms", "1s")
    .option("-o, --output <format>", "json prints the traffic report (with --once: one snapshot)")
    .option("--once", "print one snapshot and exit")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (flags: TopFlags) => {
      const { parseDuration } = await import("../../control/config.js");
      const seconds = parseDuration(flags.interval);
      if (seconds === undefined || seconds < 0.1) {
        process.stderr.write(
          `--interval ${JSON.stringify(flags.interval)} must be a duration of at least 100ms\n`,
        );
        process.exitCode = 2;
        return;
      }
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const fetchReport = async (): Promise<TrafficReport> =>
        filterNamespace(await client.get<TrafficReport>("/v1/traffic"), flags.namespace);
      if (flags.once === true || !process.stdout.isTTY) {
        let report = await fetchReport();
        const deadline = Date.now() + FIRST_RATES_DEADLINE_MS;
        while (report.intervalSeconds === 0 && Date.now() < deadline) {
          await sleep(500);
          report = await fetchReport();
        }
        process.stdout.write(flags.output === "json" ? `${JSON.stringify(report)}\n` : render(report));
        return;
      }
      await live(fetchReport, seconds * 1000, flags.output === "json");
    });
}

async function live(
  fetchReport: () => Promise<TrafficReport>,
  periodMs: number,
  json: boolean,
): Promise<void> {
  const out = process.stdout;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  const onKey = (b: Buffer): void => {
    // q, Q, Ctrl-C (raw mode delivers it as a byte, not a signal), Esc.
    if (b.includes(0x71) || b.includes(0x51) || b.includes(0x03) || (b.length === 1 && b[0] === 0x1b)) stop();
  };
  const stdin = process.stdin;
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onKey);
  }
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  out.write("\x1b[?25l");
  try {
    while (!stopped) {
      let text: string;
      try {
        const r = await fetchReport();
        text = json ? `${JSON.stringify(r)}\n` : render(r);
      } catch (e) {
        text = `cannot read the traffic report: ${(e as Error).message}\n`;
      }
      out.write(`\x1b[H\x1b[2J${text}\n(q to quit)`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, periodMs).unref();
      });
    }
  } finally {
    out.write("\x1b[?25h\n");
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    if (stdin.isTTY) {
      stdin.off("data", onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
  }
}

export function filterNamespace(r: TrafficReport, ns: string | undefined): TrafficReport {
  if (ns === undefined) return r;
  const inNs = new Set(r.nodes.filter((n) => n.namespace === ns).map((n) => n.id));
  const edges = r.edges.filter((e) => inNs.has(e.source) || inNs.has(e.destination));
  return {
    ...r,
    nodes: r.nodes.filter((n) => inNs.has(n.id)),
    edges,
    denials: r.denials.filter((d) => inNs.has(d.source) || inNs.has(d.destination)),
  };
}

/** `workload:ns/name` → `ns/name`; services get a `svc/` mark, as `kubectl get` names them. */
export function displayName(id: string): string {
  if (id.startsWith("service:")) return `svc/${id.slice("service:".length)}`;
  if (id.startsWith("workload:")) return id.slice("workload:".length);
  return id;
}

function render(r: TrafficReport): string {
  const rows = r.edges.map((e: TrafficEdge) => [
    displayName(e.source),
    displayName(e.destination),
    e.protocol,
    e.rps.toFixed(2),
    humanBytes(e.bytesPerSecond),
    `${(e.errorRate * 100).toFixed(1)}%`,
    e.p99Ms === null ? "-" : `${e.p99Ms.toFixed(1)}ms`,
    e.mtls === "mutual_tls" ? "mTLS" : e.mtls,
  ]);
  const when = new Date(r.at).toISOString().replace("T", " ").slice(0, 19);
  const head = `ambit top — ${when} UTC, rates over ${r.intervalSeconds.toFixed(1)} s, ${r.edges.length} edges\n\n`;
  const denials =
    r.denials.length === 0
      ? ""
      : `\nrecent denials:\n${r.denials
          .slice(0, 5)
          .map(
            (d) =>
              `  ${new Date(d.at).toISOString().slice(11, 19)} ${d.reason} ${displayName(d.source)} → ${displayName(d.destination)} ×${d.count} (by ${d.by})`,
          )
          .join("\n")}\n`;
  return (
    head +
    (rows.length === 0
      ? "no traffic yet\n"
      : table(["SOURCE", "DESTINATION", "PROTO", "RPS", "BYTES/S", "ERR", "P99", "MTLS"], rows)) +
    denials
  );
}

function humanBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)}Mi`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)}Ki`;
  return n.toFixed(0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
