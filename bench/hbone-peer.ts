/**
 * One side of the benchmark's HBONE pair, run in its own worker thread so that — like the two
 * stunnel processes it is compared with — each proxy has its own event loop:
 *   role "client": a plain TCP listener; each accepted connection is tunnelled with HbonePool
 *                  (what ztunnel's outbound does for a captured connection);
 *   role "server": HboneServer; allowed CONNECTs are spliced to the target.
 * The parent posts "close" to stop it. `startHbonePeer` is the same side without the worker glue
 * (bench/proxy-floor.ts runs it in a process of its own).
 */
import net from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { HbonePool, type HbonePoolOptions } from "../src/hbone/pool.js";
import { HboneServer, type HboneServerOptions } from "../src/hbone/server.js";
import { splice } from "../src/hbone/splice.js";
import type { WorkloadCredential } from "../src/hbone/tls.js";
import { SpiffeId } from "../src/identity/spiffe.js";

export interface PlainCredential {
  identity: string;
  keyPem: string;
  certChainPem: string;
  rootsPem: string;
  serial: string;
}

export interface PeerData {
  role: "client" | "server";
  credential: PlainCredential;
  /** client: the server's identity to expect. */
  peerIdentity: string;
  /** client: HBONE server port; server: unused. */
  hbonePort: number;
  targetPort: number;
  tuning: Partial<HboneServerOptions & HbonePoolOptions>;
}

function revive(c: PlainCredential): WorkloadCredential {
  return { ...c, identity: SpiffeId.parse(c.identity) };
}

/** Starts one side; `port` is its listening port (client: plain TCP; server: HBONE). */
export async function startHbonePeer(d: PeerData): Promise<{ port: number; close(): Promise<void> }> {
  const credential = revive(d.credential);
  if (d.role === "server") {
    const server = new HboneServer({
      ...d.tuning,
      credentialFor: () => credential,
      authorize: (r) => ({
        allow: true,
        connect: () =>
          new Promise((resolve, reject) => {
            const s = net.connect({
              host: r.target.host,
              port: r.target.port,
              allowHalfOpen: true,
              noDelay: true,
            });
            s.once("connect", () => resolve(s));
            s.once("error", reject);
          }),
      }),
    });
    const { port } = await server.listen(0, "127.0.0.1");
    return { port, close: () => server.close() };
  }
  const pool = new HbonePool(d.tuning);
  const expected = [SpiffeId.parse(d.peerIdentity)];
  const listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sock.on("error", () => {});
    pool
      .connect({
        source: credential,
        dstAddress: { host: "127.0.0.1", port: d.hbonePort },
        expectedIdentities: expected,
        authority: `127.0.0.1:${d.targetPort}`,
      })
      .then(
        (tunnel) => splice(sock, tunnel),
        () => sock.destroy(),
      );
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  return {
    port: (listener.address() as net.AddressInfo).port,
    async close() {
      listener.close();
      await pool.close();
    },
  };
}

async function run(d: PeerData): Promise<void> {
  const peer = await startHbonePeer(d);
  parentPort?.postMessage({ port: peer.port });
  parentPort?.once("message", () => {
    void peer.close().then(() => process.exit(0));
  });
}

if (parentPort !== null) void run(workerData as PeerData);
