/**
 * What a ztunnel keeps after a burst: a fresh bench cluster (src/bench), one iperf3 stream through
 * the ambient-l4 path, then idle. Prints both ztunnels' RSS and anonymous memory at start, right
 * after the stream and at intervals after it, with their own external-memory gauge (dead Buffers
 * wait for a full collection; free malloc pages stay resident until trimmed — docs/performance.md,
 * "Memory after a burst").
 * `--path l7` sends the stream through the waypoint too (client → ztunnel ⇒ waypoint ⇒ ztunnel →
 * server) and shows the waypoint beside the ztunnels.
 * Root only. Run: node dist/bench/burst-memory.js [--seconds 5] [--idle 5,20,40] [--path l4|l7]
 */
import { parseArgs } from "node:util";
import { IPERF_PORT, startBenchCluster } from "../src/bench/bench-cluster.js";
import { iperfThroughput } from "../src/bench/iperf.js";
import { memoryMiB } from "../src/bench/proc-stats.js";
import { httpGetInNetns } from "../src/local/netns-http.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    idle: { type: "string", default: "5,20,40" },
    path: { type: "string", default: "l4" },
  },
});
if (args.path !== "l4" && args.path !== "l7") throw new Error(`--path: expected l4 or l7, got ${args.path}`);
const SECONDS = Number(args.seconds);
const IDLE = args.idle.split(",").map(Number);
if (!(SECONDS > 0) || IDLE.some((s) => !(s > 0)))
  throw new Error(`--seconds and --idle take positive numbers, got ${args.seconds} and ${args.idle}`);

/** A proxy's `nodejs_external_memory_bytes` (its :15020 metrics), in MiB. */
async function externalMiB(netns: string, host: string): Promise<number> {
  const r = await httpGetInNetns(netns, { host, port: 15020, path: "/metrics" });
  return Number(/^nodejs_external_memory_bytes (\S+)/m.exec(r.body)?.[1]) / 2 ** 20;
}

const k = await startBenchCluster({ bodyBytes: 1024, progress: (l) => process.stderr.write(`${l}\n`) });
// Each proxy: pid, a netns and address where its metrics answer, and a name.
const proxies = k.ztunnelPids.map((pid, i) => ({
  name: `node-${i + 1}`,
  pid,
  netns: k.nodeNetns[i] as string,
  host: "127.0.0.1",
}));
if (args.path === "l7") {
  const wp = (await k.waitForPods("bench-l7", ["waypoint-0"]))[0];
  if (wp !== undefined) proxies.push({ name: "waypoint", pid: k.waypointPid, netns: wp.netns, host: wp.ip });
}
const show = async (when: string): Promise<void> => {
  const cells = await Promise.all(
    proxies.map(async (p) => {
      const m = memoryMiB(p.pid);
      const ext = await externalMiB(p.netns, p.host).catch(() => Number.NaN);
      return `${p.name} RSS ${m.rss.toFixed(1)} (anon ${m.anon.toFixed(1)}, external ${ext.toFixed(1)})`;
    }),
  );
  process.stdout.write(`${when.padEnd(22)} ${cells.join(" | ")}\n`);
};
try {
  await show("start");
  const server = args.path === "l7" ? k.server.l7 : k.server.l4;
  k.startIperfServer(server);
  await new Promise((r) => setTimeout(r, 1000));
  const r = await iperfThroughput({
    netns: (args.path === "l7" ? k.client.l7 : k.client.l4).netns,
    host: args.path === "l7" ? k.l7Vip : server.ip,
    port: IPERF_PORT,
    seconds: SECONDS,
  });
  await show(`after ${r.gbps.toFixed(2)} Gbit/s`);
  let waited = 0;
  for (const s of IDLE) {
    await new Promise((res) => setTimeout(res, (s - waited) * 1000));
    waited = s;
    await show(`+${s} s idle`);
  }
} finally {
  await k.down();
}
