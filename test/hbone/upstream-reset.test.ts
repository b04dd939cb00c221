/**
 * A destination that resets while its client is still uploading (a server refusing a large upload
 * and closing, iperf3 -s ending a test): the HBONE stream is reset by the server side, and the
 * client side's splice must notice it even though the client socket is paused for backpressure
 * behind bytes that can never be delivered. Before the fix the client connection, its queued bytes
 * and the pool's stream stayed open forever (found in `ambit bench`: ztunnels held iperf3's
 * connections, and ~22 MiB of their buffers, long after each run).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type SpliceResult, splice } from "../../src/hbone/splice.js";
import { SERVER_ID, startHarness } from "./fixtures.js";

test("an upstream reset mid-upload closes the client's connection and releases the pooled stream", async (t) => {
  // The destination reads nothing, answers one line, and resets 300 ms later (unread bytes: RST).
  const target = net.createServer((s) => {
    s.on("error", () => {});
    s.pause();
    s.write("bye\n");
    setTimeout(() => s.destroy(), 300);
  });
  target.listen(0, "127.0.0.1");
  await once(target, "listening");
  t.after(() => target.close());
  const targetPort = (target.address() as net.AddressInfo).port;
  const h = await startHarness();
  t.after(() => h.close());

  // The source side as a ztunnel runs it: an accepted app connection spliced to a pooled stream.
  let settled: SpliceResult | undefined;
  const done = new Promise<SpliceResult>((resolve) => {
    const capture = net.createServer({ allowHalfOpen: true }, async (app) => {
      const stream = await h.pool.connect({
        source: h.clientCred,
        dstAddress: { host: "127.0.0.1", port: h.port },
        expectedIdentities: [SERVER_ID],
        authority: `127.0.0.1:${targetPort}`,
      });
      splice(app, stream, (r) => {
        settled = r;
        resolve(r);
      });
    });
    capture.listen(0, "127.0.0.1", () => {
      t.after(() => capture.close());
      // The app uploads far more than the windows and socket buffers on the path hold.
      const app = net.connect((capture.address() as net.AddressInfo).port, "127.0.0.1");
      app.on("error", () => {});
      app.on("data", () => {});
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      let written = 0;
      const pump = (): void => {
        while (written < 256 * 1024 * 1024 && !app.destroyed) {
          written += chunk.length;
          if (!app.write(chunk)) {
            app.once("drain", pump);
            return;
          }
        }
      };
      app.on("connect", pump);
    });
  });
  const outcome = await Promise.race([done, sleep(10_000).then(() => undefined)]);
  assert.ok(outcome !== undefined, "the client connection is settled after the upstream reset");
  assert.ok(settled !== undefined && settled.aToB > 0, "bytes went up before the reset");
  // The pooled stream is destroyed (released), not left with its queued bytes in the session.
  const deadline = Date.now() + 5_000;
  while (h.pool.stats.streamsActive !== 0 && Date.now() < deadline) await sleep(20);
  assert.equal(h.pool.stats.streamsActive, 0, "the pool released the reset stream");
});
