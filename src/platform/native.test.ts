import assert from "node:assert/strict";
import { once } from "node:events";
import { closeSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import {
  constants,
  createListenSocket,
  createSocket,
  currentNetns,
  getOriginalDst,
  getsockoptInt,
  inNetns,
  setsockoptInt,
} from "./native.js";
import { listenOn } from "./netns-sockets.js";
import { originalDst, socketFd } from "./original-dst.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (setns)" : false;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A connected pair on loopback: [client, accepted]. */
async function pair(t: { after(fn: () => unknown): void }): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = connect(address.port, "127.0.0.1");
  client.on("error", () => undefined);
  const [peer] = await accepted;
  peer.on("error", () => undefined);
  // Stop accepting now; the server finishes closing once both ends are destroyed.
  const closed = closeServer(server);
  t.after(async () => {
    client.destroy();
    peer.destroy();
    await closed;
  });
  return [client, peer];
}

describe("native addon", () => {
  test("originalDst of a connection nobody redirected is PLAT_ERR_NOT_REDIRECTED", async (t) => {
    const [, peer] = await pair(t);
    assert.throws(() => originalDst(peer), { code: "PLAT_ERR_NOT_REDIRECTED" });
  });

  test("originalDst of a destroyed socket is PLAT_ERR_NO_FD", async (t) => {
    const [client] = await pair(t);
    client.destroy();
    assert.throws(() => originalDst(client), { code: "PLAT_ERR_NO_FD" });
  });

  test("syscall failures name the syscall and errno", () => {
    assert.throws(() => getOriginalDst(0x7ffffff0), {
      code: "PLAT_ERR_SYSCALL",
      syscall: "getsockname",
      errno: "EBADF",
    });
    assert.throws(() => setsockoptInt(0x7ffffff0, constants().IPPROTO_TCP, constants().TCP_NODELAY, 1), {
      code: "PLAT_ERR_SYSCALL",
      syscall: "setsockopt",
      errno: "EBADF",
    });
    assert.throws(() => getOriginalDst(-1), TypeError);
  });

  test("setsockoptInt/getsockoptInt round-trip TCP_NODELAY on a live socket", async (t) => {
    const [client] = await pair(t);
    const fd = socketFd(client);
    const { IPPROTO_TCP, TCP_NODELAY } = constants();
    setsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY, 0);
    assert.equal(getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
    setsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    assert.notEqual(getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  });

  test("createListenSocket with SO_REUSEPORT twice on one port: both listen and serve", async (t) => {
    const a = createServer((s) => s.end("a"));
    const b = createServer((s) => s.end("b"));
    t.after(() => Promise.all([closeServer(a), closeServer(b)]));
    await listenOn(a, { address: "127.0.0.1", port: 0, reusePort: true });
    const address = a.address();
    assert.ok(address !== null && typeof address === "object");
    await listenOn(b, { address: "127.0.0.1", port: address.port, reusePort: true });
    const fd = (b as unknown as { _handle: { fd: number } })._handle.fd;
    assert.notEqual(getsockoptInt(fd, constants().SOL_SOCKET, constants().SO_REUSEPORT), 0);
    const client = connect(address.port, "127.0.0.1");
    client.on("error", () => undefined);
    let reply = "";
    client.on("data", (d: Buffer) => {
      reply += d.toString();
    });
    await once(client, "end");
    assert.ok(reply === "a" || reply === "b", reply);
  });

  test("a second bind without SO_REUSEPORT fails with EADDRINUSE and leaks no fd", async (t) => {
    const first = createListenSocket({ address: "127.0.0.1", port: 0 });
    t.after(() => closeSync(first));
    const server = createServer();
    const taken = await new Promise<number>((resolve) => {
      server.listen({ fd: createListenSocket({ address: "127.0.0.1", port: 0 }) }, () => {
        const a = server.address();
        resolve(a !== null && typeof a === "object" ? a.port : 0);
      });
    });
    t.after(() => closeServer(server));
    assert.throws(() => createListenSocket({ address: "127.0.0.1", port: taken }), {
      code: "PLAT_ERR_SYSCALL",
      syscall: "bind",
      errno: "EADDRINUSE",
    });
    assert.throws(() => createListenSocket({ address: "localhost", port: 1 }), TypeError);
    assert.throws(() => createListenSocket({ address: "127.0.0.1", port: 70000 }), RangeError);
  });

  test("createListenSocket sets IP_TRANSPARENT and SO_MARK (CAP_NET_ADMIN)", { skip: notRoot }, (t) => {
    const fd = createListenSocket({ address: "127.0.0.1", port: 0, transparent: true, mark: 0x539 });
    t.after(() => closeSync(fd));
    const c = constants();
    assert.equal(getsockoptInt(fd, c.SOL_IP, c.IP_TRANSPARENT), 1);
    assert.equal(getsockoptInt(fd, c.SOL_SOCKET, c.SO_MARK), 0x539);
    assert.equal(getsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEPORT), 0);
  });

  test("inNetns with a missing namespace fails before switching", () => {
    const before = currentNetns();
    assert.throws(() => inNetns("/run/netns/ambit-does-not-exist", () => 1), {
      code: "PLAT_ERR_SYSCALL",
      errno: "ENOENT",
    });
    assert.equal(currentNetns(), before);
  });

  test("inNetns switches back when the callback throws, and refuses async callbacks", {
    skip: notRoot,
  }, () => {
    const before = currentNetns();
    // Entering our own namespace exercises setns and the switch back without needing another netns.
    assert.throws(
      () =>
        inNetns("/proc/self/ns/net", () => {
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.equal(currentNetns(), before);
    assert.equal(
      inNetns("/proc/self/ns/net", () => 42),
      42,
    );
    assert.throws(() => inNetns("/proc/self/ns/net", async () => 1), { code: "PLAT_ERR_NETNS_ASYNC" });
    assert.equal(currentNetns(), before);
  });

  test("createSocket gives an unconnected fd a net.Socket can connect", async (t) => {
    const server = createServer((s) => s.end("ok"));
    t.after(() => closeServer(server));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    const { Socket } = await import("node:net");
    const client = new Socket({ fd: createSocket({ family: 4 }) });
    client.on("error", () => undefined);
    client.connect(address.port, "127.0.0.1");
    let reply = "";
    client.on("data", (d: Buffer) => {
      reply += d.toString();
    });
    await once(client, "end");
    client.destroy();
    assert.equal(reply, "ok");
  });
});
