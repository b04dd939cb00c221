/**
 * Backpressure end to end: an upstream that writes 200 MB as fast as the network accepts, a client
 * that reads slowly. If any hop buffered without limit, the upstream would finish writing while
 * the client had read almost nothing. The invariant checked at every sample: bytes produced minus
 * bytes consumed stays below the sum of the windows and socket buffers on the path.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { SERVER_ID, startHarness } from "./fixtures.js";

const TOTAL = 200 * 1024 * 1024;
/**
 * 8 MiB stream window + 16 MiB session window + four loopback socket buffers (≤ 6 MiB each with
 * autotuning) + stream high-water marks ≈ 50 MiB. 96 MiB leaves room for kernel variance and is
 * still far below the 200 MiB an unbounded path would reach.
 */
const BOUND = 96 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("HBONE backpressure", () => {
  test("a slow reader bounds what the upstream can write (200 MB source)", async () => {
    let produced = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    const source = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on("error", () => {});
      const pump = (): void => {
        while (produced < TOTAL) {
          produced += chunk.length;
          if (!s.write(chunk)) {
            s.once("drain", pump);
            return;
          }
        }
        s.end();
      };
      pump();
    });
    source.listen(0, "127.0.0.1");
    await once(source, "listening");
    const sourcePort = (source.address() as net.AddressInfo).port;
    const h = await startHarness();
    try {
      const stream = await h.pool.connect({
        source: h.clientCred,
        dstAddress: { host: "127.0.0.1", port: h.port },
        expectedIdentities: [SERVER_ID],
        authority: `127.0.0.1:${sourcePort}`,
      });
      stream.end();
      let consumed = 0;
      let maxInFlight = 0;
      const sample = (): void => {
        maxInFlight = Math.max(maxInFlight, produced - consumed);
      };
      // Phase 1: read nothing until the producer has stalled (no progress for 200 ms).
      let last = -1;
      let still = 0;
      while (still < 10) {
        await sleep(20);
        sample();
        still = produced === last ? still + 1 : 0;
        last = produced;
      }
      assert.ok(produced < BOUND, `producer wrote ${produced} bytes into a reader that read nothing`);
      // Phase 2: trickle — 1 MiB at a time, sampling the invariant as we go.
      for (let i = 0; i < 8; i++) {
        let want = 1024 * 1024;
        while (want > 0) {
          const c = stream.read() as Buffer | null;
          if (c === null) {
            await once(stream, "readable");
            continue;
          }
          consumed += c.length;
          want -= c.length;
        }
        await sleep(5);
        sample();
      }
      // Phase 3: drain at full speed.
      stream.on("data", (c: Buffer) => {
        consumed += c.length;
        sample();
      });
      stream.resume();
      await once(stream, "end");
      assert.equal(consumed, TOTAL);
      assert.ok(maxInFlight < BOUND, `in flight peaked at ${maxInFlight} bytes`);
    } finally {
      await h.close();
      source.close();
    }
  });
});
