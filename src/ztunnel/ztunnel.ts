/**
 * The node proxy daemon. `Ztunnel.start` validates the config, binds every listener (a taken port
 * fails start-up naming the port), connects to the control plane and returns; readiness follows
 * once the first xDS config and the local workloads' certificates are in. The data path keeps
 * working from the last config and certificates while the control plane is away.
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { HbonePool } from "../hbone/pool.js";
import { logPoolSessions } from "../hbone/pool-log.js";
import { HboneServer } from "../hbone/server.js";
import type { CertStore } from "../identity/cert-store.js";
import { connectFrom } from "../platform/netns-sockets.js";
import { reserveSendBuffer } from "../platform/send-buffer.js";
import { createLogger, type Logger } from "../telemetry/logger.js";
import { createMeshMetrics, type MeshMetrics } from "../telemetry/metrics.js";
import { tracer } from "../telemetry/trace.js";
import { controlPlaneCertStore } from "../xds/ca-service.js";
import { XdsClient } from "../xds/client.js";
import { TRUST_BUNDLE_TYPE, type TrustBundleApplied, TrustBundleFollower } from "../xds/trust-bundle.js";
import { canonicalIp } from "./addresses.js";
import { adminHandler, metricsHandler, type Readiness, readinessHandler } from "./admin.js";
import { L4Authorizer } from "./authz.js";
import {
  LISTENER_ROLES,
  LISTENERS,
  type ListenerName,
  type OriginalDestination,
  type ZtunnelConfig,
  type ZtunnelOptions,
  ztunnelConfig,
} from "./config.js";
import { ConnectionTable } from "./connections.js";
import { type ProxyContext, spiffe } from "./context.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";
import { HboneInbound, handlePlaintextInbound, handoffToHbone } from "./inbound.js";
import { INPOD_MARK, InPodSockets } from "./inpod.js";
import {
  allowQueueMigration,
  bindDeferred,
  closeServer,
  type DeferredListener,
  listenDeferred,
  listenOn,
  releaseDeferred,
} from "./listeners.js";
import { handleOutbound } from "./outbound.js";
import { socks5Handshake } from "./socks5.js";
import { ZtunnelState } from "./state.js";
import { applyChange, ZTUNNEL_ADDRESS_TYPE, ZTUNNEL_AUTHORIZATION_TYPE } from "./xds-sync.js";

const trace = tracer("state");

/** Listeners that carry workload traffic; in reuse-port mode they listen only once ready. */
const TRAFFIC_LISTENERS: ReadonlySet<ListenerName> = new Set([
  "outbound",
  "inboundPlaintext",
  "inbound",
  "socks5",
]);

export interface ZtunnelRuntime {
  /** Root logger (pino); access records go to its child `access`. */
  readonly logger?: Logger;
  readonly metrics?: MeshMetrics;
}

type Lifecycle =
  | { state: "starting" }
  | { state: "running"; since: number }
  | { state: "draining"; since: number; deadline: number }
  | { state: "closing" }
  | { state: "closed" };

/**
 * A TCP connection to `target` from this netns or, in-pod, from the pod netns `origin`, marked so
 * the pod's capture rules let it through. Throws only when the socket cannot be made in `origin`.
 */
function dial(
  target: { host: string; port: number },
  origin: string | undefined,
  allowHalfOpen: boolean,
): net.Socket {
  const s =
    origin === undefined
      ? net.connect({ host: target.host, port: target.port, allowHalfOpen })
      : connectFrom({ netns: origin, host: target.host, port: target.port, allowHalfOpen, mark: INPOD_MARK });
  s.setNoDelay(true);
  return s;
}

/**
 * Resolves with `s` once it is connected to `target`; rejects on its error or, with `timeoutMs`,
 * an ETIMEDOUT error.
 */
function whenConnected(
  s: net.Socket,
  target: { host: string; port: number },
  timeoutMs?: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error): void => {
      s.setTimeout(0);
      reject(e);
    };
    if (timeoutMs !== undefined) {
      s.setTimeout(timeoutMs);
      s.once("timeout", () =>
        fail(
          Object.assign(new Error(`connect to ${target.host}:${target.port} timed out`), {
            code: "ETIMEDOUT",
          }),
        ),
      );
    }
    s.once("error", fail);
    s.once("connect", () => {
      s.removeListener("error", fail);
      s.setTimeout(0);
      resolve(s);
    });
  });
}

function defaultUpstream(timeoutMs: number) {
  return async (target: { host: string; port: number }, origin?: string): Promise<Duplex> => {
    let s: net.Socket;
    try {
      s = dial(target, origin, true);
    } catch (e) {
      throw new ZtunnelError(
        ZtunnelErrorCode.Upstream,
        `cannot connect to ${target.host}:${target.port} from netns ${origin}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    try {
      await whenConnected(s, target, timeoutMs);
    } catch (e) {
      s.destroy();
      throw new ZtunnelError(
        ZtunnelErrorCode.Upstream,
        `cannot connect to ${target.host}:${target.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { cause: e },
      );
    }
    s.on("error", () => {});
    return s;
  };
}

/** The pool's socket factory: in-pod sessions leave from the source pod's netns. */
async function hboneConnect(destination: { host: string; port: number }, origin?: string): Promise<Duplex> {
  const s = dial(destination, origin, false);
  s.setKeepAlive(true);
  return whenConnected(s, destination);
}

/** The platform's SO_ORIGINAL_DST when the native addon is loaded; else the socket's local address (TPROXY / direct). */
async function platformOriginalDst(): Promise<ZtunnelConfig["originalDst"]> {
  try {
    const native = await import("../platform/native.js");
    if (!native.nativeAvailable()) return undefined;
    const { originalDst } = await import("../platform/original-dst.js");
    return (socket) => originalDst(socket);
  } catch {
    return undefined;
  }
}

interface SeenPoolStats {
  hits: number;
  misses: number;
  handshakeErrors: number;
  sessions: number;
  onKernel: number;
}

const seenPoolStats = new WeakMap<HbonePool, SeenPoolStats>();
const NOTHING_SEEN: SeenPoolStats = { hits: 0, misses: 0, handshakeErrors: 0, sessions: 0, onKernel: 0 };

/** The pool counts for itself; scrapes turn its totals into the registry's counters. */
function syncPoolMetrics(pool: HbonePool, metrics: MeshMetrics): void {
  const now = pool.stats;
  const seen = seenPoolStats.get(pool) ?? NOTHING_SEEN;
  if (now.poolHits > seen.hits) metrics.poolHits.inc(now.poolHits - seen.hits);
  if (now.poolMisses > seen.misses) metrics.poolMisses.inc(now.poolMisses - seen.misses);
  if (now.handshakeErrors > seen.handshakeErrors) {
    metrics.handshakeErrors.inc(
      { direction: "outbound", reason: "HBONE_ERR_HANDSHAKE" },
      now.handshakeErrors - seen.handshakeErrors,
    );
  }
  const onKernel = now.sessionsOnKernelBuffer - seen.onKernel;
  const unblocked = now.sessionsOpened - seen.sessions - onKernel;
  if (onKernel > 0) metrics.poolSessions.inc({ writes: "kernel" }, onKernel);
  if (unblocked > 0) metrics.poolSessions.inc({ writes: "unblocked" }, unblocked);
  seenPoolStats.set(pool, {
    hits: now.poolHits,
    misses: now.poolMisses,
    handshakeErrors: now.handshakeErrors,
    sessions: now.sessionsOpened,
    onKernel: now.sessionsOnKernelBuffer,
  });
}

export class Ztunnel {
  readonly config: ZtunnelConfig;
  readonly state: ZtunnelState;
  readonly metrics: MeshMetrics;
  readonly logger: Logger;
  readonly certs: CertStore;
  readonly pool: HbonePool;
  readonly xds: XdsClient;
  /** Pods served in their own netns (in-pod mode); empty in node mode. */
  readonly inPod: InPodSockets;
  /** Bound addresses, by listener (ephemeral ports resolved). */
  readonly addresses: Readonly<Partial<Record<ListenerName, net.AddressInfo>>>;
  readonly #ctx: ProxyContext;
  readonly #servers: net.Server[];
  readonly #hbone: HboneServer;
  readonly #hboneInbound: HboneInbound;
  readonly #caClose: (() => void) | undefined;
  #lifecycle: Lifecycle = { state: "starting" };
  #synced = false;
  #certsReady = false;
  #warming: Promise<void> | undefined;
  /** Reuse-port mode: traffic listeners bound at start, listening once config and certificates are in. */
  #deferred: DeferredListener[] = [];
  #opening: Promise<void> | undefined;
  /** Conditions set from outside (in-pod: the node agent's snapshot), by what `/healthz/ready` shows. */
  readonly #gates = new Set<string>();

  private constructor(init: {
    config: ZtunnelConfig;
    ctx: ProxyContext;
    servers: net.Server[];
    hbone: HboneServer;
    hboneInbound: HboneInbound;
    inPod: InPodSockets;
    xds: XdsClient;
    addresses: Partial<Record<ListenerName, net.AddressInfo>>;
    caClose: (() => void) | undefined;
  }) {
    this.inPod = init.inPod;
    this.config = init.config;
    this.#ctx = init.ctx;
    this.state = init.ctx.state;
    this.metrics = init.ctx.metrics;
    this.logger = init.ctx.logger;
    this.certs = init.ctx.certs;
    this.pool = init.ctx.pool;
    this.xds = init.xds;
    this.#servers = init.servers;
    this.#hbone = init.hbone;
    this.#hboneInbound = init.hboneInbound;
    this.addresses = Object.freeze(init.addresses);
    this.#caClose = init.caClose;
  }

  static async start(options: ZtunnelOptions, runtime: ZtunnelRuntime = {}): Promise<Ztunnel> {
    const config = ztunnelConfig(options);
    const logger = runtime.logger ?? createLogger({ name: "ztunnel", base: { node: config.node } });
    const metrics = runtime.metrics ?? createMeshMetrics({ defaultLabels: {} });
    const state = new ZtunnelState({ node: config.node });
    const { certs, closeCa } = controlPlaneCertStore({
      control: {
        address: config.control.address,
        tls: config.control.tls,
        ...(config.control.token !== undefined ? { token: config.control.token } : {}),
      },
      caClient: config.caClient,
      ttlSeconds: config.certificateTtlSeconds,
      rootsPem: config.meshRootsPem,
    });
    const pool = new HbonePool({
      connect: config.hboneConnector ?? hboneConnect,
      // "kernel": sessions on their TLS socket when the kernel can hold what they send.
      ...(config.hboneWrites === "kernel" ? { reserveSendBuffer } : {}),
    });
    logPoolSessions(pool, logger);
    const originalDst = config.originalDst ?? (await platformOriginalDst());
    // Filled in below: its servers need the context, and the context asks it for pod netns.
    let inPod: InPodSockets;
    const connections = new ConnectionTable({ logger: logger.child({ component: "access" }) });
    const ctx: ProxyContext = {
      config: { ...config, originalDst },
      state,
      authorizer: new L4Authorizer(state),
      certs,
      pool,
      metrics,
      accessLog: connections,
      connections,
      logger,
      connectUpstream: config.upstreamConnector ?? defaultUpstream(config.connectTimeoutMs),
      podNetns: (ip) => inPod.netnsOf(ip),
      live: new Set(),
    };
    const hboneInbound = new HboneInbound(ctx);
    const hbone = new HboneServer({
      credentialFor: (addr) => hboneInbound.credentialFor(addr),
      authorize: (req) => hboneInbound.authorize(req),
      onConnectDone: (r) => hboneInbound.onConnectDone(r),
      onRejected: (e, remote) => hboneInbound.onRejected(e, remote),
    });
    inPod = new InPodSockets({
      logger: logger.child({ component: "inpod" }),
      onReleased: (pod) => pool.closeOrigin(pod.netns),
      make: (listener, pod) =>
        listener === "inbound"
          ? net.createServer({ allowHalfOpen: true, noDelay: true }, (raw) => handoffToHbone(ctx, hbone, raw))
          : captureServer(
              ctx,
              listener,
              listener === "outbound" ? { pod: pod.uid, owns: (ip) => inPod.owns(pod.uid, ip) } : undefined,
            ),
    });

    // Bind everything first: a port conflict must fail start-up, not the first connection.
    const servers: net.Server[] = [];
    const deferred: DeferredListener[] = [];
    const addresses: Partial<Record<ListenerName, net.AddressInfo>> = {};
    let ztunnel: Ztunnel | undefined;
    const readiness = (): Readiness => ztunnel?.readiness() ?? { ready: false, waitingFor: ["start-up"] };
    const make: Record<ListenerName, () => net.Server> = {
      outbound: () => captureServer(ctx, "outbound"),
      inboundPlaintext: () => captureServer(ctx, "inboundPlaintext"),
      inbound: () => {
        const s = net.createServer({ allowHalfOpen: true, noDelay: true }, (raw) =>
          handoffToHbone(ctx, hbone, raw),
        );
        return s;
      },
      socks5: () => socksServer(ctx),
      metrics: () => http.createServer(metricsHandler(metrics, () => syncPoolMetrics(pool, metrics))),
      readiness: () => http.createServer(readinessHandler(readiness)),
      admin: () =>
        http.createServer(
          adminHandler({
            node: config.node,
            state,
            certs,
            logger,
            metrics,
            readiness,
            connections: () => connections.list(),
            xds: () => ({ state: xds.state }),
            listeners: () =>
              Object.fromEntries(Object.entries(addresses).map(([k, a]) => [k, `${a.address}:${a.port}`])),
            inPod: () => inPod.list(),
          }),
        ),
    };
    const xds = new XdsClient({
      address: config.control.address,
      tls: config.control.tls,
      ...(config.control.token !== undefined ? { token: config.control.token } : {}),
      node: { id: config.node, metadata: { NODE_NAME: config.node, kind: "ztunnel" } },
      subscriptions: [
        { type: ZTUNNEL_ADDRESS_TYPE },
        { type: ZTUNNEL_AUTHORIZATION_TYPE },
        { type: TRUST_BUNDLE_TYPE },
      ],
      ...(config.control.backoff !== undefined ? { backoff: config.control.backoff } : {}),
      log: logger.child({ component: "xds" }),
    });
    try {
      for (const name of LISTENERS) {
        const where = config.listen[name];
        if (where === undefined) continue;
        const server = make[name]();
        servers.push(server);
        if (config.reusePort && TRAFFIC_LISTENERS.has(name)) {
          const b = await bindDeferred(server, where.host, where.port, LISTENER_ROLES[name]);
          deferred.push(b.deferred);
          addresses[name] = b.address;
          continue;
        }
        addresses[name] = await listenOn(
          server,
          where.host,
          where.port,
          LISTENER_ROLES[name],
          config.reusePort,
        );
      }
    } catch (e) {
      for (const d of deferred) releaseDeferred(d);
      await Promise.all(servers.map(closeServer));
      xds.close();
      closeCa();
      certs.close();
      throw e;
    }

    ztunnel = new Ztunnel({
      config,
      ctx,
      servers,
      hbone,
      hboneInbound,
      inPod,
      xds,
      addresses,
      caClose: closeCa,
    });
    ztunnel.#deferred = deferred;
    ztunnel.#wire();
    if (config.reusePort) allowQueueMigration(logger);
    xds.start();
    ztunnel.#lifecycle = { state: "running", since: Date.now() };
    logger.info(
      {
        listeners: Object.fromEntries(
          Object.entries(addresses).map(([k, a]) => [k, `${a.address}:${a.port}`]),
        ),
      },
      "ztunnel started",
    );
    return ztunnel;
  }

  #wire(): void {
    const { xds, metrics, logger, state } = this;
    const bundle = new TrustBundleFollower(this.certs);
    xds.on("change", (change) => {
      applyChange(state, change);
      const applied = bundle.apply(change);
      if (applied !== undefined) this.#logBundle(applied);
      metrics.xdsUpdates.inc({ type: change.typeUrl, result: "ack" });
      metrics.xdsLastUpdate.set({ type: change.typeUrl }, Date.now() / 1000);
      trace.trace("xds change", () => ({
        type: change.typeUrl,
        upserted: [...change.upserted.keys()],
        removed: change.removed,
      }));
      if (this.#synced) this.#warmCertificates();
    });
    xds.on("nack", (e) => {
      metrics.xdsUpdates.inc({ type: e.typeUrl, result: "nack" });
      logger.warn(
        { typeUrl: e.typeUrl, nonce: e.nonce },
        `xDS update rejected, keeping the last good config: ${e.message}`,
      );
    });
    xds.on("connected", () => {
      metrics.xdsConnected.set(1);
      logger.info("connected to the control plane");
    });
    xds.on("disconnected", (reason) => {
      metrics.xdsConnected.set(0);
      logger.warn({ reason }, "control plane connection lost; serving from the last config");
    });
    xds.synced().then(
      () => {
        this.#synced = true;
        this.#warmCertificates();
      },
      () => {},
    );
    this.certs.on("issued", (id, cred) =>
      metrics.certExpiry.set({ identity: id.toString() }, cred.notAfter.getTime() / 1000),
    );
    this.certs.on("rotated", (id, cred) => {
      metrics.certExpiry.set({ identity: id.toString() }, cred.notAfter.getTime() / 1000);
      metrics.certRotations.inc({ result: "ok" });
    });
    this.certs.on("renewal-failed", (id, e) => {
      metrics.certRotations.inc({ result: "error" });
      logger.warn(
        { identity: id.toString() },
        `certificate renewal failed, keeping the current one: ${e.message}`,
      );
    });
  }

  #logBundle(applied: TrustBundleApplied): void {
    if (applied.rootsChanged) this.logger.info("trust bundle updated: new handshakes use the new roots");
    if (applied.revoked.length > 0)
      this.logger.warn(
        { serials: applied.revoked },
        "certificates revoked: peers presenting them are refused, pooled sessions with them drain",
      );
    if (applied.renewing.length === 0) return;
    this.logger.info(
      { identities: applied.renewing.map(String) },
      "certificate rotation requested: renewing now",
    );
    applied.renewals.catch((e: Error) =>
      this.logger.warn(`forced renewal failed, keeping the current certificate: ${e.message}`),
    );
  }

  /** Fetches certificates of every local enrolled workload; readiness waits for the first round. */
  #warmCertificates(): void {
    const identities = new Set(
      this.state
        .localWorkloads()
        .filter((w) => w.tunnel === "hbone")
        .map((w) => w.identity),
    );
    // Identities whose workloads all left this node: stop renewing them and drop their keys.
    for (const cred of this.certs.list()) {
      if (!identities.has(cred.identity.toString())) this.certs.forget(cred.identity);
    }
    const run = Promise.allSettled([...identities].map((id) => this.certs.get(spiffe(id)))).then(
      (results) => {
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        for (const f of failed)
          this.logger.warn(`certificate fetch failed: ${String((f.reason as Error)?.message ?? f.reason)}`);
        if (failed.length === 0) {
          this.#certsReady = true;
          this.#openDeferred();
        } else if (this.#lifecycle.state === "running")
          setTimeout(() => this.#warmCertificates(), 1000).unref();
      },
    );
    this.#warming = run;
  }

  #openDeferred(): void {
    if (this.#deferred.length === 0 || this.#opening !== undefined || this.#lifecycle.state !== "running")
      return;
    const pending = this.#deferred;
    this.#opening = Promise.all(pending.map(listenDeferred)).then(
      () => {
        this.#deferred = [];
        this.logger.info("traffic listeners open (reuse-port): taking new connections");
      },
      (e: unknown) => {
        this.logger.error({ err: e }, "traffic listeners could not listen; staying not ready");
      },
    );
  }

  readiness(): Readiness {
    const waiting: string[] = [];
    if (!this.#synced) waiting.push("first xDS config");
    if (!this.#certsReady) waiting.push("certificates of local workloads");
    if (this.#deferred.length > 0)
      waiting.push("traffic listeners (opened once config and certificates are in)");
    if (this.#lifecycle.state !== "running") waiting.push(`lifecycle ${this.#lifecycle.state}`);
    waiting.push(...this.#gates);
    if (waiting.length === 0) return { ready: true, since: new Date().toISOString() };
    return { ready: false, waitingFor: waiting };
  }

  /**
   * Holds readiness until the returned function is called: `/healthz/ready` lists `what` meanwhile.
   * In-pod mode holds it until the node agent's snapshot of pods is served.
   */
  holdReadiness(what: string): () => void {
    this.#gates.add(what);
    return () => {
      this.#gates.delete(what);
    };
  }

  /**
   * Resolves when ready (first config + certificates, and no held gate but those in `except`), or
   * rejects after `timeoutMs`.
   */
  async whenReady(timeoutMs = 10_000, except: readonly string[] = []): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ready = (): boolean => {
      const r = this.readiness();
      return r.ready || r.waitingFor.every((w) => except.includes(w));
    };
    while (!ready()) {
      if (Date.now() > deadline) {
        throw new ZtunnelError(
          ZtunnelErrorCode.Config,
          `not ready after ${timeoutMs} ms: waiting for ${JSON.stringify(this.readiness())}`,
        );
      }
      await (this.#warming ?? Promise.resolve());
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Hand-over to a successor bound on the same ports (SO_REUSEPORT): stop accepting — the kernel
   * then routes every new connection to the successor — report not-ready, send GOAWAY on inbound
   * HBONE sessions, and let live connections run until they end or `deadlineMs` passes; then close.
   * This is Envoy's hot-restart drain and ztunnel's drain, with listeners shared by reuse-port
   * instead of passed over a socket.
   */
  async drain(deadlineMs: number): Promise<DrainResult> {
    if (this.#lifecycle.state !== "running") return { liveAtStart: 0, cutAtDeadline: 0 };
    const since = Date.now();
    this.#lifecycle = { state: "draining", since, deadline: since + deadlineMs };
    await this.#opening;
    this.inPod.stopAccepting();
    // close() without waiting for its callback: that fires only once every accepted connection ended.
    for (const server of this.#servers) {
      if (server.listening) server.close();
      if (server instanceof http.Server) server.closeIdleConnections();
    }
    const liveAtStart = this.#ctx.live.size;
    this.logger.info(
      { live: liveAtStart, deadlineMs },
      "draining: listeners closed, live connections continue",
    );
    // HBONE sessions end when their streams do; the margin lets the deadline below, not the
    // session timer, be what cuts a stream, so the count is right.
    const hbone = this.#hbone.drain(deadlineMs + 2000);
    while (this.#ctx.live.size > 0 && Date.now() < since + deadlineMs) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const cutAtDeadline = this.#ctx.live.size;
    for (const s of this.#ctx.live) s.destroy();
    await hbone;
    this.logger.info({ live: liveAtStart, cut: cutAtDeadline }, "drained");
    await this.close();
    return { liveAtStart, cutAtDeadline };
  }

  async close(): Promise<void> {
    if (this.#lifecycle.state === "closing" || this.#lifecycle.state === "closed") return;
    this.#lifecycle = { state: "closing" };
    await this.#opening;
    for (const d of this.#deferred) releaseDeferred(d);
    this.xds.close();
    // Stop accepting first; a listener's close completes only once its connections are gone, and
    // the HBONE server is what closes those (including sockets node:http2 abandoned), so wait last.
    const serversClosed = Promise.all([...this.#servers.map(closeServer), this.inPod.close()]);
    for (const s of this.#ctx.live) s.destroy();
    await Promise.all([this.#hbone.close(), this.pool.close(200)]);
    await serversClosed;
    this.#hboneInbound.flush();
    this.certs.close();
    this.#caClose?.();
    this.#lifecycle = { state: "closed" };
  }
}

export interface DrainResult {
  /** Live client connections when the listeners closed. */
  readonly liveAtStart: number;
  /** Connections still open at the deadline, closed then. */
  readonly cutAtDeadline: number;
}

function originalDestination(
  ctx: ProxyContext,
  socket: net.Socket,
  listener: "outbound" | "inboundPlaintext",
): OriginalDestination {
  const dst = ctx.config.originalDst?.(socket, listener) ?? {
    address: socket.localAddress ?? "",
    port: socket.localPort ?? 0,
  };
  const address = canonicalIp(dst.address);
  // Without a redirect the "original" destination is the listener itself: proxying would loop.
  if (address === canonicalIp(socket.localAddress ?? "") && dst.port === socket.localPort) {
    throw new ZtunnelError(
      ZtunnelErrorCode.OriginalDst,
      `connection to ${address}:${dst.port} reached the capture port directly; nothing to proxy`,
    );
  }
  return { address, port: dst.port };
}

/**
 * A capture listener. `inPod`: the pod whose netns this outbound listener lives in; a connection
 * from any address but that pod's own is dropped (in-pod, the netns is the source, not an IP).
 */
function captureServer(
  ctx: ProxyContext,
  listener: "outbound" | "inboundPlaintext",
  inPod?: { readonly pod: string; readonly owns: (ip: string) => boolean },
): net.Server {
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("error", () => {});
    if (inPod !== undefined && !inPod.owns(canonicalIp(socket.remoteAddress ?? ""))) {
      ctx.metrics.connectionErrors.inc({ direction: "outbound", reason: ZtunnelErrorCode.Denied });
      ctx.logger.warn(
        { pod: inPod.pod, remote: socket.remoteAddress },
        "in-pod outbound connection from an address that is not the pod's: dropped",
      );
      socket.destroy();
      return;
    }
    ctx.live.add(socket);
    socket.once("close", () => ctx.live.delete(socket));
    let dst: OriginalDestination;
    try {
      dst = originalDestination(ctx, socket, listener);
    } catch (e) {
      ctx.metrics.connectionErrors.inc({
        direction: listener === "outbound" ? "outbound" : "inbound",
        reason: ZtunnelErrorCode.OriginalDst,
      });
      ctx.logger.debug({ remote: socket.remoteAddress }, (e as Error).message);
      socket.destroy();
      return;
    }
    const run =
      listener === "outbound"
        ? handleOutbound(ctx, { entry: "capture", client: socket, dst: { ip: dst.address, port: dst.port } })
        : handlePlaintextInbound(ctx, socket, { ip: dst.address, port: dst.port });
    run.catch((e: unknown) => {
      ctx.logger.error({ err: e }, "connection handler failed");
      socket.destroy();
    });
  });
}

function socksServer(ctx: ProxyContext): net.Server {
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("error", () => {});
    ctx.live.add(socket);
    socket.once("close", () => ctx.live.delete(socket));
    socks5Handshake(socket, ctx.config.socks5Limits)
      .then(
        async (hs) => {
          let ip: string;
          if (hs.target.kind === "ip") ip = hs.target.ip;
          else {
            // Names resolve only to mesh services (ztunnel has no general DNS on this path).
            const svc = [...ctx.state.services()].find(
              (s) => s.hostname === (hs.target as { domain: string }).domain,
            );
            const vip = svc?.vips[0];
            if (vip === undefined) {
              hs.reply(0x04);
              ctx.metrics.connectionErrors.inc({ direction: "outbound", reason: ZtunnelErrorCode.NoRoute });
              return;
            }
            ip = vip;
          }
          await handleOutbound(ctx, {
            entry: "socks5",
            client: socket,
            dst: { ip, port: hs.target.port },
            reply: (c) => hs.reply(c),
          });
        },
        (e: unknown) => {
          ctx.metrics.connectionErrors.inc({ direction: "outbound", reason: ZtunnelErrorCode.Socks5 });
          ctx.logger.debug({ remote: socket.remoteAddress }, (e as Error).message);
        },
      )
      .catch((e: unknown) => {
        ctx.logger.error({ err: e }, "SOCKS5 handler failed");
        socket.destroy();
      });
  });
}
