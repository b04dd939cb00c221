import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { ZtunnelErrorCode } from "./errors.js";
import { encodeReply, parseGreeting, parseRequest, SocksReply, socks5Handshake } from "./socks5.js";

test("parseRequest: IPv4, IPv6 and domain CONNECT requests", () => {
  const v4 = parseRequest(Buffer.from([5, 1, 0, 1, 10, 0, 0, 7, 0x1f, 0x90, 0xaa]));
  assert.deepEqual(v4, { state: "done", value: { kind: "ip", ip: "10.0.0.7", port: 8080 }, used: 10 });
  const v6 = parseRequest(Buffer.from([5, 1, 0, 4, ...Array(15).fill(0), 1, 0, 80]));
  assert.deepEqual(v6, { state: "done", value: { kind: "ip", ip: "::1", port: 80 }, used: 22 });
  const name = Buffer.from("echo.default.svc.cluster.local");
  const dn = parseRequest(
    Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([0, 80])]),
  );
  assert.deepEqual(dn, {
    state: "done",
    value: { kind: "domain", domain: "echo.default.svc.cluster.local", port: 80 },
    used: 7 + name.length,
  });
});

test("parseRequest: protocol violations get RFC 1928 reply codes", () => {
  const cases: [number[], number | undefined][] = [
    [[5, 2, 0, 1, 1, 2, 3, 4, 0, 80], SocksReply.CommandNotSupported], // BIND
    [[5, 3, 0, 1, 1, 2, 3, 4, 0, 80], SocksReply.CommandNotSupported], // UDP ASSOCIATE
    [[5, 1, 0, 9, 1, 2, 3, 4, 0, 80], SocksReply.AddressTypeNotSupported],
    [[5, 1, 1, 1, 1, 2, 3, 4, 0, 80], SocksReply.GeneralFailure],
    [[4, 1, 0, 1, 1, 2, 3, 4, 0, 80], SocksReply.GeneralFailure],
    [[5, 1, 0, 1, 1, 2, 3, 4, 0, 0], SocksReply.GeneralFailure], // port 0
    [[5, 1, 0, 3, 0, 0, 80], SocksReply.GeneralFailure], // empty name
    [[5, 1, 0, 3, 3, 0x61, 0x20, 0x62, 0, 80], SocksReply.HostUnreachable], // "a b"
  ];
  for (const [bytes, reply] of cases) {
    const r = parseRequest(Buffer.from(bytes));
    assert.equal(r.state, "error", JSON.stringify(bytes));
    if (r.state === "error") assert.equal(r.reply, reply, JSON.stringify(bytes));
  }
  assert.equal(parseGreeting(Buffer.from([4, 1, 0])).state, "error");
  assert.equal(parseGreeting(Buffer.from([5, 0])).state, "error");
  assert.equal(parseGreeting(Buffer.from([5, 2, 0])).state, "more");
  assert.deepEqual(encodeReply(SocksReply.NotAllowed), Buffer.from([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]));
});

test("parsers never throw and never claim more bytes than given (hostile input)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      for (const parse of [parseGreeting, parseRequest]) {
        const r = parse(bytes);
        if (r.state === "done") assert.ok(r.used <= bytes.length);
      }
    }),
    { numRuns: 2000 },
  );
  // Every prefix of a valid request asks for more; the whole one parses.
  const full = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 22]);
  for (let i = 0; i < full.length; i++) assert.equal(parseRequest(full.subarray(0, i)).state, "more");
  assert.equal(parseRequest(full).state, "done");
});

async function pair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const accepted = new Promise<net.Socket>((r) => srv.once("connection", r));
  const client = net.connect((srv.address() as net.AddressInfo).port, "127.0.0.1");
  client.on("error", () => {});
  const server = await accepted;
  server.on("error", () => {});
  return {
    client,
    server,
    close() {
      client.destroy();
      server.destroy();
      srv.close();
    },
  };
}

test("handshake: bytes pipelined after the request are kept for the tunnel", async () => {
  const p = await pair();
  try {
    p.client.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 10, 1, 2, 3, 0, 80, 0x68, 0x69]));
    const hs = await socks5Handshake(p.server, { timeoutMs: 5000, maxBytes: 1024 });
    assert.deepEqual(hs.target, { kind: "ip", ip: "10.1.2.3", port: 80 });
    // The handshake leaves the socket paused for the proxy to pipe it; resume as pipe() would.
    const rest = new Promise<Buffer>((r) => p.server.once("data", r));
    p.server.resume();
    assert.equal((await rest).toString(), "hi");
  } finally {
    p.close();
  }
});

test("handshake: oversized, slow and authentication-only clients are refused with ZT_ERR_SOCKS5", async () => {
  const oversized = await pair();
  try {
    oversized.client.write(
      Buffer.from([5, 255, ...Array(255).fill(0x80), 5, 1, 0, 3, 255, ...Array(300).fill(0x61)]),
    );
    await assert.rejects(socks5Handshake(oversized.server, { timeoutMs: 5000, maxBytes: 300 }), {
      code: ZtunnelErrorCode.Socks5,
    });
  } finally {
    oversized.close();
  }
  const slow = await pair();
  try {
    slow.client.write(Buffer.from([5, 1]));
    await assert.rejects(socks5Handshake(slow.server, { timeoutMs: 50, maxBytes: 1024 }), {
      code: ZtunnelErrorCode.Socks5,
    });
  } finally {
    slow.close();
  }
  const auth = await pair();
  try {
    const answer = new Promise<Buffer>((r) => auth.client.once("data", r));
    auth.client.write(Buffer.from([5, 1, 2]));
    await assert.rejects(socks5Handshake(auth.server), { code: ZtunnelErrorCode.Socks5 });
    assert.deepEqual(await answer, Buffer.from([5, 0xff]));
  } finally {
    auth.close();
  }
});
