/**
 * Load and process measurement shared by the local-cluster benchmarks (bench/mesh.ts,
 * bench/waypoint.ts): keep-alive HTTP/1.1 from inside a pod's netns (the addon's connectFrom, so
 * the load generator is this process and measures the data path, not process start-up), latency
 * percentiles, and a process's RSS / CPU time from /proc.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connectFrom } from "../src/platform/netns-sockets.js";

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function rssMiB(pid: number | null): number {
  if (pid === null) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
export function cpuSeconds(pid: number | null): number {
  if (pid === null) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface KeepAliveResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

export async function keepAlive(
  netns: string,
  host: string,
  o: { seconds: number; concurrency: number; port?: number; hostHeader?: string },
): Promise<KeepAliveResult> {
  const port = o.port ?? 8080;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  // Every socket of this agent starts inside the client pod's netns.
  (agent as unknown as { createConnection: () => unknown }).createConnection = () =>
    connectFrom({ netns, host, port });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + o.seconds * 1000;
  const headers = o.hostHeader !== undefined ? { host: o.hostHeader } : {};
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = request({ host, port, path: "/", agent, headers }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) lat.push(performance.now() - t0);
          else errors += 1;
          resolve();
        });
      });
      req.on("error", () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), errors, requests: lat.length };
}
