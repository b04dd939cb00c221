/**
 * The waypoint daemon (`ambit waypoint`): an L7 proxy in front of the services that name it with
 * `istio.io/use-waypoint`. `Waypoint.start` validates the config and binds 15008 (HBONE), 15020
 * (metrics) and 15021 (readiness), then fetches its own certificate and the address book; it is
 * ready once both are in. Ztunnels send it CONNECTs whose `:authority` is the service VIP:port.
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Resource } from "../api/types.js";
import { HbonePool } from "../hbone/pool.js";
import { logPoolSessions } from "../hbone/pool-log.js";
import type { ConnectDecision, ConnectRequest } from "../hbone/server.js";
import { HboneServer } from "../hbone/server.js";
import type { CertStore } from "../identity/cert-store.js";
import type { WorkloadCredential } from "../identity/credential.js";
import { SpiffeId } from "../identity/spiffe.js";
import { AccessLog } from "../telemetry/access-log.js";
import { createLogger, type Logger } from "../telemetry/logger.js";
import { createMeshMetrics, type MeshMetrics } from "../telemetry/metrics.js";
import { controlPlaneCertStore } from "../xds/ca-service.js";
import { XdsClient } from "../xds/client.js";
import type { L7Resource } from "../xds/gen/ambit/waypoint/l7_pb.js";
import { type Address, AddressSchema } from "../xds/gen/istio/workload/workload_pb.js";
import { defineResourceType } from "../xds/resource-types.js";
import { TRUST_BUNDLE_TYPE, TrustBundleFollower } from "../xds/trust-bundle.js";
import { ADDRESS_TYPE_URL, L7_RESOURCE_TYPE_URL } from "../xds/type-urls.js";
import { AddressBook } from "./address-book.js";
import { type WaypointConfig, type WaypointOptions, waypointConfig } from "./config.js";
import type { InboundConnection, WaypointContext } from "./context.js";
import { duplexPair } from "./duplex-pair.js";
import { WaypointError, WaypointErrorCode } from "./errors.js";
import { HttpProxy } from "./http-proxy.js";
import { compileL7, decodeL7Resource, type L7Snapshot, WAYPOINT_L7_TYPE } from "./l7-config.js";
import { detectProtocol, relayTcp } from "./tcp-proxy.js";

export interface WaypointRuntime {
  readonly logger?: Logger;
  readonly metrics?: MeshMetrics;
}

type Lifecycle = { state: "running"; since: number } | { state: "closing" } | { state: "closed" };

const ADDRESS_TYPE = defineResourceType(AddressSchema);

function listen(server: net.Server, host: string, port: number, role: string): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new WaypointError(
          WaypointErrorCode.Bind,
          `port ${port} (${role}) on ${host} ${
            e.code === "EADDRINUSE"
              ? "is already in use: stop the other program or choose another port"
              : `cannot be bound (${e.code ?? e.message})`
          }`,
          { cause: e },
        ),
      ),
    );
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      resolve(server.address() as net.AddressInfo);
    });
  });
}

function closeServer(s: net.Server): Promise<void> {
  return new Promise((r) => {
    if (!s.listening) return r();
    s.close(() => r());
    if (s instanceof http.Server) s.closeAllConnections();
  });
}

export class Waypoint {
  readonly config: WaypointConfig;
  readonly identity: SpiffeId;
  readonly metrics: MeshMetrics;
  readonly logger: Logger;
  readonly addresses: {
    readonly hbone: net.AddressInfo;
    readonly metrics: net.AddressInfo;
    readonly readiness: net.AddressInfo;
  };
  readonly #servers: net.Server[];
  readonly #hbone: HboneServer;
  readonly #pool: HbonePool;
  readonly #certs: CertStore;
  readonly #xds: XdsClient;
  readonly #http: HttpProxy;
  readonly #caClose: (() => void) | undefined;
  readonly #live = new Set<Duplex>();
  #l7: L7Snapshot;
  /** Resources from options / `--config` (setResources) and from xDS, compiled together. */
  #staticResources: readonly Resource[];
  readonly #xdsResources = new Map<string, Resource>();
  #credential: WorkloadCredential | undefined;
  #synced = false;
  #lifecycle: Lifecycle = { state: "running", since: Date.now() };

  private constructor(init: {
    config: WaypointConfig;
    metrics: MeshMetrics;
    logger: Logger;
    servers: net.Server[];
    hbone: HboneServer;
    pool: HbonePool;
    certs: CertStore;
    xds: XdsClient;
    http: HttpProxy;
    addresses: Waypoint["addresses"];
    caClose: (() => void) | undefined;
    l7: L7Snapshot;
  }) {
    this.config = init.config;
    this.identity = SpiffeId.of(init.config.namespace, init.config.name, init.config.trustDomain);
    this.metrics = init.metrics;
    this.logger = init.logger;
    this.#servers = init.servers;
    this.#hbone = init.hbone;
    this.#pool = init.pool;
    this.#certs = init.certs;
    this.#xds = init.xds;
    this.#http = init.http;
    this.addresses = init.addresses;
    this.#caClose = init.caClose;
    this.#l7 = init.l7;
    this.#staticResources = init.config.resources;
  }

  static async start(options: WaypointOptions, runtime: WaypointRuntime = {}): Promise<Waypoint> {
    const config = waypointConfig(options);
    const logger =
      runtime.logger ??
      createLogger({ name: "waypoint", base: { waypoint: `${config.namespace}/${config.name}` } });
    const metrics = runtime.metrics ?? createMeshMetrics({ defaultLabels: {} });
    const l7 = compileL7(config.resources);
    for (const p of l7.problems) logger.warn(`L7 config: ${p}`);
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
    const pool = new HbonePool(config.hboneConnector !== undefined ? { connect: config.hboneConnector } : {});
    logPoolSessions(pool, logger);
    const xds = new XdsClient({
      address: config.control.address,
      tls: config.control.tls,
      ...(config.control.token !== undefined ? { token: config.control.token } : {}),
      node: {
        id: `waypoint~${config.namespace}~${config.name}`,
        metadata: { kind: "waypoint", NAMESPACE: config.namespace, NAME: config.name },
      },
      subscriptions: [{ type: ADDRESS_TYPE }, { type: TRUST_BUNDLE_TYPE }, { type: WAYPOINT_L7_TYPE }],
      ...(config.control.backoff !== undefined ? { backoff: config.control.backoff } : {}),
      log: logger.child({ component: "xds" }),
    });
    let waypoint: Waypoint | undefined;
    const hbone = new HboneServer({
      credentialFor: () => (waypoint === undefined ? undefined : waypoint.#credential),
      authorize: (req) =>
        waypoint === undefined ? { allow: false, status: 503, reason: "starting" } : waypoint.#authorize(req),
      onRejected: (e, remote) => {
        metrics.handshakeErrors.inc({ direction: "inbound", reason: e.code });
        logger.debug({ remote }, e.message);
      },
    });
    const servers: net.Server[] = [];
    const host = config.bindAddress;
    let addresses: Waypoint["addresses"];
    try {
      const inbound = net.createServer({ allowHalfOpen: true, noDelay: true }, (raw) =>
        hbone.handleConnection(raw, { address: raw.localAddress ?? host, port: raw.localPort ?? 0 }),
      );
      servers.push(inbound);
      const hboneAddr = await listen(inbound, host, config.ports.hbone, "HBONE");
      const metricsServer = http.createServer((req, res) => {
        if (req.url?.split("?")[0] !== "/metrics") {
          res.writeHead(404).end("try /metrics\n");
          return;
        }
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      });
      servers.push(metricsServer);
      const metricsAddr = await listen(metricsServer, host, config.ports.metrics, "metrics");
      const readyServer = http.createServer((req, res) => {
        if (req.url?.split("?")[0] !== "/healthz/ready") {
          res.writeHead(404).end("try /healthz/ready\n");
          return;
        }
        const waiting = waypoint?.waitingFor() ?? ["start-up"];
        res
          .writeHead(waiting.length === 0 ? 200 : 503, { "content-type": "application/json" })
          .end(
            JSON.stringify(waiting.length === 0 ? { ready: true } : { ready: false, waitingFor: waiting }),
          );
      });
      servers.push(readyServer);
      const readyAddr = await listen(readyServer, host, config.ports.readiness, "readiness");
      addresses = { hbone: hboneAddr, metrics: metricsAddr, readiness: readyAddr };
    } catch (e) {
      await Promise.all(servers.map(closeServer));
      xds.close();
      closeCa();
      certs.close();
      throw e;
    }
    let rr = 0;
    const counters = new Map<string, number>();
    const ctx: WaypointContext = {
      config,
      book: new AddressBook(),
      l7: () => waypoint!.#l7,
      credential: () => (waypoint === undefined ? undefined : waypoint.#credential),
      pool,
      metrics,
      accessLog: new AccessLog({ logger: logger.child({ component: "access" }) }),
      logger,
      next: (key, n) => {
        const i = counters.get(key) ?? rr++;
        counters.set(key, i + 1);
        return i % n;
      },
    };
    const httpProxy = new HttpProxy(ctx);
    waypoint = new Waypoint({
      config,
      metrics,
      logger,
      servers,
      hbone,
      pool,
      certs,
      xds,
      http: httpProxy,
      addresses,
      caClose: closeCa,
      l7,
    });
    waypoint.#ctx = ctx;
    waypoint.#wire();
    xds.start();
    logger.info(
      { identity: waypoint.identity.toString(), hbone: `${addresses.hbone.address}:${addresses.hbone.port}` },
      "waypoint started",
    );
    return waypoint;
  }

  #ctx: WaypointContext | undefined;

  /**
   * Replaces the locally given L7 resources (those of `--config`); resources from xDS are kept and
   * compiled with them. The next request sees the result.
   */
  setResources(resources: WaypointOptions["resources"]): void {
    this.#staticResources = resources ?? [];
    this.#recompile();
  }

  #recompile(): void {
    this.#l7 = compileL7([...this.#staticResources, ...this.#xdsResources.values()]);
    for (const p of this.#l7.problems) this.logger.warn(`L7 config: ${p}`);
  }

  /** The L7 resources received over xDS, by `kind/namespace/name` (for inspection and tests). */
  get xdsL7Resources(): ReadonlyMap<string, Resource> {
    return this.#xdsResources;
  }

  #wire(): void {
    const book = this.#ctx!.book;
    const bundle = new TrustBundleFollower(this.#certs);
    this.#xds.on("change", (change) => {
      bundle
        .apply(change)
        ?.renewals.catch((e: Error) => this.logger.warn(`forced renewal failed: ${e.message}`));
      if (change.typeUrl === L7_RESOURCE_TYPE_URL) {
        for (const name of change.removed) this.#xdsResources.delete(name);
        for (const [name, message] of change.upserted) {
          // Already validated and compiled by WAYPOINT_L7_TYPE before the change was accepted.
          const decoded = decodeL7Resource(message as unknown as L7Resource, name);
          if ("resource" in decoded) this.#xdsResources.set(name, decoded.resource);
        }
        this.#recompile();
        this.metrics.xdsUpdates.inc({ type: change.typeUrl, result: "ack" });
        this.logger.info(
          { version: change.version, resources: this.#xdsResources.size },
          "L7 config from xDS applied",
        );
        return;
      }
      if (change.typeUrl !== ADDRESS_TYPE_URL) return;
      for (const name of change.removed) book.remove(name);
      for (const [name, message] of change.upserted) book.upsert(name, message as unknown as Address);
      this.metrics.xdsUpdates.inc({ type: change.typeUrl, result: "ack" });
    });
    this.#xds.on("connected", () => this.metrics.xdsConnected.set(1));
    this.#xds.on("disconnected", () => this.metrics.xdsConnected.set(0));
    this.#xds.synced().then(
      () => {
        this.#synced = true;
      },
      () => {},
    );
    const install = (cred: WorkloadCredential): void => {
      this.#credential = cred;
      this.metrics.certExpiry.set({ identity: cred.identity.toString() }, cred.notAfter.getTime() / 1000);
    };
    this.#certs.on("rotated", (_id, cred) => install(cred));
    // Same certificate, new roots (root rotation): new handshakes must trust them.
    this.#certs.on("trust-bundle", () => {
      const cred = this.#certs.current(this.identity);
      if (cred !== undefined) install(cred);
    });
    const fetch = (): void => {
      this.#certs.get(this.identity).then(install, (e: Error) => {
        this.logger.warn(`certificate fetch for ${this.identity.toString()} failed, retrying: ${e.message}`);
        if (this.#lifecycle.state === "running") setTimeout(fetch, 1000).unref();
      });
    };
    fetch();
  }

  waitingFor(): string[] {
    const waiting: string[] = [];
    if (!this.#synced) waiting.push("first xDS config");
    if (this.#credential === undefined) waiting.push("waypoint certificate");
    if (this.#lifecycle.state !== "running") waiting.push(`lifecycle ${this.#lifecycle.state}`);
    return waiting;
  }

  async whenReady(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.waitingFor().length > 0) {
      if (Date.now() > deadline)
        throw new WaypointError(
          WaypointErrorCode.Config,
          `not ready after ${timeoutMs} ms: waiting for ${this.waitingFor().join(", ")}`,
        );
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The address book the request path reads (the context's; `book` is kept for inspection). */
  get addressBook(): AddressBook {
    return this.#ctx!.book;
  }

  #authorize(req: ConnectRequest): ConnectDecision {
    const ctx = this.#ctx!;
    const { host, port } = req.target;
    const service = ctx.book.serviceByVip(host);
    if (service === undefined) {
      this.metrics.connectionErrors.inc({ direction: "inbound", reason: WaypointErrorCode.UnknownTarget });
      return {
        allow: false,
        status: 403,
        reason: `${host}:${port} is not the VIP of a service this waypoint knows (${WaypointErrorCode.UnknownTarget})`,
      };
    }
    const conn: InboundConnection = {
      connId: req.connId,
      peer: req.peer,
      peerIp: req.remoteAddress,
      service,
      vip: host,
      port,
    };
    return {
      allow: true,
      connect: async () => {
        const [outer, inner] = duplexPair();
        inner.on("error", () => {});
        this.#live.add(inner);
        inner.once("close", () => this.#live.delete(inner));
        inner.remoteAddress = req.remoteAddress;
        this.#dispatch(inner, conn).catch((e: unknown) => {
          this.logger.error({ err: e }, "waypoint connection handler failed");
          inner.destroy();
        });
        return outer;
      },
    };
  }

  async #dispatch(stream: Duplex, conn: InboundConnection): Promise<void> {
    const ctx = this.#ctx!;
    // MySQL is server-first: the client says nothing until the greeting, so the port decides.
    if (ctx.l7().mysqlPorts.has(`${conn.service.hostname}:${conn.port}`)) {
      await relayTcp(ctx, stream, conn, "mysql");
      return;
    }
    const kind = await detectProtocol(stream, ctx.config.detectTimeoutMs);
    if (kind === "http1") this.#http.serve(stream, conn);
    else if (kind === "http2") this.#http.serveHttp2(stream, conn);
    else await relayTcp(ctx, stream, conn);
  }

  async close(): Promise<void> {
    if (this.#lifecycle.state !== "running") return;
    this.#lifecycle = { state: "closing" };
    this.#xds.close();
    // The HBONE listener's close waits for its sockets, which the HBONE server closes: run both.
    const closing = Promise.all(this.#servers.map(closeServer));
    this.#http.close();
    for (const s of this.#live) s.destroy();
    await Promise.all([this.#hbone.close(), this.#pool.close(200), closing]);
    this.#certs.close();
    this.#caClose?.();
    this.#lifecycle = { state: "closed" };
  }
}
