/**
 * The floor under the ztunnel's per-connection and per-request targets: what a pair of proxies
 * costs in Node on this machine before any mesh logic, beside HAProxy's mTLS pair, in one run.
 *
 *   direct   client → target                                   (no proxy: the baseline)
 *   tcp      client → Node TCP relay ⇒ Node TCP relay → target  (plain TCP, `splice`: any Node proxy pair)
 *   tls      client → Node TLS relay ⇒ mTLS 1.3 ⇒ Node TLS relay → target  (a TLS connection per client
 *            connection, resumed: the sidecar model written in Node)
 *   h2       client → node:http2 CONNECT over one warm mTLS 1.3 session ⇒ node:http2 server → target
 *            (HBONE's protocol written directly against node:http2, no ambit code but `splice`)
 *   hbone    client → ambit HbonePool ⇒ ambit HboneServer → target (ambit's HBONE layer, no ztunnel)
 *   haproxy  client → HAProxy ⇒ mTLS ⇒ HAProxy → target         (the sidecar pair of `ambit bench`)
 *
 * Every process runs in one throwaway network namespace on loopback: no veth, no iptables, no
 * capture, so this is below what any path through the mesh can cost. Each proxy is its own process
 * (the Node ones with the ztunnel's V8 flags) and its CPU comes from /proc. Per path: new
 * connections one at a time (connect + request + first byte; a warm session for the HTTP/2 paths,
 * a TLS handshake per connection, resumed, for `tls` and HAProxy),
 * then the 1,000 req/s open loop of `ambit bench` over 16 keep-alive connections (with each proxy's
 * peak RSS and anonymous memory over it: the memory floor of a Node proxy), then `--idle`
 * connections held open after one request each (memory per idle connection: each proxy's growth in
 * anonymous memory, /proc). The target is `ambit demo-app http` with 1 KiB responses. Then the
 * path is started again towards an `iperf3 -s` for bulk throughput: one stream, then
 * `--iperf-streams`, `--iperf-seconds` each, with each proxy's busy cores meanwhile (`--iperf-seconds
 * 0` leaves it out). Paths are interleaved over `--rounds`; each figure is the median of its rounds.
 *
 * Run (root: network namespace): sudo node dist/bench/proxy-floor.js [--conns 600] [--seconds 8]
 *   [--idle 2000] [--rounds 3] [--iperf-seconds 5] [--iperf-streams 4]
 *   [--paths direct,tcp,tls,h2,hbone,haproxy]
 * Raw JSON: bench/results/proxy-floor-<date>.json.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { APP_PORT, serverCommand } from "../src/bench/bench-cluster.js";
import { fixedRate, type LoadTarget, newConnections } from "../src/bench/http-load.js";
import { iperfThroughput } from "../src/bench/iperf.js";
import { median } from "../src/bench/percentiles.js";
import { CpuMeter, MachineCpuMeter, memoryMiB, RssSampler } from "../src/bench/proc-stats.js";
import { gitCommit, machineInfo } from "../src/bench/report.js";
import {
  type SidecarPair,
  startInNetns,
  startSidecarPair,
  stopProcess,
  waitForListener,
} from "../src/bench/sidecar.js";
import { SpiffeId } from "../src/identity/spiffe.js";
import { createTestPki } from "../src/identity/testing.js";
import { ztunnelNodeArgs } from "../src/local/cluster-agent.js";
import { cliEntry, repoRoot } from "../src/local/cluster-config.js";
import { connectFrom } from "../src/platform/netns-sockets.js";
import type { PlainCredential } from "./hbone-peer.js";
import type { FloorPeer, FloorRole } from "./proxy-floor-peer.js";

const PATHS = ["direct", "tcp", "tls", "h2", "hbone", "haproxy"] as const;
type PathName = (typeof PATHS)[number];

const { values: args } = parseArgs({
  options: {
    conns: { type: "string", default: "600" },
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    idle: { type: "string", default: "2000" },
    rate: { type: "string", default: "1000" },
    paths: { type: "string", default: PATHS.join(",") },
    "iperf-seconds": { type: "string", default: "5" },
    "iperf-streams": { type: "string", default: "4" },
  },
});
const IPERF_SECONDS = Number(args["iperf-seconds"]);
const IPERF_STREAMS = Number(args["iperf-streams"]);
const CONNS = Number(args.conns);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const RATE = Number(args.rate);
const IDLE = Number(args.idle);
const paths = args.paths.split(",").map((p) => p.trim()) as PathName[];
for (const p of paths)
  if (!(PATHS as readonly string[]).includes(p))
    throw new Error(`--paths: "${p}" is not one of ${PATHS.join(", ")}`);
for (const [flag, v] of [
  ["--conns", CONNS],
  ["--seconds", SECONDS],
  ["--rounds", ROUNDS],
  ["--rate", RATE],
  ["--idle", IDLE],
  ["--iperf-streams", IPERF_STREAMS],
] as const)
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`${flag}: expected a positive whole number, got ${v}`);
if (!(Number.isInteger(IPERF_SECONDS) && IPERF_SECONDS >= 0))
  throw new Error(
    `--iperf-seconds: expected a whole number of seconds (0 leaves throughput out), got ${IPERF_SECONDS}`,
  );

const TARGET_PORT = APP_PORT;
const IPERF_PORT = 15201;
const HAPROXY = { local: 15131, tls: 15132 } as const;
const CONNECTIONS = 16;

interface Proxy {
  readonly role: string;
  readonly pid: number;
}

interface PathRun {
  readonly port: number;
  readonly proxies: readonly Proxy[];
  stop(): Promise<void>;
}

interface RoundResult {
  newconn: { p50_ms: number; p99_ms: number; errors: number; cpu_us_per_conn: Record<string, number> };
  rate: {
    p50_ms: number;
    p90_ms: number;
    p99_ms: number;
    requests: number;
    errors: number;
    cpu_us_per_req: Record<string, number>;
    /** Each proxy's peak RSS over the phase, and its peak anonymous (private) part, MiB. */
    rss_mib: Record<string, number>;
    anon_mib: Record<string, number>;
  };
  /** Growth of each proxy's anonymous memory per idle connection held, KiB. */
  idle: { connections: number; kib_per_conn: Record<string, number> };
  /** iperf3 through the path: Gbit/s and busy cores (each proxy, the pair, the machine). */
  bulk?: { single: BulkResult; multi: BulkResult } | undefined;
}

interface BulkResult {
  gbps: number;
  cores: Record<string, number>;
}

const netns = `ambit-floor-${randomBytes(3).toString("hex")}`;
const work = mkdtempSync(join(tmpdir(), "ambit-proxy-floor-"));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  try {
    execFileSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
  } catch {
    // already gone
  }
  rmSync(work, { recursive: true, force: true });
}

function inNetns(argv: string[], name: string, stdout: "ignore" | "pipe" = "ignore"): ChildProcess {
  const p = startInNetns(netns, argv, name, stdout);
  children.push(p);
  return p;
}

function target(port: number): LoadTarget {
  return { connect: () => connectFrom({ netns, host: "127.0.0.1", port }), host: "server" };
}

function waitForPort(port: number, what: string): Promise<void> {
  return waitForListener(netns, "127.0.0.1", port, what);
}

async function startPeer(peer: FloorPeer): Promise<{ port: number; process: ChildProcess }> {
  const file = join(work, `${peer.role}.json`);
  writeFileSync(file, JSON.stringify(peer), { mode: 0o600 });
  const p = inNetns(
    // The ztunnel's V8 flags (young-generation cap, GC on one thread; AMBIT_ZTUNNEL_NODE_ARGS applies).
    [
      process.execPath,
      ...ztunnelNodeArgs(),
      new URL("./proxy-floor-peer.js", import.meta.url).pathname,
      file,
    ],
    peer.role,
    "pipe",
  );
  const lines = createInterface({ input: p.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once("line", (l) => resolve((JSON.parse(l) as { port: number }).port));
    p.once("exit", (code) => reject(new Error(`${peer.role} exited with code ${code} before listening`)));
  });
  return { port, process: p };
}

async function startNodePair(
  kind: "tcp" | "tls" | "h2" | "hbone",
  creds: { client: PlainCredential; server: PlainCredential },
  targetPort: number,
): Promise<PathRun> {
  const base = { targetPort };
  const inSide = await startPeer({
    ...base,
    role: `${kind}-in` as FloorRole,
    nextPort: targetPort,
    credential: creds.server,
    peerIdentity: creds.client.identity,
  });
  const outSide = await startPeer({
    ...base,
    role: `${kind}-out` as FloorRole,
    nextPort: inSide.port,
    credential: creds.client,
    peerIdentity: creds.server.identity,
  });
  return {
    port: outSide.port,
    proxies: [
      { role: `${kind} out`, pid: outSide.process.pid ?? 0 },
      { role: `${kind} in`, pid: inSide.process.pid ?? 0 },
    ],
    async stop() {
      await stopProcess(outSide.process);
      await stopProcess(inSide.process);
    },
  };
}

async function startPath(
  name: PathName,
  creds: { client: PlainCredential; server: PlainCredential },
  targetPort: number,
): Promise<PathRun> {
  if (name === "direct") return { port: targetPort, proxies: [], stop: async () => {} };
  if (name === "haproxy") {
    const dir = join(work, "haproxy");
    mkdirSync(dir, { recursive: true });
    const pair: SidecarPair = await startSidecarPair({
      kind: "haproxy",
      clientNetns: netns,
      serverNetns: netns,
      serverIp: "127.0.0.1",
      ports: [{ local: HAPROXY.local, tls: HAPROXY.tls, target: targetPort }],
      dir,
    });
    return {
      port: HAPROXY.local,
      proxies: [
        { role: "haproxy out", pid: pair.clientPid },
        { role: "haproxy in", pid: pair.serverPid },
      ],
      stop: () => pair.stop(),
    };
  }
  return startNodePair(name, creds, targetPort);
}

/** iperf3 through a path started towards the iperf3 server: one stream, then several. */
async function bulk(run: PathRun): Promise<NonNullable<RoundResult["bulk"]>> {
  const once = async (streams: number): Promise<BulkResult> => {
    const meters = run.proxies.map((p) => ({ role: p.role, meter: new CpuMeter([p.pid]) }));
    const machine = new MachineCpuMeter();
    const r = await iperfThroughput({
      netns,
      host: "127.0.0.1",
      port: run.port,
      seconds: IPERF_SECONDS,
      streams,
    });
    const cores = perRole(meters, r.seconds, 1, 2);
    cores.machine = Math.round(machine.stop(r.seconds) * 100) / 100;
    return { gbps: Math.round(r.gbps * 1000) / 1000, cores };
  };
  return { single: await once(1), multi: await once(IPERF_STREAMS) };
}

/**
 * Each proxy's CPU seconds (and the pair's sum) divided by `per` and multiplied by `scale`,
 * rounded to `places` decimals; 0 when `per` is not positive.
 */
function perRole(
  meters: readonly { role: string; meter: CpuMeter }[],
  per: number,
  scale: number,
  places: number,
): Record<string, number> {
  const round = (v: number): number => Math.round(v * 10 ** places) / 10 ** places;
  const out: Record<string, number> = {};
  let total = 0;
  for (const { role, meter } of meters) {
    const v = per > 0 ? (meter.stop() / per) * scale : 0;
    out[role] = round(v);
    total += v;
  }
  out.pair = round(total);
  return out;
}

/** Each proxy's CPU µs per connection or request, and the pair's. */
function perUnit(
  meters: readonly { role: string; meter: CpuMeter }[],
  units: number,
): Record<string, number> {
  return perRole(meters, units, 1e6, 0);
}

async function measure(run: PathRun): Promise<RoundResult> {
  const t = target(run.port);
  // Warm-up: sessions open, code optimised.
  await fixedRate(t, { rate: 200, seconds: 1, connections: CONNECTIONS });
  await newConnections(t, 50);
  const meters = () => run.proxies.map((p) => ({ role: p.role, meter: new CpuMeter([p.pid]) }));
  const ncMeters = meters();
  const nc = await newConnections(t, CONNS);
  const ncCpu = perUnit(ncMeters, nc.requests);
  const rateMeters = meters();
  const memory = new RssSampler(run.proxies.map((p) => p.pid));
  const r = await fixedRate(t, { rate: RATE, seconds: SECONDS, connections: CONNECTIONS });
  const rateCpu = perUnit(rateMeters, r.requests);
  const peaks = memory.stop();
  const peak = (pick: (m: { rss: number; anon: number }) => number): Record<string, number> =>
    Object.fromEntries(
      run.proxies.map((p) => [p.role, Math.round(pick(peaks.get(p.pid) ?? { rss: 0, anon: 0 }) * 10) / 10]),
    );
  const idle = await idleMemory(t, run.proxies);
  return {
    newconn: { p50_ms: nc.p50_ms, p99_ms: nc.p99_ms, errors: nc.errors, cpu_us_per_conn: ncCpu },
    rate: {
      p50_ms: r.p50_ms,
      p90_ms: r.p90_ms,
      p99_ms: r.p99_ms,
      requests: r.requests,
      errors: r.errors,
      cpu_us_per_req: rateCpu,
      rss_mib: peak((m) => m.rss),
      anon_mib: peak((m) => m.anon),
    },
    idle,
  };
}

/**
 * Opens `IDLE` connections through the path, one request each (so every hop holds its state for
 * them), and compares each proxy's anonymous memory before and after, a second after the last.
 */
async function idleMemory(t: LoadTarget, proxies: readonly Proxy[]): Promise<RoundResult["idle"]> {
  const before = proxies.map((p) => memoryMiB(p.pid).anon);
  const held: Socket[] = [];
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${t.host}\r\n\r\n`);
  const openOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = t.connect();
      held.push(s);
      const timer = setTimeout(
        () => reject(new Error(`idle connection ${held.length}: no answer within 10 s`)),
        10_000,
      );
      s.once("connect", () => s.write(request));
      s.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  try {
    for (let i = 0; i < IDLE; i += 100)
      await Promise.all(Array.from({ length: Math.min(100, IDLE - i) }, openOne));
    await new Promise((r) => setTimeout(r, 1000));
    const kib: Record<string, number> = {};
    let total = 0;
    proxies.forEach((p, i) => {
      const v = ((memoryMiB(p.pid).anon - (before[i] ?? 0)) * 1024) / IDLE;
      kib[p.role] = Math.round(v * 10) / 10;
      total += v;
    });
    kib.pair = Math.round(total * 10) / 10;
    return { connections: IDLE, kib_per_conn: kib };
  } finally {
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Each figure's median over the rounds (figure by figure: rounds interleave the paths). */
function medians(rounds: readonly RoundResult[]): RoundResult {
  const of = (pick: (r: RoundResult) => number): number =>
    rounds.length === 0 ? 0 : median(rounds.map(pick));
  const record = (pick: (r: RoundResult) => Record<string, number>): Record<string, number> =>
    Object.fromEntries(
      Object.keys(rounds[0] === undefined ? {} : pick(rounds[0])).map((k) => [k, of((r) => pick(r)[k] ?? 0)]),
    );
  return {
    newconn: {
      p50_ms: of((r) => r.newconn.p50_ms),
      p99_ms: of((r) => r.newconn.p99_ms),
      errors: of((r) => r.newconn.errors),
      cpu_us_per_conn: record((r) => r.newconn.cpu_us_per_conn),
    },
    rate: {
      p50_ms: of((r) => r.rate.p50_ms),
      p90_ms: of((r) => r.rate.p90_ms),
      p99_ms: of((r) => r.rate.p99_ms),
      requests: of((r) => r.rate.requests),
      errors: of((r) => r.rate.errors),
      cpu_us_per_req: record((r) => r.rate.cpu_us_per_req),
      rss_mib: record((r) => r.rate.rss_mib),
      anon_mib: record((r) => r.rate.anon_mib),
    },
    idle: { connections: IDLE, kib_per_conn: record((r) => r.idle.kib_per_conn) },
    bulk: rounds.every((r) => r.bulk !== undefined)
      ? {
          single: {
            gbps: of((r) => r.bulk?.single.gbps ?? 0),
            cores: record((r) => r.bulk?.single.cores ?? {}),
          },
          multi: {
            gbps: of((r) => r.bulk?.multi.gbps ?? 0),
            cores: record((r) => r.bulk?.multi.cores ?? {}),
          },
        }
      : undefined,
  };
}

const f2 = (v: number): string => v.toFixed(2);

async function main(): Promise<void> {
  // A relay holds two sockets per idle connection; every process here inherits this limit.
  const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 0);
  if (limit > 0 && 2 * IDLE + 200 > limit)
    throw new Error(
      `--idle ${IDLE} needs ${2 * IDLE + 200} open files per process; this shell allows ${limit} (raise it with ulimit -n, or lower --idle)`,
    );
  if (process.getuid?.() !== 0)
    throw new Error("proxy-floor needs root (it creates a network namespace): run it with sudo");
  execFileSync("ip", ["netns", "add", netns]);
  execFileSync("ip", ["-n", netns, "link", "set", "lo", "up"]);
  const pki = createTestPki();
  const plain = (id: string): PlainCredential => {
    const c = pki.issue(SpiffeId.parse(id), { ttlSeconds: 86_400 });
    return {
      identity: c.identity.toString(),
      keyPem: c.keyPem,
      certChainPem: c.certChainPem,
      rootsPem: c.rootsPem,
      serial: String(c.serial),
    };
  };
  const creds = {
    client: plain("spiffe://cluster.local/ns/floor/sa/client"),
    server: plain("spiffe://cluster.local/ns/floor/sa/server"),
  };
  // The server of `ambit bench`'s paths, run with this checkout's CLI.
  const server = inNetns([process.execPath, cliEntry(repoRoot()), ...serverCommand(1024).slice(1)], "target");
  await waitForPort(TARGET_PORT, "the target (ambit demo-app http)");
  if (IPERF_SECONDS > 0) {
    inNetns(["iperf3", "-s", "-p", String(IPERF_PORT)], "iperf3 server");
    await waitForPort(IPERF_PORT, "iperf3 -s");
  }
  const results = new Map<PathName, RoundResult[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of paths) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${name}\n`);
      let r: RoundResult;
      const run = await startPath(name, creds, TARGET_PORT);
      try {
        await waitForPort(run.port, name);
        r = await measure(run);
      } finally {
        await run.stop();
      }
      if (IPERF_SECONDS > 0) {
        const bulkRun = await startPath(name, creds, IPERF_PORT);
        try {
          await waitForPort(bulkRun.port, `${name} towards iperf3`);
          r.bulk = await bulk(bulkRun);
        } finally {
          await bulkRun.stop();
        }
      }
      results.set(name, [...(results.get(name) ?? []), r]);
      process.stderr.write(
        `  new conn p50 ${f2(r.newconn.p50_ms)} ms, CPU/conn ${JSON.stringify(r.newconn.cpu_us_per_conn)} µs; ` +
          `${RATE}/s p50 ${f2(r.rate.p50_ms)} p90 ${f2(r.rate.p90_ms)} ms, CPU/req ${JSON.stringify(r.rate.cpu_us_per_req)} µs, peak RSS ${JSON.stringify(r.rate.rss_mib)} MiB; ` +
          `idle KiB/conn ${JSON.stringify(r.idle.kib_per_conn)}` +
          (r.bulk
            ? `; Gbit/s ${r.bulk.single.gbps} / ${r.bulk.multi.gbps}, cores ${JSON.stringify(r.bulk.single.cores)} / ${JSON.stringify(r.bulk.multi.cores)}`
            : "") +
          "\n",
      );
    }
  }
  await stopProcess(server);
  const machine = machineInfo();
  const commit = gitCommit(repoRoot());
  const date = new Date().toISOString();
  const direct = results.has("direct") ? medians(results.get("direct") ?? []) : undefined;
  const lines = [
    `${date.slice(0, 16).replace("T", " ")} UTC, commit ${commit}, ${machine.cpu}, ${machine.cores} cores, kernel ${machine.kernel}, Node ${machine.node}, load ${machine.load1}; ${CONNS} new connections, ${RATE} req/s for ${SECONDS} s over ${CONNECTIONS} connections, ${IDLE} idle connections; medians of ${ROUNDS} rounds`,
    "",
    "| path | new conn p50 / p99 ms | CPU µs per new conn, out + in | p50 / p90 / p99 ms at 1k req/s | added p90 ms | CPU µs per request, out + in | peak RSS MiB at 1k req/s, out / in (anonymous) | KiB per idle connection, out + in |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const name of paths) {
    const r = medians(results.get(name) ?? []);
    const nc = r.newconn.cpu_us_per_conn;
    const rq = r.rate.cpu_us_per_req;
    const perProxy = (m: Record<string, number>): string =>
      name === "direct"
        ? "—"
        : `${m.pair} (${Object.entries(m)
            .filter(([k]) => k !== "pair")
            .map(([, v]) => v)
            .join(" + ")})`;
    const memory =
      name === "direct"
        ? "—"
        : Object.keys(r.rate.rss_mib)
            .map((role) => `${r.rate.rss_mib[role]} (${r.rate.anon_mib[role]})`)
            .join(" / ");
    lines.push(
      `| ${name} | ${f2(r.newconn.p50_ms)} / ${f2(r.newconn.p99_ms)} | ${perProxy(nc)} | ${f2(r.rate.p50_ms)} / ${f2(r.rate.p90_ms)} / ${f2(r.rate.p99_ms)} | ${direct && name !== "direct" ? f2(r.rate.p90_ms - direct.rate.p90_ms) : "—"} | ${perProxy(rq)} | ${memory} | ${perProxy(r.idle.kib_per_conn)} |`,
    );
  }
  if (IPERF_SECONDS > 0) {
    lines.push(
      "",
      `iperf3 through each path, ${IPERF_SECONDS} s, 1 stream and ${IPERF_STREAMS}; busy cores of each proxy and of the machine (2 = both cores):`,
      "",
      `| path | Gbit/s, 1 / ${IPERF_STREAMS} streams | proxy cores, 1 stream: out + in | pair cores per Gbit/s, 1 stream | proxy cores, ${IPERF_STREAMS} streams: out + in | machine cores, 1 / ${IPERF_STREAMS} streams |`,
      "|---|---|---|---|---|---|",
    );
    for (const name of paths) {
      const b = medians(results.get(name) ?? []).bulk;
      if (b === undefined) continue;
      const proxies = (c: Record<string, number>): string =>
        name === "direct"
          ? "—"
          : `${f2(c.pair ?? 0)} (${Object.entries(c)
              .filter(([k]) => k !== "pair" && k !== "machine")
              .map(([, v]) => f2(v))
              .join(" + ")})`;
      const perGbit =
        name === "direct" || b.single.gbps === 0 ? "—" : f2((b.single.cores.pair ?? 0) / b.single.gbps);
      lines.push(
        `| ${name} | ${f2(b.single.gbps)} / ${f2(b.multi.gbps)} | ${proxies(b.single.cores)} | ${perGbit} | ${proxies(b.multi.cores)} | ${f2(b.single.cores.machine ?? 0)} / ${f2(b.multi.cores.machine ?? 0)} |`,
      );
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  const dir = join(repoRoot(), "bench", "results");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `proxy-floor-${date.replace(/:/g, "-").slice(0, 19)}.json`);
  writeFileSync(
    out,
    `${JSON.stringify({ machine, commit, date, settings: { conns: CONNS, seconds: SECONDS, rounds: ROUNDS, rate: RATE, connections: CONNECTIONS, idle: IDLE, iperf_seconds: IPERF_SECONDS, iperf_streams: IPERF_STREAMS }, paths: Object.fromEntries(results) }, null, 2)}\n`,
  );
  process.stderr.write(`raw results: ${out}\n`);
}

process.once("SIGINT", () => {
  cleanup();
  process.exit(130);
});
main()
  .then(() => cleanup())
  .catch((e: unknown) => {
    process.stderr.write(`proxy-floor: ${(e as Error).message}\n`);
    cleanup();
    process.exitCode = 1;
  });
