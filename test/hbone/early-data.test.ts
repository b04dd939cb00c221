/**
 * Early data on the pool's `open()`: bytes written right behind the CONNECT (before the 200)
 * reach the target once the server accepts, and never reach it when the server refuses.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import { dialUpstream, SERVER_ID, startHarness } from "./fixtures.js";

test("open(): bytes written before the 200 arrive after the upstream connects", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const h = await startHarness({
    authorize: async (r) => {
      await gate; // the 200 cannot be sent before the test has written its early bytes
      return { allow: true, connect: () => dialUpstream(r.target.host, r.target.port) };
    },
  });
  try {
    const { stream, established } = await h.pool.open({
      source: h.clientCred,
      dstAddress: { host: "127.0.0.1", port: h.port },
      expectedIdentities: [SERVER_ID],
      authority: `127.0.0.1:${h.echoPort}`,
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.write("early bytes;");
    release();
    await established;
    stream.end("late bytes");
    await once(stream, "end");
    assert.equal(Buffer.concat(chunks).toString(), "early bytes;late bytes");
  } finally {
    await h.close();
  }
});

test("open(): a refused CONNECT rejects `established` and its early bytes never reach the target", async () => {
  const received: Buffer[] = [];
  const target = net.createServer((s) => {
    s.on("data", (c: Buffer) => received.push(c));
    s.on("error", () => {});
  });
  target.listen(0, "127.0.0.1");
  await once(target, "listening");
  const targetPort = (target.address() as net.AddressInfo).port;
  const h = await startHarness({
    authorize: (r) =>
      r.target.port === targetPort
        ? { allow: false, status: 403, reason: "denied by test policy" }
        : { allow: true, connect: () => dialUpstream(r.target.host, r.target.port) },
  });
  try {
    const { stream, established } = await h.pool.open({
      source: h.clientCred,
      dstAddress: { host: "127.0.0.1", port: h.port },
      expectedIdentities: [SERVER_ID],
      authority: `127.0.0.1:${targetPort}`,
    });
    stream.on("error", () => {});
    stream.write("secret early bytes");
    await assert.rejects(established, (e: unknown) => isHboneError(e, HboneErrorCode.CONNECT_REFUSED));
    stream.destroy();
    // The session stays usable, and the refused stream's bytes went nowhere.
    const ok = await h.connect();
    ok.destroy();
    assert.deepEqual(received, []);
    assert.equal(h.server.stats.connectsRefused["403"], 1);
  } finally {
    await h.close();
    target.close();
  }
});
