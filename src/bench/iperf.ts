/** TCP throughput with iperf3 (Debian), the client run inside a pod's netns: one stream or several. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface IperfResult {
  readonly gbps: number;
  readonly retransmits: number;
  /** Wall time of the run that answered (earlier attempts refused at once and cost nothing). */
  readonly seconds: number;
}

/**
 * iperf3 -c from `netns` to host:port for `seconds` over `streams` parallel TCP connections
 * (`-P`, default 1); the receiver's rate summed over the streams.
 */
export async function iperfThroughput(o: {
  netns: string;
  host: string;
  port: number;
  seconds: number;
  streams?: number;
}): Promise<IperfResult> {
  const streams = o.streams ?? 1;
  let last: unknown;
  // The server takes a moment to listen after start; iperf3 -s also serves one test at a time.
  for (let attempt = 0; attempt < 10; attempt++) {
    const started = performance.now();
    try {
      const { stdout } = await execFileP(
        "ip",
        [
          "netns",
          "exec",
          o.netns,
          "iperf3",
          "-c",
          o.host,
          "-p",
          String(o.port),
          "-t",
          String(o.seconds),
          "-P",
          String(streams),
          "-J",
        ],
        { timeout: (o.seconds + 30) * 1000, maxBuffer: 16 << 20 },
      );
      const doc = JSON.parse(stdout) as {
        error?: string;
        end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
      };
      if (doc.error !== undefined) throw new Error(`iperf3: ${doc.error}`);
      return {
        gbps: (doc.end?.sum_received?.bits_per_second ?? 0) / 1e9,
        retransmits: doc.end?.sum_sent?.retransmits ?? 0,
        seconds: (performance.now() - started) / 1000,
      };
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`iperf3 to ${o.host}:${o.port} from ${o.netns} failed: ${(last as Error).message}`);
}
