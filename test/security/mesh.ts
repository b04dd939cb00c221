/**
 * The mesh the hostile-input corpus attacks: a fake control plane (the real xDS server and CA of
 * the xds library), two in-process ztunnels (node-a on 127.0.0.2, node-b on 127.0.0.3) and echo
 * pods on loopback addresses. HBONE listeners take every address (0.0.0.0), so dialling a pod's IP
 * reaches its node's 15008 and the dialled address is the original destination, as with TPROXY.
 */
import type net from "node:net";
import { Duplex } from "node:stream";
import { HbonePool } from "../../src/hbone/pool.js";
import type { WorkloadCredential } from "../../src/hbone/tls.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import type { TestPki } from "../../src/identity/testing.js";
import type { PolicySpec, WorkloadSpec } from "../../src/ztunnel/testing.js";
import { strictPeerAuthentication } from "../../src/ztunnel/testing.js";
import {
  ControlPlane,
  type NodePorts,
  startEcho,
  startZtunnel,
  type TestZtunnel,
} from "../ztunnel/harness.js";

export const CLIENT_IP = "127.0.0.10";
export const INTRUDER_IP = "127.0.0.11";
/** A pod of node-a: never reachable through node-b's HBONE listener. */
export const REMOTE_POD_IP = "127.0.0.21";
export const SERVER_IP = "127.0.0.20";
/** Not enrolled in the mesh (tunnel none) on node-b. */
export const UNENROLLED_IP = "127.0.0.22";
/** Namespace `strict` (PeerAuthentication STRICT) on node-b. */
export const STRICT_IP = "127.0.0.23";
/** An address outside the mesh (no workload). */
export const OUTSIDER_IP = "127.0.0.50";

export const CLIENT_ID = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/client");
export const INTRUDER_ID = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/intruder");
export const SERVER_ID = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/server");

const WORKLOADS: WorkloadSpec[] = [
  { uid: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client" },
  { uid: "intruder", ip: INTRUDER_IP, node: "node-a", serviceAccount: "intruder" },
  { uid: "remote", ip: REMOTE_POD_IP, node: "node-a", serviceAccount: "server" },
  {
    uid: "server",
    ip: SERVER_IP,
    node: "node-b",
    serviceAccount: "server",
    policies: ["default/only-client"],
  },
  { uid: "unenrolled", ip: UNENROLLED_IP, node: "node-b", tunnel: "none" },
  { uid: "strict", ip: STRICT_IP, node: "node-b", namespace: "strict", serviceAccount: "s" },
];

const ONLY_CLIENT: PolicySpec = {
  name: "only-client",
  rules: [[[{ principals: ["cluster.local/ns/default/sa/client"] }]]],
};

export interface SecurityMesh {
  readonly cp: ControlPlane;
  readonly a: TestZtunnel;
  readonly b: TestZtunnel;
  /** Echo "pod" port, the same on every pod IP. */
  readonly echoPort: number;
  /** node-b's HBONE (15008) port: dial a node-b pod IP on it. */
  readonly hbonePort: number;
  readonly clientCred: WorkloadCredential;
  readonly intruderCred: WorkloadCredential;
  /** A pool holding one honest session to node-b, as client. */
  readonly pool: HbonePool;
  /** Where a captured connection from `srcIp` was going (15001 / 15006 original destination). */
  capture(srcIp: string, target: { address: string; port: number }): void;
  /** A fresh honest CONNECT to the server pod's echo over the pooled session. */
  connectGood(): Promise<Duplex>;
  close(): Promise<void>;
}

export async function startSecurityMesh(opts: { pki?: TestPki } = {}): Promise<SecurityMesh> {
  const cp = await ControlPlane.start(opts);
  const echos: Awaited<ReturnType<typeof startEcho>>[] = [];
  // One port on every pod address: the first echo picks it, the others bind the same number.
  const first = await startEcho(SERVER_IP);
  echos.push(first);
  const echoPort = first.port;
  for (const ip of [UNENROLLED_IP, STRICT_IP, REMOTE_POD_IP, CLIENT_IP]) {
    echos.push(await startEcho(ip, echoPort));
  }
  cp.setWorkloads(WORKLOADS, [
    { hostname: "echo.default.svc.cluster.local", vip: "10.96.0.10", ports: [[80, echoPort]] },
  ]);
  cp.setPolicies([ONLY_CLIENT]);
  cp.server.applyDelta("type.googleapis.com/istio.security.Authorization", {
    upserts: [
      ["strict/converted_peer_authentication_default", { resource: strictPeerAuthentication("strict") }],
    ],
  });
  const targets = new Map<string, { address: string; port: number }>();
  const originalDst = (socket: net.Socket, listener: "outbound" | "inboundPlaintext" | "inbound") => {
    if (listener === "inbound") return { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    const t = targets.get(socket.remoteAddress ?? "");
    if (t === undefined) throw new Error(`no capture target for ${socket.remoteAddress ?? "?"}`);
    return t;
  };
  const nodePorts: NodePorts = new Map();
  const a = await startZtunnel(cp, "node-a", "127.0.0.2", nodePorts, { originalDst });
  const b = await startZtunnel(cp, "node-b", "127.0.0.3", nodePorts, { originalDst });
  await Promise.all([a.zt.whenReady(30_000), b.zt.whenReady(30_000)]);
  const hbonePort = b.port("inbound");
  const clientCred = cp.pki.issue(CLIENT_ID);
  const intruderCred = cp.pki.issue(INTRUDER_ID);
  const pool = new HbonePool();
  return {
    cp,
    a,
    b,
    echoPort,
    hbonePort,
    clientCred,
    intruderCred,
    pool,
    capture(srcIp, target) {
      targets.set(srcIp, target);
    },
    connectGood() {
      return pool.connect({
        source: clientCred,
        dstAddress: { host: SERVER_IP, port: hbonePort },
        expectedIdentities: [SERVER_ID],
        authority: `${SERVER_IP}:${echoPort}`,
      });
    },
    async close() {
      await pool.close(200);
      await a.zt.close();
      await b.zt.close();
      for (const e of echos) await e.close();
      await cp.close();
    },
  };
}

/** Writes `payload`, half-closes, and collects everything until the peer ends (or errors). */
export function echoRoundTrip(stream: Duplex, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.end(payload);
  });
}

export { Duplex };
