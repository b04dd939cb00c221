/**
 * Hostile input at the HBONE server: garbage instead of TLS, a silent client, oversized headers.
 * Each is refused with a coded reason and the server keeps serving honest clients.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { HboneErrorCode } from "../../src/hbone/errors.js";
import { type Harness, roundTrip, SERVER_ID, startHarness } from "./fixtures.js";

async function stillServes(h: Harness): Promise<void> {
  assert.equal((await roundTrip(await h.connect(), Buffer.from("ok"))).toString(), "ok");
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe("HBONE server under hostile input", () => {
  test("plaintext garbage instead of a TLS ClientHello → HANDSHAKE rejection, socket closed", async () => {
    const h = await startHarness();
    try {
      const s = net.connect({ host: "127.0.0.1", port: h.port });
      s.on("error", () => {});
      await once(s, "connect");
      s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      s.resume();
      // Not events.once: it would reject on the ECONNRESET the server's cut-off may cause.
      await new Promise((r) => s.once("close", r));
      await waitFor(() => h.rejections.length > 0);
      assert.equal(h.rejections[0]?.code, HboneErrorCode.HANDSHAKE);
      await stillServes(h);
    } finally {
      await h.close();
    }
  });

  test("a client that never finishes its handshake is cut off (TIMEOUT)", async () => {
    // Long enough that the good client of stillServes() finishes its own handshake on a loaded machine.
    const h = await startHarness({ server: { handshakeTimeoutMs: 2000 } });
    try {
      const s = net.connect({ host: "127.0.0.1", port: h.port });
      s.on("error", () => {});
      s.resume();
      // Not events.once: it would reject on the ECONNRESET the server's cut-off may cause.
      await new Promise((r) => s.once("close", r));
      await waitFor(() => h.rejections.length > 0);
      assert.equal(h.rejections[0]?.code, HboneErrorCode.TIMEOUT);
      await stillServes(h);
    } finally {
      await h.close();
    }
  });

  test("a CONNECT with a header block over the 64 KiB limit is refused; the session's other streams live on", async () => {
    const h = await startHarness();
    try {
      const ok = await h.connect();
      await assert.rejects(
        h.pool.connect({
          source: h.clientCred,
          dstAddress: { host: "127.0.0.1", port: h.port },
          expectedIdentities: [SERVER_ID],
          authority: `127.0.0.1:${h.echoPort}`,
          headers: { baggage: "x".repeat(70 * 1024) },
        }),
      );
      assert.equal(h.requests.length, 1, "the oversized request never reached authorize");
      assert.equal((await roundTrip(ok, Buffer.from("alive"))).toString(), "alive");
      await stillServes(h);
    } finally {
      await h.close();
    }
  });
});
