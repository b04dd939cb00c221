/**
 * Where a new connection's time goes in the ztunnels: a fresh bench cluster (src/bench), new
 * connections client → server on the ambient-l4 path for `--seconds`, while both ztunnels are
 * CPU-profiled through their admin endpoint (`/debug/pprof/profile`). Prints the top self-time
 * functions per ztunnel and saves the `.cpuprofile`s (DevTools / speedscope) under
 * bench/results/profiles/.
 * `iperf`: one iperf3 stream (bulk data) instead of HTTP.
 * Root only. Run: node dist/bench/ztunnel-profile.js [--seconds 15] [--phase newconn|keepalive|iperf]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { APP_PORT, IPERF_PORT, startBenchCluster } from "../src/bench/bench-cluster.js";
import { maxThroughput, newConnections } from "../src/bench/http-load.js";
import { iperfSingleStream } from "../src/bench/iperf.js";
import { CpuMeter } from "../src/bench/proc-stats.js";
import { repoRoot } from "../src/local/cluster-config.js";
import { connectFrom } from "../src/platform/netns-sockets.js";
import { hotSpots } from "../src/telemetry/cpu-profile.js";

const { values: args } = parseArgs({
  options: { seconds: { type: "string", default: "15" }, phase: { type: "string", default: "newconn" } },
});
const SECONDS = Number(args.seconds);

function profileOf(netns: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: 15000,
        path: `/debug/pprof/profile?seconds=${seconds}`,
        createConnection: () => connectFrom({ netns, host: "127.0.0.1", port: 15000 }) as never,
        timeout: (seconds + 60) * 1000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (b: Buffer) => parts.push(b));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(parts).toString())
            : reject(new Error(`profile: ${res.statusCode} ${Buffer.concat(parts)}`)),
        );
      },
    );
    req.on("error", reject);
    req.end();
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
  const profiles = k.nodeNetns.map((ns) => profileOf(ns, SECONDS));
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  if (args.phase === "iperf") {
    const r = await iperfSingleStream({
      netns: k.client.l4.netns,
      host: k.server.l4.ip,
      port: IPERF_PORT,
      seconds: SECONDS,
    });
    n = Math.round(r.gbps * 1000);
  }
  while (args.phase !== "iperf" && Date.now() < end) {
    if (args.phase === "keepalive")
      n += (await maxThroughput(target, { seconds: 1, connections: 8 })).requests;
    else n += (await newConnections(target, 50)).requests;
  }
  const texts = await Promise.all(profiles);
  // Real CPU time, as the kernel counts it: a profile's self time also holds the moments the thread
  // was preempted inside a syscall (a write that wakes the receiver), so it overstates native work.
  const cpu = meters.map((m) => Math.round(m.stop() * 1000)); // ms
  const dir = join(repoRoot(), "bench", "results", "profiles");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, "-");
  process.stdout.write(
    args.phase === "iperf"
      ? `${n / 1000} Gbit/s in one stream for ${SECONDS} s\n`
      : `${n} ${args.phase === "keepalive" ? "requests" : "new connections"} in ${SECONDS} s\n`,
  );
  if (args.phase !== "iperf" && n > 0) {
    process.stdout.write(
      `ztunnel CPU (user+system, /proc) per ${args.phase === "keepalive" ? "request" : "new connection"}: ${cpu
        .map((ms, i) => `node-${i + 1} ${((ms * 1000) / n).toFixed(0)} µs`)
        .join(", ")} (profiler overhead included)\n`,
    );
  } else {
    process.stdout.write(
      `ztunnel CPU (user+system, /proc): ${cpu.map((ms, i) => `node-${i + 1} ${ms} ms`).join(", ")}\n`,
    );
  }
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
