/**
 * `ambit bench`: every path measured side by side in one run on one fresh local cluster, so the
 * results are ratios on the same machine at the same moment. Per path, in this order: warm-up,
 * open-loop fixed-rate latency (with the proxies' CPU and peak RSS over that phase), closed-loop
 * max throughput, new-connection latency, iperf3 single-stream throughput, then iperf3 over several
 * parallel streams (with the cores each proxy kept busy meanwhile). With `rounds`, all of that again
 * for every path, interleaved, and the medians reported (one run on this kind of machine varies by
 * ±25 % in single-stream throughput and new-connection latency). With `pods`, the
 * scale comparison: N pods on 2 nodes, ambient (2 ztunnels) vs one sidecar proxy per pod.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CaptureMode } from "../local/cluster-config.js";
import { connectFrom } from "../platform/netns-sockets.js";
import { DEFAULT_RECLAIM_THRESHOLD_BYTES } from "../platform/reclaim-memory.js";
import {
  APP_PORT,
  type BenchCluster,
  IPERF_PORT,
  PATH_NAMESPACES,
  type PodRef,
  serverCommand,
  startBenchCluster,
} from "./bench-cluster.js";
import { fixedRate, type LoadTarget, maxThroughput, newConnections } from "./http-load.js";
import { interruptible } from "./interrupt.js";
import { iperfThroughput } from "./iperf.js";
import { cdf, median } from "./percentiles.js";
import { CpuMeter, MachineCpuMeter, RssSampler, rssMiB, waitForReclaim } from "./proc-stats.js";
import { type SidecarPair, startSidecarPair } from "./sidecar.js";

export const SCENARIOS = ["direct", "ambient-l4", "ambient-l7", "sidecar", "sidecar-stunnel"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchConfig {
  readonly scenarios: readonly ScenarioName[];
  /** Seconds of each load phase. */
  readonly seconds: number;
  /** Open-loop request rate (req/s). */
  readonly rate: number;
  /** Connections of the open-loop phase and of the closed-loop phase. */
  readonly connections: number;
  readonly newConnections: number;
  readonly iperfSeconds: number;
  /** Parallel TCP streams of the multi-stream iperf3 phase. */
  readonly iperfStreams: number;
  readonly bodyBytes: number;
  /** Pod counts of the ambient-vs-sidecar scale comparison (empty: skipped). */
  readonly pods: readonly number[];
  readonly scaleRate: number;
  /** Where the bench cluster captures pods' traffic (`ambit up --capture`). */
  readonly capture: CaptureMode;
  /**
   * Times every scenario is measured, interleaved (round 2 starts with the second scenario, and
   * so on); each figure reported is the median of its rounds. Optional in documents written before
   * it existed (one round).
   */
  readonly rounds?: number;
}

export interface ProxyUsage {
  readonly role: string;
  readonly pid: number;
  readonly rss_mb: number;
  /** Peak anonymous memory (heap, stacks, malloc): RSS without the shared program text. */
  readonly anon_mb: number;
  readonly cpu_s: number;
  /** Cores this proxy kept busy during the max-throughput phase (1.0 = one thread saturated). */
  readonly cores_at_max: number;
  /** Cores this proxy kept busy during the multi-stream iperf3 phase. */
  readonly cores_at_multi: number;
}

export interface ScenarioResult {
  readonly throughput_gbps: number;
  /** iperf3 over `iperfStreams` parallel connections: the receiver's summed rate. */
  readonly throughput_multi_gbps: number;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
  readonly newconn_p50_ms: number;
  readonly newconn_p99_ms: number;
  readonly cpu_s_per_1k_req: number;
  readonly proxy_rss_mb: number;
  readonly proxy_anon_mb: number;
  readonly rate: { readonly target: number; readonly achieved: number; readonly errors: number };
  readonly errors: { readonly fixed_rate: number; readonly max_rps: number; readonly newconn: number };
  readonly proxies: readonly ProxyUsage[];
  /** Cores the whole machine kept busy during the max-throughput phase (load generator included). */
  readonly machine_cores_at_max: number;
  /** Cores the whole machine kept busy during the multi-stream iperf3 phase (iperf3 included). */
  readonly machine_cores_at_multi: number;
  /** (latency ms, fraction) points of the fixed-rate phase. */
  readonly cdf: readonly (readonly [number, number])[];
  /** With more than one round: each round's own figures, in the order they were measured. */
  readonly rounds?: readonly RoundFigures[];
}

/** The figures of one round that vary most from run to run on a shared machine. */
const ROUND_FIELDS = [
  "throughput_gbps",
  "throughput_multi_gbps",
  "rps",
  "p50_ms",
  "p90_ms",
  "p99_ms",
  "newconn_p50_ms",
  "newconn_p99_ms",
  "cpu_s_per_1k_req",
] as const;
export type RoundFigures = Pick<ScenarioResult, (typeof ROUND_FIELDS)[number]>;

export interface ScaleResult {
  readonly pods: number;
  readonly rate: number;
  readonly ambient: {
    readonly proxies: number;
    readonly rss_mb: number;
    readonly anon_mb: number;
    readonly cpu_s: number;
    readonly errors: number;
  };
  readonly sidecar: {
    readonly proxies: number;
    readonly rss_mb: number;
    readonly anon_mb: number;
    readonly cpu_s: number;
    readonly errors: number;
  };
}

export interface BenchResults {
  readonly scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  readonly scale: readonly ScaleResult[];
}

interface PathSetup {
  readonly target: LoadTarget;
  readonly iperf: { readonly netns: string; readonly host: string; readonly port: number };
  readonly proxies: readonly { readonly role: string; readonly pid: number }[];
}

const SIDECAR_PORTS = {
  sidecar: {
    app: { local: 15001, tls: 15443, target: APP_PORT },
    iperf: { local: 15002, tls: 15444, target: IPERF_PORT },
  },
  "sidecar-stunnel": {
    app: { local: 15011, tls: 15453, target: APP_PORT },
    iperf: { local: 15012, tls: 15454, target: IPERF_PORT },
  },
} as const;

function targetFrom(pod: PodRef, host: string, port: number, hostHeader: string): LoadTarget {
  return { connect: () => connectFrom({ netns: pod.netns, host, port }), host: hostHeader };
}

async function runScenario(
  setup: PathSetup,
  c: BenchConfig,
  progress: (line: string) => void,
  name: string,
): Promise<ScenarioResult> {
  progress(`${name}: warm-up`);
  await maxThroughput(setup.target, { seconds: Math.min(2, c.seconds), connections: c.connections });
  const pids = setup.proxies.map((p) => p.pid);
  progress(`${name}: ${c.rate} req/s open loop for ${c.seconds} s`);
  const cpu = setup.proxies.map((p) => new CpuMeter([p.pid]));
  const rss = new RssSampler(pids);
  const fixed = await fixedRate(setup.target, {
    rate: c.rate,
    seconds: c.seconds,
    connections: c.connections,
  });
  const cpuUsed = cpu.map((m) => m.stop());
  const peaks = rss.stop();
  progress(`${name}: max throughput, ${c.connections} connections, ${c.seconds} s`);
  const maxCpu = setup.proxies.map((p) => new CpuMeter([p.pid]));
  const machine = new MachineCpuMeter();
  const maxStart = performance.now();
  const max = await maxThroughput(setup.target, { seconds: c.seconds, connections: c.connections });
  const maxSeconds = (performance.now() - maxStart) / 1000;
  const machineCores = machine.stop();
  const coresAtMax = maxCpu.map((m) => m.stop() / maxSeconds);
  progress(`${name}: ${c.newConnections} new connections`);
  const nc = await newConnections(setup.target, c.newConnections);
  progress(`${name}: iperf3 single stream, ${c.iperfSeconds} s`);
  const ip = await iperfThroughput({ ...setup.iperf, seconds: c.iperfSeconds });
  progress(`${name}: iperf3 ${c.iperfStreams} parallel streams, ${c.iperfSeconds} s`);
  const multiCpu = setup.proxies.map((p) => new CpuMeter([p.pid]));
  const multiMachine = new MachineCpuMeter();
  const multi = await iperfThroughput({ ...setup.iperf, seconds: c.iperfSeconds, streams: c.iperfStreams });
  // Over the run that answered: a refused attempt before it costs no CPU but would dilute the rate.
  const machineCoresMulti = multiMachine.stop(multi.seconds);
  const coresAtMulti = multiCpu.map((m) => m.stop() / multi.seconds);
  const proxies = setup.proxies.map((p, i) => ({
    role: p.role,
    pid: p.pid,
    rss_mb: round(peaks.get(p.pid)?.rss ?? rssMiB(p.pid)),
    anon_mb: round(peaks.get(p.pid)?.anon ?? 0),
    cpu_s: round(cpuUsed[i] ?? 0),
    cores_at_max: round(coresAtMax[i] ?? 0),
    cores_at_multi: round(coresAtMulti[i] ?? 0),
  }));
  const cpuTotal = cpuUsed.reduce((a, b) => a + b, 0);
  const r: ScenarioResult = {
    throughput_gbps: round(ip.gbps, 3),
    throughput_multi_gbps: round(multi.gbps, 3),
    rps: round(max.rps, 0),
    p50_ms: round(fixed.p50_ms, 3),
    p90_ms: round(fixed.p90_ms, 3),
    p99_ms: round(fixed.p99_ms, 3),
    newconn_p50_ms: round(nc.p50_ms, 3),
    newconn_p99_ms: round(nc.p99_ms, 3),
    cpu_s_per_1k_req: fixed.requests > 0 ? round((cpuTotal / fixed.requests) * 1000, 4) : 0,
    proxy_rss_mb: round(proxies.reduce((a, p) => a + p.rss_mb, 0)),
    proxy_anon_mb: round(proxies.reduce((a, p) => a + p.anon_mb, 0)),
    rate: { target: c.rate, achieved: round(fixed.rps, 1), errors: fixed.errors },
    errors: { fixed_rate: fixed.errors, max_rps: max.errors, newconn: nc.errors },
    proxies,
    machine_cores_at_max: round(machineCores),
    machine_cores_at_multi: round(machineCoresMulti),
    cdf: cdf(fixed.samples as number[], 50).map(([ms, q]) => [round(ms, 3), q] as const),
  };
  progress(
    `${name}: p50 ${r.p50_ms} ms p90 ${r.p90_ms} ms p99 ${r.p99_ms} ms at ${c.rate}/s; ${r.rps} req/s max; new conn p50 ${r.newconn_p50_ms} ms; ${r.throughput_gbps} Gbit/s (${r.throughput_multi_gbps} over ${c.iperfStreams} streams); ${r.cpu_s_per_1k_req} CPU s/1k req; proxies ${r.proxy_rss_mb} MiB RSS (${r.proxy_anon_mb} MiB anon)`,
  );
  return r;
}

/** Round `r`'s order: the scenarios rotated by `r`, so no path is always measured first or last. */
export function roundOrder<T>(scenarios: readonly T[], r: number): T[] {
  const k = scenarios.length === 0 ? 0 : r % scenarios.length;
  return [...scenarios.slice(k), ...scenarios.slice(0, k)];
}

/**
 * One scenario's rounds as one result: every figure the median of its rounds (a proxy's per role),
 * errors summed over all rounds, the latency CDF of the round whose p90 is closest to the median,
 * and each round's own figures under `rounds`. One round is returned as it is.
 */
export function combineRounds(rs: readonly ScenarioResult[]): ScenarioResult {
  const first = rs[0];
  if (first === undefined) throw new Error("combineRounds: no rounds");
  if (rs.length === 1) return first;
  const m = (pick: (r: ScenarioResult) => number, digits = 3): number => round(median(rs.map(pick)), digits);
  const sum = (pick: (r: ScenarioResult) => number): number => rs.reduce((a, r) => a + pick(r), 0);
  const p90 = median(rs.map((r) => r.p90_ms));
  const typical = rs.reduce((best, r) => (Math.abs(r.p90_ms - p90) < Math.abs(best.p90_ms - p90) ? r : best));
  const proxies = first.proxies.map((p, i) => {
    const of = (pick: (q: ProxyUsage) => number): number =>
      round(median(rs.map((r) => (r.proxies[i] === undefined ? 0 : pick(r.proxies[i] as ProxyUsage)))));
    return {
      role: p.role,
      pid: p.pid,
      rss_mb: of((q) => q.rss_mb),
      anon_mb: of((q) => q.anon_mb),
      cpu_s: of((q) => q.cpu_s),
      cores_at_max: of((q) => q.cores_at_max),
      cores_at_multi: of((q) => q.cores_at_multi),
    };
  });
  return {
    throughput_gbps: m((r) => r.throughput_gbps),
    throughput_multi_gbps: m((r) => r.throughput_multi_gbps),
    rps: m((r) => r.rps, 0),
    p50_ms: m((r) => r.p50_ms),
    p90_ms: m((r) => r.p90_ms),
    p99_ms: m((r) => r.p99_ms),
    newconn_p50_ms: m((r) => r.newconn_p50_ms),
    newconn_p99_ms: m((r) => r.newconn_p99_ms),
    cpu_s_per_1k_req: m((r) => r.cpu_s_per_1k_req, 4),
    proxy_rss_mb: m((r) => r.proxy_rss_mb, 2),
    proxy_anon_mb: m((r) => r.proxy_anon_mb, 2),
    rate: {
      target: first.rate.target,
      achieved: m((r) => r.rate.achieved, 1),
      errors: sum((r) => r.rate.errors),
    },
    errors: {
      fixed_rate: sum((r) => r.errors.fixed_rate),
      max_rps: sum((r) => r.errors.max_rps),
      newconn: sum((r) => r.errors.newconn),
    },
    proxies,
    machine_cores_at_max: m((r) => r.machine_cores_at_max, 2),
    machine_cores_at_multi: m((r) => r.machine_cores_at_multi, 2),
    cdf: typical.cdf,
    rounds: rs.map((r) => Object.fromEntries(ROUND_FIELDS.map((k) => [k, r[k]])) as RoundFigures),
  };
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Runs the benchmark on a fresh cluster and removes the cluster afterwards. When `signal` aborts
 * (the CLI's SIGINT/SIGTERM), the step in progress is abandoned, the cluster and every sidecar
 * proxy are removed, and the run rejects with BENCH_ERR_INTERRUPTED.
 */
export async function runBench(
  c: BenchConfig,
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<BenchResults> {
  // The set-up watches the signal itself, between its steps, and removes what it built.
  const cluster = await startBenchCluster({
    bodyBytes: c.bodyBytes,
    capture: c.capture,
    progress,
    ...(signal === undefined ? {} : { signal }),
  });
  const run = interruptible(signal);
  // Steps abandoned by an interruption keep running a little: they report nothing more.
  const say = (line: string): void => {
    if (signal?.aborted !== true) progress(line);
  };
  const dir = mkdtempSync(join(tmpdir(), "ambit-bench-sidecars-"));
  const pairs = new Set<SidecarPair>();
  try {
    for (const p of Object.keys(PATH_NAMESPACES) as (keyof typeof PATH_NAMESPACES)[])
      cluster.startIperfServer(cluster.server[p]);
    const ztunnelsAtStart = new Map(cluster.ztunnelPids.map((pid) => [pid, rssMiB(pid)]));
    const setups = new Map<ScenarioName, PathSetup>();
    for (const name of c.scenarios) setups.set(name, await run.step(pathSetup(name, cluster, dir, pairs)));
    const rounds = c.rounds ?? 1;
    const measured = new Map<ScenarioName, ScenarioResult[]>(c.scenarios.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (const name of roundOrder(c.scenarios, r)) {
        const label = rounds > 1 ? `${name} (round ${r + 1}/${rounds})` : name;
        const setup = setups.get(name) as PathSetup;
        measured.get(name)?.push(await run.step(runScenario(setup, c, say, label)));
      }
    }
    const scenarios: Partial<Record<ScenarioName, ScenarioResult>> = {};
    for (const name of c.scenarios) scenarios[name] = combineRounds(measured.get(name) ?? []);
    const scale: ScaleResult[] = [];
    if (c.pods.length > 0 && c.scenarios.some((s) => s.startsWith("ambient-"))) {
      // The scenarios' iperf3 bursts leave the ztunnels tens of MiB above where they started until
      // their reclaimer runs (every 10 s, once growth stops); the sidecars of the comparison start
      // fresh. The comparison is of N pods' steady state, so the ztunnels get to settle first.
      say("scale: waiting for the ztunnels to give back what the scenarios' bursts left (up to 40 s)");
      const w = await run.step(
        waitForReclaim(ztunnelsAtStart, {
          thresholdMiB: RECLAIM_THRESHOLD_MIB,
          dropMiB: RECLAIM_DROP_MIB,
          maxMs: 40_000,
        }),
      );
      say(
        `scale: ztunnels ${w.settled ? "settled" : "still above their start"} after ${w.waitedMs / 1000} s (${cluster.ztunnelPids.map((p) => `${Math.round(rssMiB(p))} MiB`).join(", ")})`,
      );
    }
    for (const n of c.pods) scale.push(await run.step(runScale(n, c, cluster, dir, pairs, say)));
    return { scenarios, scale };
  } finally {
    run.dispose();
    progress("removing the bench cluster");
    for (const p of pairs) await p.stop();
    await cluster.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pathSetup(
  name: ScenarioName,
  k: BenchCluster,
  dir: string,
  pairs: Set<SidecarPair>,
): Promise<PathSetup> {
  const ztunnels = [
    { role: "ztunnel node-1", pid: k.ztunnelPids[0] ?? 0 },
    { role: "ztunnel node-2", pid: k.ztunnelPids[1] ?? 0 },
  ];
  switch (name) {
    case "direct":
    case "ambient-l4": {
      const p = name === "direct" ? "direct" : "l4";
      const srv = k.server[p];
      return {
        target: targetFrom(k.client[p], srv.ip, APP_PORT, `server.${srv.namespace}`),
        iperf: { netns: k.client[p].netns, host: srv.ip, port: IPERF_PORT },
        proxies: name === "direct" ? [] : ztunnels,
      };
    }
    case "ambient-l7":
      return {
        target: targetFrom(k.client.l7, k.l7Vip, APP_PORT, `server.${PATH_NAMESPACES.l7}.svc.cluster.local`),
        iperf: { netns: k.client.l7.netns, host: k.l7Vip, port: IPERF_PORT },
        proxies: [...ztunnels, { role: "waypoint", pid: k.waypointPid }],
      };
    case "sidecar":
    case "sidecar-stunnel": {
      const ports = SIDECAR_PORTS[name];
      const kind = name === "sidecar" ? "haproxy" : "stunnel";
      const path = name === "sidecar" ? "sidecar" : "sidecarStunnel";
      const client = k.client[path];
      const server = k.server[path];
      const pairDir = mkdtempSync(join(dir, `${name}-`));
      // Captured like a sidecar mesh's: the app dials the server itself, as in every other scenario.
      const pair = await startSidecarPair({
        kind,
        clientNetns: client.netns,
        serverNetns: server.netns,
        serverIp: server.ip,
        ports: [ports.app, ports.iperf],
        dir: pairDir,
        capture: true,
      });
      pairs.add(pair);
      return {
        target: targetFrom(client, server.ip, APP_PORT, `server.${PATH_NAMESPACES[path]}`),
        iperf: { netns: client.netns, host: server.ip, port: IPERF_PORT },
        proxies: [
          { role: `${kind} client sidecar`, pid: pair.clientPid },
          { role: `${kind} server sidecar`, pid: pair.serverPid },
        ],
      };
    }
  }
}

/** The ztunnel's reclaimer acts above 16 MiB of growth (src/platform/reclaim-memory.ts). */
const RECLAIM_THRESHOLD_MIB = DEFAULT_RECLAIM_THRESHOLD_BYTES / (1024 * 1024);
/** A fall this large while waiting means a reclaim ran. */
const RECLAIM_DROP_MIB = 8;

/** Unmeasured load before each side of the scale comparison (both sides alike). */
const SCALE_WARM_UP_SECONDS = 3;

/**
 * N pods on 2 nodes (N/2 client-server pairs, each pair across the nodes), twice: enrolled in
 * ambient (the proxies are the 2 ztunnels) and plain with an HAProxy sidecar in every pod. The
 * same total open-loop rate is spread over the pairs; proxy memory is the sum of peak RSS, CPU the
 * sum over the load phase.
 */
async function runScale(
  n: number,
  c: BenchConfig,
  k: BenchCluster,
  dir: string,
  /** Every sidecar pair started is in here until it is stopped (an interrupted run stops the rest). */
  pairs: Set<SidecarPair>,
  progress: (line: string) => void,
): Promise<ScaleResult> {
  const pairsCount = Math.max(1, Math.floor(n / 2));
  const ambNs = `scale-amb-${n}`;
  const scNs = `scale-sc-${n}`;
  const docs: string[] = [
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ambNs}\n  labels:\n    istio.io/dataplane-mode: ambient\n`,
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${scNs}\n`,
  ];
  for (const ns of [ambNs, scNs]) {
    for (let i = 0; i < pairsCount; i++) {
      const cn = i % 2 === 0 ? "node-1" : "node-2";
      const sn = i % 2 === 0 ? "node-2" : "node-1";
      docs.push(scalePod(`client-${i}`, ns, cn, ["sleep", "infinity"]));
      docs.push(scalePod(`server-${i}`, ns, sn, serverCommand(c.bodyBytes)));
    }
  }
  progress(`scale ${n} pods: starting ${2 * 2 * pairsCount} pods`);
  await k.apply(docs.join("---\n"));
  const names = Array.from({ length: pairsCount }, (_, i) => [`client-${i}`, `server-${i}`]).flat();
  const amb = await k.waitForPods(ambNs, names);
  const sc = await k.waitForPods(scNs, names);
  await new Promise((r) => setTimeout(r, 2000)); // servers listening
  const byName = (pods: PodRef[]) => new Map(pods.map((p) => [p.name, p]));
  const ambPods = byName(amb);
  const scPods = byName(sc);
  const perPair = c.scaleRate / pairsCount;
  const load = async (
    targets: LoadTarget[],
    pids: number[],
  ): Promise<{ rss: number; anon: number; cpu: number; errors: number }> => {
    // The pairs' schedules are spread over one interval, so together they send a request every
    // 1/rate s; in step they sent all at once (25 requests every 125 ms at 50 pods), and bursts let
    // the two ztunnels serve many requests per wake-up where every sidecar is woken on its own.
    const pairLoad = (seconds: number) =>
      Promise.all(
        targets.map((t, i) =>
          fixedRate(t, { rate: perPair, seconds, connections: 1, offsetMs: (i * 1000) / c.scaleRate }),
        ),
      );
    // Steady state, as the scenarios measure it: the same load for a while first, unmeasured, so
    // neither side is charged for its first connections and handshakes, nor the ztunnels for
    // compiling their JavaScript.
    await pairLoad(SCALE_WARM_UP_SECONDS);
    const rss = new RssSampler(pids, 500);
    const cpu = new CpuMeter(pids);
    const rs = await pairLoad(c.seconds);
    const used = cpu.stop();
    const peaks = rss.stop();
    return {
      rss: [...peaks.values()].reduce((a, b) => a + b.rss, 0),
      anon: [...peaks.values()].reduce((a, b) => a + b.anon, 0),
      cpu: used,
      errors: rs.reduce((a, r) => a + r.errors, 0),
    };
  };
  progress(`scale ${n} pods: ambient, ${c.scaleRate} req/s over ${pairsCount} pairs`);
  const ambTargets = Array.from({ length: pairsCount }, (_, i) => {
    const cl = ambPods.get(`client-${i}`) as PodRef;
    const sv = ambPods.get(`server-${i}`) as PodRef;
    return targetFrom(cl, sv.ip, APP_PORT, "server");
  });
  const ambient = await load(ambTargets, [...k.ztunnelPids]);
  progress(`scale ${n} pods: starting ${2 * pairsCount} HAProxy sidecars`);
  const sidecars: SidecarPair[] = [];
  try {
    for (let i = 0; i < pairsCount; i++) {
      const cl = scPods.get(`client-${i}`) as PodRef;
      const sv = scPods.get(`server-${i}`) as PodRef;
      const pair = await startSidecarPair({
        kind: "haproxy",
        clientNetns: cl.netns,
        serverNetns: sv.netns,
        serverIp: sv.ip,
        ports: [{ local: 15001, tls: 15443, target: APP_PORT }],
        dir: mkdtempSync(join(dir, `scale-${n}-${i}-`)),
        capture: true,
      });
      sidecars.push(pair);
      pairs.add(pair);
    }
    progress(`scale ${n} pods: sidecars, ${c.scaleRate} req/s over ${pairsCount} pairs`);
    const scTargets = Array.from({ length: pairsCount }, (_, i) =>
      targetFrom(
        scPods.get(`client-${i}`) as PodRef,
        (scPods.get(`server-${i}`) as PodRef).ip,
        APP_PORT,
        "server",
      ),
    );
    const sidecar = await load(
      scTargets,
      sidecars.flatMap((s) => [s.clientPid, s.serverPid]),
    );
    const r: ScaleResult = {
      pods: 2 * pairsCount,
      rate: c.scaleRate,
      ambient: {
        proxies: k.ztunnelPids.length,
        rss_mb: round(ambient.rss),
        anon_mb: round(ambient.anon),
        cpu_s: round(ambient.cpu),
        errors: ambient.errors,
      },
      sidecar: {
        proxies: 2 * pairsCount,
        rss_mb: round(sidecar.rss),
        anon_mb: round(sidecar.anon),
        cpu_s: round(sidecar.cpu),
        errors: sidecar.errors,
      },
    };
    progress(
      `scale ${r.pods} pods: proxy memory ambient ${r.ambient.rss_mb} MiB RSS (${r.ambient.anon_mb} anon) vs sidecar ${r.sidecar.rss_mb} MiB (${r.sidecar.anon_mb} anon); CPU ${r.ambient.cpu_s} s vs ${r.sidecar.cpu_s} s`,
    );
    return r;
  } finally {
    for (const s of sidecars) {
      await s.stop();
      pairs.delete(s);
    }
    // The next pod count starts from the bench pods alone: ztunnel memory grows with the pods it serves.
    await k.remove(docs.join("---\n"));
  }
}

function scalePod(name: string, ns: string, node: string, command: readonly string[]): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  labels:\n    app: ${name.replace(/-\d+$/, "")}\nspec:\n  nodeName: ${node}\n  containers:\n    - name: c\n      command: ${JSON.stringify(command)}\n`;
}
