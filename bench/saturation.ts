/**
 * Is the ztunnel pair the bottleneck at maximum keep-alive throughput? A fresh bench cluster
 * (src/bench); for each concurrency, max throughput on the ambient-l4 path and then direct, while
 * the whole machine's busy cores (/proc/stat), each ztunnel's cores and the load generator's are
 * sampled. A ztunnel near 1.0 core is saturated (one JS thread); well below it, more ztunnel
 * threads would not raise the rate on this machine.
 * Root only. Run: node dist/bench/saturation.js [--seconds 8] [--connections 16,64]
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { APP_PORT, startBenchCluster } from "../src/bench/bench-cluster.js";
import { maxThroughput, newConnections } from "../src/bench/http-load.js";
import { CpuMeter, MachineCpuMeter } from "../src/bench/proc-stats.js";
import { connectFrom } from "../src/platform/netns-sockets.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    connections: { type: "string", default: "16,64" },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = (args.connections ?? "16").split(",").map(Number);

const cores = cpus().length;
const k = await startBenchCluster({ bodyBytes: 1024, progress: (l) => process.stderr.write(`${l}\n`) });
try {
  process.stdout.write(
    `| connections | path | req/s | machine cores busy (of ${cores}) | ztunnel node-1 / node-2 cores | load generator cores |\n|---|---|---|---|---|---|\n`,
  );
  for (const connections of CONNECTIONS) {
    for (const path of ["l4", "direct"] as const) {
      const target = {
        connect: () => connectFrom({ netns: k.client[path].netns, host: k.server[path].ip, port: APP_PORT }),
        host: "server",
      };
      await newConnections(target, 100); // warm: pool sessions, certificates, JIT
      const zt = k.ztunnelPids.map((pid) => new CpuMeter([pid]));
      const machine = new MachineCpuMeter();
      const self0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await maxThroughput(target, { seconds: SECONDS, connections });
      const secs = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const busy = machine.stop();
      const ztCores = zt.map((m) => m.stop() / secs);
      process.stdout.write(
        `| ${connections} | ${path === "l4" ? "ambient-l4" : "direct"} | ${(r.requests / secs).toFixed(0)} | ${busy.toFixed(2)} | ${ztCores.map((c) => c.toFixed(2)).join(" / ")} | ${((self.user + self.system) / 1e6 / secs).toFixed(2)} |\n`,
      );
    }
  }
} finally {
  await k.down();
}
