/** Single-stream TCP throughput with iperf3 (Debian), the client run inside a pod's netns. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface IperfResult {
  readonly gbps: number;
  readonly retransmits: number;
}

/** iperf3 -c from `netns` to host:port for `seconds`; the receiver's rate. */
export async function iperfSingleStream(o: {
  netns: string;
  host: string;
  port: number;
  seconds: number;
}): Promise<IperfResult> {
  let last: unknown;
  // The server takes a moment to listen after start; iperf3 -s also serves one test at a time.
  for (let attempt = 0; attempt < 10; attempt++) {
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
      };
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`iperf3 to ${o.host}:${o.port} from ${o.netns} failed: ${(last as Error).message}`);
}
