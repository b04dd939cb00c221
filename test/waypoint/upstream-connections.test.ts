/**
 * The waypoint's upstream connections over real HTTP/2 CONNECT streams (an h2c CONNECT relay in
 * front of a real HTTP/1.1 server, all on loopback):
 * - a clean exchange ends its stream with END_STREAM, never RST_STREAM: 1,200 streams in a row on one
 *   session stay under nghttp2's rapid-reset limit (a burst of 1,000) that once cost the waypoint a
 *   GOAWAY INTERNAL_ERROR and every in-flight request of the session;
 * - an abandoned exchange does reset its stream;
 * - kept-alive connections are reused, and one the pod closed while idle is replaced without an error.
 */
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, test } from "node:test";
import type { UpstreamChoice } from "../../src/waypoint/upstream.js";
import { paired, UpstreamConnections } from "../../src/waypoint/upstream-connections.js";
import { exchange } from "../../src/waypoint/upstream-exchange.js";

const up = {
  service: { key: "default/api" },
  endpoint: {
    ip: "127.0.0.1",
    name: "api-0",
    namespace: "default",
    identity: "spiffe://t/ns/default/sa/api",
  },
  port: 80,
} as unknown as UpstreamChoice;

describe("waypoint upstream connections over HTTP/2 CONNECT", () => {
  let app: http.Server;
  let relay: http2.Http2Server;
  let client: http2.ClientHttp2Session;
  const rstCodes: number[] = [];
  let goaways = 0;
  let appConnections = 0;

  before(async () => {
    app = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end(`ok ${req.url}`));
    });
    app.on("connection", () => appConnections++);
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const appPort = (app.address() as net.AddressInfo).port;
    // Node's defaults, i.e. nghttp2's rapid-reset limit of a 1,000 burst then 33/s, stay in force.
    relay = http2.createServer();
    relay.on("stream", (stream) => {
      stream.on("error", () => {});
      stream.once("close", () => rstCodes.push(stream.rstCode ?? -1));
      const tcp = net.connect(appPort, "127.0.0.1", () => {
        stream.respond({ ":status": 200 });
        stream.pipe(tcp);
        tcp.pipe(stream);
      });
      tcp.on("error", () => stream.destroy());
      stream.once("close", () => tcp.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    client = http2.connect(`http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`);
    client.on("error", () => {});
    client.on("goaway", () => goaways++);
  });

  after(async () => {
    client?.destroy();
    await new Promise((r) => relay?.close(r));
    app?.closeAllConnections();
    await new Promise((r) => app?.close(r));
  });

  const connect = (): Promise<Duplex> =>
    new Promise((resolve, reject) => {
      const s = client.request({ ":method": "CONNECT", ":authority": "127.0.0.1:80" }, { endStream: false });
      s.once("response", () => resolve(s));
      s.once("error", reject);
    });

  const closeCodesFrom = async (from: number, n: number): Promise<number[]> => {
    const deadline = Date.now() + 10_000;
    while (rstCodes.length < from + n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return rstCodes.slice(from, from + n);
  };

  test("1,200 clean one-shot exchanges end their streams without RST; the session survives", async () => {
    const from = rstCodes.length;
    for (let i = 0; i < 1200; i++) {
      const socket = paired(await connect());
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          {
            path: `/one/${i}`,
            headers: { host: "api", connection: "close" },
            createConnection: () => socket,
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("end", () => resolve(Buffer.concat(parts).toString()));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(body, `ok /one/${i}`);
    }
    const codes = await closeCodesFrom(from, 1200);
    assert.equal(codes.length, 1200);
    assert.deepEqual(
      codes.filter((c) => c !== http2.constants.NGHTTP2_NO_ERROR),
      [],
      "every stream closed with NO_ERROR",
    );
    assert.equal(goaways, 0, "no GOAWAY from the relay");
    assert.equal(client.destroyed, false);
  });

  test("an abandoned exchange resets its stream (CANCEL)", async () => {
    const from = rstCodes.length;
    const socket = paired(await connect());
    socket.destroy(new Error("abandoned"));
    const [code] = await closeCodesFrom(from, 1);
    assert.equal(code, http2.constants.NGHTTP2_CANCEL);
  });

  test("kept-alive: 200 requests reuse one stream; a connection the pod closed while idle is replaced", async () => {
    let opened = 0;
    const conns = new UpstreamConnections({
      open: async () => {
        opened++;
        return connect();
      },
    });
    try {
      const get = async (path: string): Promise<string> => {
        const r = await exchange(conns, up, {
          method: "GET",
          path,
          authority: "api",
          headers: {},
          body: Buffer.alloc(0),
          protocol: "http1",
        }).response;
        const parts: Buffer[] = [];
        for await (const d of r.body) parts.push(d as Buffer);
        return `${r.status} ${Buffer.concat(parts).toString()}`;
      };
      const connsBefore = appConnections;
      for (let i = 0; i < 200; i++) assert.equal(await get(`/ka/${i}`), `200 ok /ka/${i}`);
      assert.equal(opened, 1, "one HBONE stream carried all 200 requests");
      assert.equal(appConnections - connsBefore, 1, "the pod accepted one connection");
      // The pod drops every idle connection (as its keep-alive timeout would).
      app.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await get("/after-close"), "200 ok /after-close");
      assert.equal(opened, 2, "a fresh stream replaced the closed one");
    } finally {
      conns.close();
    }
  });
});
