/**
 * In-process mesh for ztunnel tests: a fake control plane (the real xDS server + CA of the xds
 * library, fed static resources), ztunnels on their own loopback addresses with ephemeral ports,
 * echo servers standing in for pods, and a SOCKS5 client. Everything is closed by `close()`.
 */
import net from "node:net";
import type { Message } from "@bufbuild/protobuf";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { createTestPki, type TestPki } from "../../src/identity/testing.js";
import { createLogger, MemoryLogDestination } from "../../src/telemetry/logger.js";
import { createMeshMetrics } from "../../src/telemetry/metrics.js";
import { bearerToken, type XdsCaller } from "../../src/xds/auth.js";
import { IMPERSONATED_IDENTITY_KEY } from "../../src/xds/ca-service.js";
import { TrustBundleSchema } from "../../src/xds/gen/ambit/security/trust_bundle_pb.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/type-urls.js";
import type { OriginalDstFn, ZtunnelOptions } from "../../src/ztunnel/config.js";
import {
  authorization,
  type PolicySpec,
  policyKey,
  type ServiceSpec,
  serviceAddress,
  serviceKey,
  type WorkloadSpec,
  workloadAddress,
} from "../../src/ztunnel/testing.js";
import { Ztunnel } from "../../src/ztunnel/ztunnel.js";

export const CONTROL_PLANE_ID = "spiffe://cluster.local/ns/istio-system/sa/istiod";

interface Caller extends XdsCaller {
  readonly kind: "ztunnel";
  readonly id: string;
}

export class ControlPlane {
  readonly pki: TestPki;
  readonly server: XdsServer<Caller>;
  readonly #workloads = new Map<string, WorkloadSpec>();

  private constructor(pki: TestPki, server: XdsServer<Caller>) {
    this.pki = pki;
    this.server = server;
  }

  static async start(opts: { pki?: TestPki } = {}): Promise<ControlPlane> {
    const pki = opts.pki ?? createTestPki();
    const cred = pki.issue(CONTROL_PLANE_ID);
    const server = await XdsServer.listen<Caller>({
      address: "127.0.0.1:0",
      tls: { certChainPem: cred.certChainPem, keyPem: cred.keyPem },
      debounceMs: 5,
      debounceMaxMs: 50,
      // Tests may push a trust bundle (revocations, rotations) like the real control plane does.
      extraSchemas: [TrustBundleSchema],
      authenticate: async ({ metadata }) => {
        const token = bearerToken(metadata);
        return token === null ? null : { kind: "ztunnel", id: token };
      },
      ca: {
        handler: async (_caller, req) => {
          const identity = SpiffeId.parse(String(req.metadata[IMPERSONATED_IDENTITY_KEY]));
          const issued = pki.ca.signCsr(req.csr, { identity, ttlSeconds: 3600 });
          return { certChain: [issued.certPem, ...issued.chainPem, issued.rootPem] };
        },
      },
    });
    return new ControlPlane(pki, server);
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  nodeOf(ip: string): string | undefined {
    for (const w of this.#workloads.values()) {
      if ((Array.isArray(w.ip) ? w.ip : [w.ip]).includes(ip)) return w.node;
    }
    return undefined;
  }

  setWorkloads(workloads: WorkloadSpec[], services: ServiceSpec[] = []): void {
    this.#workloads.clear();
    const m = new Map<string, { resource: Message }>();
    for (const w of workloads) {
      this.#workloads.set(w.uid, w);
      m.set(w.uid, { resource: workloadAddress(w) });
    }
    for (const s of services) m.set(serviceKey(s), { resource: serviceAddress(s) });
    this.server.setResources(ADDRESS_TYPE_URL, m);
  }

  /** Publishes a raw Address resource (e.g. a malformed one). */
  putAddress(name: string, resource: Message): void {
    this.server.applyDelta(ADDRESS_TYPE_URL, { upserts: [[name, { resource }]] });
  }

  setPolicies(policies: PolicySpec[]): void {
    this.server.setResources(
      AUTHORIZATION_TYPE_URL,
      new Map(policies.map((p) => [policyKey(p), { resource: authorization(p) }])),
    );
  }

  async close(): Promise<void> {
    await this.server.close(100);
  }
}

export interface TestZtunnel {
  readonly zt: Ztunnel;
  readonly logs: MemoryLogDestination;
  readonly host: string;
  socks(): { host: string; port: number };
  port(
    name: "outbound" | "inboundPlaintext" | "inbound" | "socks5" | "metrics" | "readiness" | "admin",
  ): number;
  accessRecords(): Record<string, unknown>[];
}

/** HBONE listener ports of started ztunnels, by node (the netns redirect of pod-ip:15008, in tests). */
export type NodePorts = Map<string, number>;

export async function startZtunnel(
  cp: ControlPlane,
  node: string,
  host: string,
  nodePorts: NodePorts,
  extra: Partial<ZtunnelOptions> & { originalDst?: OriginalDstFn } = {},
): Promise<TestZtunnel> {
  const logs = new MemoryLogDestination();
  const zt = await Ztunnel.start(
    {
      node,
      control: {
        address: cp.address,
        tls: { rootsPem: cp.pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
        token: node,
        backoff: { initialMs: 20, maxMs: 200 },
      },
      bindAddress: host,
      socks5Address: host,
      adminAddress: host,
      // Pods' addresses are other loopback addresses: the HBONE listener takes them all, and the
      // dialled address (the socket's local address) is the original destination, as with TPROXY.
      addresses: { inbound: "0.0.0.0" },
      ports: { outbound: 0, inboundPlaintext: 0, inbound: 0, socks5: 0, metrics: 0, readiness: 0, admin: 0 },
      hboneConnector: (d) =>
        new Promise((resolve, reject) => {
          const port = nodePorts.get(cp.nodeOf(d.host) ?? "");
          if (port === undefined)
            return reject(Object.assign(new Error(`no ztunnel for ${d.host}`), { code: "EHOSTUNREACH" }));
          const s = net.connect({ host: d.host, port, noDelay: true });
          s.once("connect", () => {
            s.removeListener("error", reject);
            resolve(s);
          });
          s.once("error", reject);
        }),
      ...extra,
    },
    {
      logger: createLogger({ name: `ztunnel-${node}`, level: "info", destination: logs }),
      metrics: createMeshMetrics(),
    },
  );
  const hbonePort = zt.addresses.inbound?.port;
  if (hbonePort !== undefined) nodePorts.set(node, hbonePort);
  return {
    zt,
    logs,
    host,
    socks: () => ({ host, port: zt.addresses.socks5!.port }),
    port: (name) => zt.addresses[name]!.port,
    accessRecords: () => logs.records.filter((r) => r["access"] === true),
  };
}

/** A "pod": echoes every byte; when the client half-closes, writes a trailer and closes its side. */
export async function startEcho(
  host: string,
  port = 0,
): Promise<{ server: net.Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
    s.on("data", (d) => s.write(d));
    s.on("end", () => s.end("<EOF SEEN>"));
  });
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Reads exactly n bytes (or fewer if the stream ends first). */
function readN(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        done();
        const rest = buf.subarray(n);
        if (rest.length > 0) s.unshift(rest);
        resolve(buf.subarray(0, n));
      }
    };
    const onEnd = (): void => {
      done();
      resolve(buf);
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    function done(): void {
      s.removeListener("data", onData);
      s.removeListener("end", onEnd);
      s.removeListener("error", onError);
      s.pause();
    }
    s.on("data", onData);
    s.once("end", onEnd);
    s.once("error", onError);
    s.resume();
  });
}

export interface SocksResult {
  readonly socket: net.Socket;
  /** RFC 1928 reply code; 0 = connected. */
  readonly reply: number;
}

export async function socksConnect(
  proxy: { host: string; port: number },
  localAddress: string,
  dst: { host: string; port: number },
): Promise<SocksResult> {
  const socket = net.connect({ host: proxy.host, port: proxy.port, localAddress, allowHalfOpen: true });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.write(Buffer.from([5, 1, 0]));
  const method = await readN(socket, 2);
  if (method[1] !== 0) return { socket, reply: 0xff };
  const isV4 = net.isIPv4(dst.host);
  const addr = isV4
    ? Buffer.from(dst.host.split(".").map(Number))
    : Buffer.concat([Buffer.from([dst.host.length]), Buffer.from(dst.host)]);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(dst.port);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, isV4 ? 1 : 3]), addr, port]));
  const reply = await readN(socket, 10);
  return { socket, reply: reply.length >= 2 ? reply[1]! : 0xff };
}

/** Sends `payload`, half-closes, and collects everything until the other side ends. */
export function exchange(socket: net.Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.once("end", () => resolve(Buffer.concat(chunks)));
    socket.once("error", reject);
    socket.resume();
    socket.end(payload);
  });
}

export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once("close", () => resolve());
    socket.resume();
  });
}

export async function httpGet(
  host: string,
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${host}:${port}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

/** Polls until `predicate` holds; a hang guard, not a timing assertion. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function metricLine(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(" ").at(-1));
  }
  return undefined;
}
