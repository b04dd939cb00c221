/**
 * HBONE client ↔ server over real loopback sockets: data integrity, half-close, the headers the
 * server sees, and the status codes of refused CONNECTs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import { buildBaggage, buildForwarded, parseBaggage, parseForwarded } from "../../src/hbone/headers.js";
import {
  CLIENT_ID,
  dialUpstream,
  type Harness,
  roundTrip,
  SERVER_ID,
  sha256,
  startHarness,
} from "./fixtures.js";

describe("HBONE tunnel", () => {
  let h: Harness;
  let refusedPort: number;
  before(async () => {
    // A port with nothing listening: bind, note, close.
    const probe = net.createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    refusedPort = (probe.address() as net.AddressInfo).port;
    probe.close();
    await once(probe, "close");
    h = await startHarness({
      authorize: (r) => {
        h.requests.push(r);
        if (r.target.port === 1) return { allow: false, status: 403, reason: "denied by test policy" };
        return { allow: true, connect: () => dialUpstream(r.target.host, r.target.port) };
      },
    });
  });
  after(async () => {
    await h.close();
  });

  test("1 MB each way arrives intact through an echo upstream", async () => {
    const payload = randomBytes(1024 * 1024);
    const stream = await h.connect();
    const echoed = await roundTrip(stream, payload);
    assert.equal(echoed.length, payload.length);
    assert.equal(sha256(echoed), sha256(payload));
  });

  test("the server reads the peer identity from the certificate and sees the request headers", async () => {
    const before = h.requests.length;
    const baggage = buildBaggage({
      cluster: "c1",
      namespace: "shop",
      workloadName: "frontend",
      serviceName: "frontend",
      serviceVersion: "v1",
    });
    const stream = await h.pool.connect({
      source: h.clientCred,
      dstAddress: { host: "127.0.0.1", port: h.port },
      expectedIdentities: [SERVER_ID],
      authority: `127.0.0.1:${h.echoPort}`,
      headers: { baggage, forwarded: buildForwarded("10.1.2.3") },
      connId: "0af7651916cd43dd8448eb211c80319c",
    });
    await roundTrip(stream, Buffer.from("hi"));
    const req = h.requests[before];
    assert.ok(req);
    assert.equal(req.peer.toString(), CLIENT_ID.toString());
    assert.equal(req.localIdentity.toString(), SERVER_ID.toString());
    assert.deepEqual(req.target, { host: "127.0.0.1", port: h.echoPort });
    assert.equal(parseBaggage(req.headers.baggage).workloadName, "frontend");
    assert.equal(parseForwarded(req.headers.forwarded), "10.1.2.3");
    assert.equal(req.connId, "0af7651916cd43dd8448eb211c80319c");
    assert.match(req.headers.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
  });

  test("half-close: the client ends its side first and still receives the server's reply", async () => {
    // An upstream that answers only after it saw the client's FIN.
    const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on("error", () => {});
      const got: Buffer[] = [];
      s.on("data", (c: Buffer) => got.push(c));
      s.on("end", () => {
        s.end(Buffer.concat([Buffer.from("seen:"), ...got]));
      });
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    try {
      const port = (upstream.address() as net.AddressInfo).port;
      const stream = await h.connect({ authority: `127.0.0.1:${port}` });
      const reply = await roundTrip(stream, Buffer.from("request"));
      assert.equal(reply.toString(), "seen:request");
    } finally {
      upstream.close();
    }
  });

  test("authorize deny → 403 as HBONE_ERR_CONNECT_REFUSED", async () => {
    await assert.rejects(h.connect({ authority: "127.0.0.1:1" }), (e: unknown) => {
      assert.ok(isHboneError(e, HboneErrorCode.CONNECT_REFUSED));
      assert.equal(e.status, 403);
      return true;
    });
  });

  test("upstream connection refused → 503", async () => {
    await assert.rejects(h.connect({ authority: `127.0.0.1:${refusedPort}` }), (e: unknown) => {
      assert.ok(isHboneError(e, HboneErrorCode.CONNECT_REFUSED));
      assert.equal(e.status, 503);
      return true;
    });
    const rec = h.records.find((r) => r.status === 503);
    assert.ok(rec?.reason?.includes("ECONNREFUSED"), rec?.reason);
  });

  test("malformed :authority → 400", async () => {
    for (const authority of [
      "no-port",
      "127.0.0.1:0",
      "127.0.0.1:99999",
      "[zz]:80",
      "-bad-.example:80",
      "host:80x",
    ]) {
      await assert.rejects(h.connect({ authority }), (e: unknown) => {
        assert.ok(isHboneError(e, HboneErrorCode.CONNECT_REFUSED), String(e));
        assert.equal(e.status, 400, authority);
        return true;
      });
    }
  });

  test("a non-CONNECT request → 400", async () => {
    // A hand-made mTLS HTTP/2 client: the pool only ever sends CONNECT.
    const socket = tls.connect({
      host: "127.0.0.1",
      port: h.port,
      key: h.clientCred.keyPem,
      cert: h.clientCred.certChainPem,
      ca: h.clientCred.rootsPem,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    const session = http2.connect(`https://127.0.0.1:${h.port}`, { createConnection: () => socket });
    session.on("error", () => {});
    try {
      const req = session.request({ ":method": "GET", ":path": "/" });
      req.on("error", () => {});
      const [headers] = (await once(req, "response")) as [http2.IncomingHttpHeaders];
      assert.equal(headers[":status"], 400);
      req.resume();
      await once(req, "close");
    } finally {
      session.close();
      await once(session, "close");
    }
  });

  test("every finished CONNECT produced exactly one record with byte counts", async () => {
    const before = h.records.length;
    const stream = await h.connect();
    await roundTrip(stream, Buffer.alloc(1000, 7));
    // The record is written when both directions are done on the server; wait for it.
    while (h.records.length === before) await new Promise((r) => setImmediate(r));
    const rec = h.records.at(-1);
    assert.equal(rec?.status, 200);
    assert.equal(rec?.bytesIn, 1000);
    assert.equal(rec?.bytesOut, 1000);
    assert.equal(h.records.length, before + 1);
  });
});
