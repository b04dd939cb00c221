/**
 * Where a new connection's time goes in the ztunnels: a fresh bench cluster (src/bench), new
 * connections client → server on the ambient-l4 path for `--seconds`, while both ztunnels are
 * CPU-profiled through their admin endpoint (`/debug/pprof/profile`). Prints the top self-time
 * functions per ztunnel and saves the `.cpuprofile`s (DevTools / speedscope) under
 * bench/results/profiles/.
 * `iperf`: one iperf3 stream (bulk data) instead of HTTP; `keepalive`: closed-loop requests on 8
 * keep-alive connections; `rate`: open-loop 1,000 req/s on 16 (the `ambit bench` latency phase).
 * `--attach 'cmd {pid}'` also runs a command per ztunnel for the phase, e.g. `strace -c -f -p {pid}`
 * or `perf stat -p {pid}`, and prints its output; `--no-profile` leaves the CPU profiler off.
 * Also prints each ztunnel's peak RSS and anonymous memory during the phase.
 * Root only. Run: node dist/bench/ztunnel-profile.js [--seconds 15]
 *   [--phase newconn|keepalive|rate|iperf] [--attach cmd] [--no-profile]
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { APP_PORT, IPERF_PORT, startBenchCluster } from "../src/bench/bench-cluster.js";
import { fixedRate, maxThroughput, newConnections } from "../src/bench/http-load.js";
import { iperfThroughput } from "../src/bench/iperf.js";
import { CpuMeter, RssSampler } from "../src/bench/proc-stats.js";
import { repoRoot } from "../src/local/cluster-config.js";
import { httpGetInNetns } from "../src/local/netns-http.js";
import { connectFrom } from "../src/platform/netns-sockets.js";
import { hotSpots } from "../src/telemetry/cpu-profile.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    phase: { type: "string", default: "newconn" },
    attach: { type: "string" },
    "no-profile": { type: "boolean", default: false },
  },
});
const PHASES = ["newconn", "keepalive", "rate", "iperf"];
if (!PHASES.includes(args.phase))
  throw new Error(`--phase: expected one of ${PHASES.join(", ")}, got ${args.phase}`);
const SECONDS = Number(args.seconds);

async function profileOf(netns: string, seconds: number): Promise<string> {
  const path = `/debug/pprof/profile?seconds=${seconds}`;
  const r = await httpGetInNetns(netns, { host: "127.0.0.1", port: 15000, path }, (seconds + 60) * 1000);
  if (r.status !== 200) throw new Error(`profile: ${r.status} ${r.body}`);
  return r.body;
}

/** Runs `--attach` against one ztunnel until the phase ends (SIGINT), resolving to its output. */
function attach(pid: number): Promise<string | undefined> {
  if (args.attach === undefined) return Promise.resolve(undefined);
  const argv = args.attach.replaceAll("{pid}", String(pid)).split(/\s+/);
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b;
  });
  child.stderr.on("data", (b: Buffer) => {
    out += b;
  });
  const timer = setTimeout(() => child.kill("SIGINT"), SECONDS * 1000);
  return new Promise((resolve) => {
    child.on("error", (e) => resolve(`${argv[0]}: ${e.message}\n`));
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const k = await startBenchCluster({ bodyBytes: 1024, progress: (l) => process.stderr.write(`${l}\n`) });
try {
  const target = {
    connect: () => connectFrom({ netns: k.client.l4.netns, host: k.server.l4.ip, port: APP_PORT }),
    host: "server",
  };
  await newConnections(target, 200); // warm: pool sessions, certificates, JIT
  if (args.phase === "iperf") k.startIperfServer(k.server.l4);
  const meters = k.ztunnelPids.map((pid) => new CpuMeter([pid]));
  const memory = new RssSampler(k.ztunnelPids);
  const profiles = args["no-profile"] ? [] : k.nodeNetns.map((ns) => profileOf(ns, SECONDS));
  const attached = k.ztunnelPids.map((pid) => attach(pid));
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  if (args.phase === "iperf") {
    const r = await iperfThroughput({
      netns: k.client.l4.netns,
      host: k.server.l4.ip,
      port: IPERF_PORT,
      seconds: SECONDS,
    });
    n = Math.round(r.gbps * 1000);
  }
  if (args.phase === "rate")
    n = (await fixedRate(target, { rate: 1000, seconds: SECONDS, connections: 16 })).requests;
  while (args.phase !== "iperf" && args.phase !== "rate" && Date.now() < end) {
    if (args.phase === "keepalive")
      n += (await maxThroughput(target, { seconds: 1, connections: 8 })).requests;
    else n += (await newConnections(target, 50)).requests;
  }
  const texts = await Promise.all(profiles);
  const attachedOut = await Promise.all(attached);
  // Real CPU time, as the kernel counts it: a profile's self time also holds the moments the thread
  // was preempted inside a syscall (a write that wakes the receiver), so it overstates native work.
  const cpu = meters.map((m) => Math.round(m.stop() * 1000)); // ms
  const peaks = memory.stop();
  const dir = join(repoRoot(), "bench", "results", "profiles");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, "-");
  process.stdout.write(
    args.phase === "iperf"
      ? `${n / 1000} Gbit/s in one stream for ${SECONDS} s\n`
      : `${n} ${args.phase === "newconn" ? "new connections" : "requests"} in ${SECONDS} s\n`,
  );
  if (args.phase !== "iperf" && n > 0) {
    process.stdout.write(
      `ztunnel CPU (user+system, /proc) per ${args.phase === "newconn" ? "new connection" : "request"}: ${cpu
        .map((ms, i) => `node-${i + 1} ${((ms * 1000) / n).toFixed(0)} µs`)
        .join(", ")} ${args["no-profile"] ? "" : " (profiler overhead included)"}\n`,
    );
  } else {
    process.stdout.write(
      `ztunnel CPU (user+system, /proc): ${cpu.map((ms, i) => `node-${i + 1} ${ms} ms`).join(", ")}\n`,
    );
  }
  process.stdout.write(
    `ztunnel peak memory in the phase: ${k.ztunnelPids
      .map((pid, i) => {
        const m = peaks.get(pid);
        return `node-${i + 1} RSS ${m?.rss.toFixed(1)} MiB (anon ${m?.anon.toFixed(1)})`;
      })
      .join(", ")}\n`,
  );
  attachedOut.forEach((out, i) => {
    if (out !== undefined) process.stdout.write(`\nztunnel node-${i + 1}: ${args.attach}\n${out}`);
  });
  texts.forEach((t, i) => {
    const file = join(dir, `ztunnel-node-${i + 1}-${args.phase}-${stamp}.cpuprofile`);
    writeFileSync(file, t);
    process.stdout.write(`\nztunnel node-${i + 1} (${file}):\n`);
    for (const h of hotSpots(t, 25))
      process.stdout.write(
        `${(h.share * 100).toFixed(1).padStart(5)}%  ${h.selfMs.toFixed(0).padStart(6)} ms  ${h.fn}  ${h.where}\n`,
      );
  });
} finally {
  await k.down();
}
