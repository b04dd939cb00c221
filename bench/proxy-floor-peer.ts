/**
 * One proxy of bench/proxy-floor.ts, in a process of its own so the kernel's accounting of its
 * CPU (/proc/<pid>/stat) is its alone. Argument: a JSON file with a `FloorPeer`. It prints
 * `{"port":N}` on one line once it listens and runs until killed.
 *
 *   tcp-out / tcp-in   a plain TCP relay: accept, connect onwards, `splice` both ways
 *   tls-out / tls-in   a mutual-TLS 1.3 relay pair with a TLS connection per client connection
 *                      (resumed with the last session ticket): the sidecar model written in Node
 *   h2-out / h2-in     HTTP/2 CONNECT over one mutual-TLS 1.3 session, written against node:http2
 *                      directly (no ambit code but `splice`): the protocol's floor in Node
 *   hbone-out / hbone-in  ambit's HbonePool ⇒ HboneServer (bench/hbone-peer.ts)
 */
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { splice } from "../src/hbone/splice.js";
import { type PeerData, type PlainCredential, startHbonePeer } from "./hbone-peer.js";

export type FloorRole =
  | "tcp-out"
  | "tcp-in"
  | "tls-out"
  | "tls-in"
  | "h2-out"
  | "h2-in"
  | "hbone-out"
  | "hbone-in";

export interface FloorPeer {
  readonly role: FloorRole;
  /** out: the in-side's port; in: the target's. Both on 127.0.0.1. */
  readonly nextPort: number;
  /** The target's port (out-sides name it in the CONNECT authority). */
  readonly targetPort: number;
  readonly credential: PlainCredential;
  /** The other side's SPIFFE identity (hbone-out checks it). */
  readonly peerIdentity: string;
}

function relayTo(port: number, sock: net.Socket): void {
  const up = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true, noDelay: true });
  up.on("error", () => sock.destroy());
  void splice(sock, up);
}

function listen(onConnection: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on("error", () => {});
    onConnection(s);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

function tlsOut(p: FloorPeer): Promise<number> {
  const c = p.credential;
  let ticket: Buffer | undefined;
  return listen((sock) => {
    const up = tls.connect({
      host: "127.0.0.1",
      port: p.nextPort,
      ...mtlsClient(c),
      session: ticket,
    });
    up.setNoDelay(true);
    up.on("session", (t: Buffer) => {
      ticket = t;
    });
    up.on("error", () => sock.destroy());
    void splice(sock, up);
  });
}

/** Mutual TLS 1.3 with the peer's credential, client side. */
function mtlsClient(c: FloorPeer["credential"]): tls.ConnectionOptions {
  return {
    key: c.keyPem,
    cert: c.certChainPem,
    ca: c.rootsPem,
    minVersion: "TLSv1.3",
    // SPIFFE certificates name a URI, not a host; the chain is still verified against the roots.
    checkServerIdentity: () => undefined,
  };
}

/** Mutual TLS 1.3 with the peer's credential, server side: a client certificate is required. */
function mtlsServer(c: FloorPeer["credential"]): tls.TlsOptions {
  return {
    key: c.keyPem,
    cert: c.certChainPem,
    ca: c.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  };
}

function tlsIn(p: FloorPeer): Promise<number> {
  const c = p.credential;
  const server = tls.createServer({ ...mtlsServer(c), allowHalfOpen: true }, (sock) => {
    sock.setNoDelay(true);
    sock.on("error", () => {});
    relayTo(p.nextPort, sock);
  });
  server.on("tlsClientError", () => {});
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

async function h2Out(p: FloorPeer): Promise<number> {
  const c = p.credential;
  const session = http2.connect(`https://127.0.0.1:${p.nextPort}`, mtlsClient(c));
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return listen((sock) => {
    const stream = session.request(
      { ":method": "CONNECT", ":authority": `127.0.0.1:${p.targetPort}` },
      { endStream: false },
    );
    stream.on("error", () => sock.destroy());
    void splice(sock, stream);
  });
}

async function h2In(p: FloorPeer): Promise<number> {
  const c = p.credential;
  const server = http2.createSecureServer(mtlsServer(c));
  server.on("stream", (stream, headers) => {
    const authority = String(headers[":authority"] ?? "");
    const port = Number(authority.slice(authority.lastIndexOf(":") + 1));
    const up = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true, noDelay: true });
    up.once("connect", () => {
      stream.respond({ ":status": 200 });
      void splice(stream, up);
    });
    up.once("error", () => {
      if (!stream.headersSent) stream.respond({ ":status": 503 }, { endStream: true });
      else stream.destroy();
    });
    stream.on("error", () => up.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

async function hbone(p: FloorPeer): Promise<number> {
  const data: PeerData = {
    role: p.role === "hbone-out" ? "client" : "server",
    credential: p.credential,
    peerIdentity: p.peerIdentity,
    hbonePort: p.nextPort,
    targetPort: p.targetPort,
    tuning: {},
  };
  return (await startHbonePeer(data)).port;
}

/** How each role starts; resolves to its listening port. */
const START: Record<FloorRole, (p: FloorPeer) => Promise<number>> = {
  "tcp-out": (p) => listen((s) => relayTo(p.nextPort, s)),
  "tcp-in": (p) => listen((s) => relayTo(p.nextPort, s)),
  "tls-out": tlsOut,
  "tls-in": tlsIn,
  "h2-out": h2Out,
  "h2-in": h2In,
  "hbone-out": hbone,
  "hbone-in": hbone,
};

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error("usage: proxy-floor-peer.js <peer.json>");
  const p = JSON.parse(readFileSync(file, "utf8")) as FloorPeer;
  const port = await START[p.role](p);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`proxy-floor-peer: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
