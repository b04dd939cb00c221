import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  fixedRate,
  type LoadTarget,
  maxThroughput,
  newConnections,
  pathAnswers,
  responseEnd,
} from "./http-load.js";

describe("responseEnd", () => {
  test("finds the end of Content-Length and chunked bodies, waits for incomplete ones", () => {
    const cl = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    assert.equal(responseEnd(cl), cl.length);
    assert.equal(responseEnd(cl.subarray(0, cl.length - 1)), -1);
    assert.equal(responseEnd(Buffer.from("HTTP/1.1 200 OK\r\nContent-Le")), -1);
    const chunked = Buffer.from(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert.equal(responseEnd(chunked), chunked.length);
    assert.equal(responseEnd(Buffer.from("HTTP/1.1 204 No Content\r\n\r\n")), 27);
    assert.throws(() => responseEnd(Buffer.from("HTTP/1.1 200 OK\r\n\r\nbody")), /without Content-Length/);
  });
});

describe("load generators against a real HTTP server", () => {
  let server: Server;
  let port = 0;
  let stallNext = 0;
  let served = 0;
  const arrivals: number[] = [];
  before(async () => {
    server = createServer((req, res) => {
      served += 1;
      arrivals.push(performance.now());
      const reply = (): void => {
        res.writeHead(200, { "content-length": 2 });
        res.end("ok");
      };
      req.resume();
      if (stallNext > 0) {
        const ms = stallNext;
        stallNext = 0;
        setTimeout(reply, ms);
      } else reply();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const target = (): LoadTarget => ({ connect: () => connect({ host: "127.0.0.1", port }), host: "bench" });

  test("fixedRate sends exactly rate × seconds requests and the server sees each", async () => {
    served = 0;
    const r = await fixedRate(target(), { rate: 200, seconds: 0.5, connections: 2 });
    assert.equal(r.requests + r.errors, 100);
    assert.equal(r.errors, 0);
    assert.equal(served, 100);
    assert.ok(r.p50_ms <= r.p90_ms && r.p90_ms <= r.p99_ms);
  });

  test("fixedRate counts a stall against every request that was due during it (no coordinated omission)", async () => {
    stallNext = 400;
    // One connection: while the first request stalls, the ~40 due after it wait in the queue.
    const r = await fixedRate(target(), { rate: 100, seconds: 1, connections: 1 });
    assert.equal(r.errors, 0);
    const delayed = r.samples.filter((ms) => ms >= 100).length;
    // Requests due in the first 300 ms of the stall finish ≥ 100 ms after their due time.
    assert.ok(delayed >= 25, `only ${delayed} of ${r.requests} latencies include the stall`);
  });

  test("fixedRate's offset shifts its schedule: two loads in step interleave instead of sending together", async () => {
    arrivals.length = 0;
    // Two loads of 10 req/s for 0.5 s, the second 50 ms behind: one request every ~50 ms in all.
    await Promise.all([
      fixedRate(target(), { rate: 10, seconds: 0.5, connections: 1 }),
      fixedRate(target(), { rate: 10, seconds: 0.5, connections: 1, offsetMs: 50 }),
    ]);
    assert.equal(arrivals.length, 10);
    const sorted = [...arrivals].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    // In step (no offset) half the gaps are ~0 ms; spread, none is under 20 ms.
    assert.ok(
      gaps.every((g) => g >= 20),
      `gaps between arrivals (ms): ${gaps.map((g) => g.toFixed(1)).join(", ")}`,
    );
  });

  test("maxThroughput keeps every connection busy; newConnections opens one per request", async () => {
    const m = await maxThroughput(target(), { seconds: 0.3, connections: 4 });
    assert.ok(m.requests > 0 && m.errors === 0);
    const before = served;
    const n = await newConnections(target(), 10);
    assert.equal(n.requests, 10);
    assert.equal(served - before, 10);
  });

  test("a refused port shows as errors, not as latencies", async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const n = await newConnections(
      { connect: () => connect({ host: "127.0.0.1", port: deadPort }), host: "x" },
      3,
    );
    assert.equal(n.requests, 0);
    assert.equal(n.errors, 3);
  });

  test("pathAnswers: true for a 2xx; false for an error status, a silent close, a stall or a refused port", async () => {
    assert.equal(await pathAnswers(target()), true);
    const odd = createServer((req, res) => {
      req.resume();
      if (req.url === "/503") {
        res.writeHead(503, { "content-length": 0 });
        res.end();
      } else if (req.url === "/close") req.socket.destroy();
      // "/stall": never answers
    });
    await new Promise<void>((r) => odd.listen(0, "127.0.0.1", r));
    const oddPort = (odd.address() as AddressInfo).port;
    const at = (path: string): LoadTarget => ({
      connect: () => connect({ host: "127.0.0.1", port: oddPort }),
      host: "x",
      path,
    });
    try {
      assert.equal(await pathAnswers(at("/503")), false);
      assert.equal(await pathAnswers(at("/close")), false);
      const t0 = performance.now();
      assert.equal(await pathAnswers(at("/stall"), 300), false);
      assert.ok(performance.now() - t0 < 2000, "gave up at its timeout");
    } finally {
      odd.closeAllConnections();
      await new Promise((r) => odd.close(r));
    }
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    assert.equal(
      await pathAnswers({ connect: () => connect({ host: "127.0.0.1", port: deadPort }), host: "x" }),
      false,
    );
  });
});
