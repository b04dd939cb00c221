/**
 * `ambit control`: the daemon. `start()` validates the config, opens the store, loads or creates
 * the CA and the admin token, issues the xDS server's certificate and binds every listener — a
 * taken port fails here, at start-up, naming the port. After that it only reacts: store changes
 * recompute the registry and publish xDS; the xDS server pushes (debounced) to every client.
 */
import { join, resolve } from "node:path";
import type { Message } from "@bufbuild/protobuf";
import { parseDocuments } from "../api/load.js";
import { DASHBOARD_SOCKET, DashboardServer } from "../dashboard/dashboard-server.js";
import { DashboardLogins } from "../dashboard/logins.js";
import { buildSnapshot } from "../dashboard/snapshot.js";
import { type CertificateAuthority, DEFAULT_MIN_TTL_SECONDS } from "../identity/ca.js";
import { parseCsr } from "../identity/keys.js";
import { normaliseSerial } from "../identity/revocation.js";
import { SpiffeId } from "../identity/spiffe.js";
import { bearerToken } from "../xds/auth.js";
import type { CertificateSigningRequest } from "../xds/ca-service.js";
import { TrustBundleSchema } from "../xds/gen/ambit/security/trust_bundle_pb.js";
import type { XdsLogger } from "../xds/log.js";
import type { XdsResourceInput } from "../xds/resource-store.js";
import { XdsServer } from "../xds/server.js";
import { TRUST_BUNDLE_RESOURCE, TRUST_BUNDLE_TYPE_URL, trustBundleMessage } from "../xds/trust-bundle.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, L7_RESOURCE_TYPE_URL } from "../xds/type-urls.js";
import { AdminApi } from "./admin-api.js";
import { type DataPlaneCaller, mayIssue } from "./ca-authz.js";
import {
  CaRotation,
  fingerprintOf,
  importCaDir,
  type RevokedCertificate,
  type RotationProgress,
} from "./ca-rotation.js";
import { type ControlConfig, type ControlOptions, controlConfig } from "./config.js";
import { Credentials } from "./credentials.js";
import { ControlError, ControlErrorCode } from "./errors.js";
import { FileStore } from "./file-store.js";
import {
  HealthCollector,
  localClusterTargets,
  type ScrapeTarget,
  waypointTargets,
} from "./health-collector.js";
import { type ControlLogger, defaultLogger } from "./log.js";
import { MeshState } from "./mesh-state.js";
import type { Registry } from "./registry.js";
import { issueServingCert, type ServingCert } from "./serving-cert.js";
import { TrafficCollector } from "./traffic-collector.js";
import { waypointStatuses } from "./waypoint-status.js";

export const ADMIN_SOCKET = "admin.sock";

export interface ControlPlaneDeps {
  log?: ControlLogger;
  /** ztunnel /metrics endpoints the health model scrapes; default: the nodes of `<home>/cluster.json`. */
  healthTargets?: () => Promise<readonly ScrapeTarget[]>;
}

export class ControlPlane {
  readonly config: ControlConfig;
  readonly state: MeshState;
  readonly credentials: Credentials;
  readonly rotation: CaRotation;
  readonly servingCert: ServingCert;
  readonly health: HealthCollector;
  readonly #store: FileStore;
  readonly #xds: XdsServer<DataPlaneCaller>;
  readonly #admin: AdminApi;
  readonly #log: ControlLogger;
  readonly #startedAt = new Date();
  readonly #adminPort: number | undefined;
  readonly #dashboard: DashboardServer;
  #issued = 0;
  #denied = 0;
  /** serial → root fingerprint and issue time of the leaves signed here, for rotation progress and `cert status`. */
  readonly #leafInfo = new Map<
    string,
    { root: string; issuedAt: number; notAfter: Date; identity: string }
  >();
  #rotationTimer: NodeJS.Timeout | undefined;
  #l7Scopes = "";

  private constructor(p: {
    config: ControlConfig;
    state: MeshState;
    credentials: Credentials;
    rotation: CaRotation;
    servingCert: ServingCert;
    health: HealthCollector;
    store: FileStore;
    xds: XdsServer<DataPlaneCaller>;
    admin: AdminApi;
    adminPort: number | undefined;
    log: ControlLogger;
    dashboard: DashboardServer;
  }) {
    this.#dashboard = p.dashboard;
    this.config = p.config;
    this.state = p.state;
    this.credentials = p.credentials;
    this.rotation = p.rotation;
    this.servingCert = p.servingCert;
    this.health = p.health;
    this.#store = p.store;
    this.#xds = p.xds;
    this.#admin = p.admin;
    this.#adminPort = p.adminPort;
    this.#log = p.log;
  }

  static async start(options: ControlOptions, deps: ControlPlaneDeps = {}): Promise<ControlPlane> {
    const config = controlConfig(options);
    const log = deps.log ?? defaultLogger();
    const credentials = new Credentials(config.home);
    await credentials.load();
    let rotation: CaRotation;
    try {
      const caOptions = {
        trustDomain: config.trustDomain,
        minTtlSeconds: Math.min(DEFAULT_MIN_TTL_SECONDS, config.certTtlSeconds),
      };
      if (config.caDir !== undefined) importCaDir(config.caDir, join(config.home, "ca"), caOptions);
      rotation = CaRotation.open(join(config.home, "ca"), {
        ...caOptions,
        certTtlSeconds: config.certTtlSeconds,
        log: (msg, fields) => log.info(fields, msg),
      });
    } catch (e) {
      if (e instanceof ControlError) throw e;
      throw new ControlError(
        ControlErrorCode.BAD_OPTIONS,
        `cannot load the CA from ${join(config.home, "ca")}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const servingCert = await issueServingCert({
      caDir: join(config.home, "ca"),
      trustDomain: config.trustDomain,
      listenHost: config.xdsHost,
      validityDays: 30,
    });
    const store = await FileStore.open({
      dir: config.home,
      parse: parseDocuments,
      log,
      debounceMs: config.storeDebounceMs,
    });
    const state = new MeshState({ ...config, store, log });
    await state.recompute();

    // Late-bound: the CA handler and authenticator need `cp`, which needs the server.
    let cp: ControlPlane | undefined;
    let xds: XdsServer<DataPlaneCaller> | undefined;
    let admin: AdminApi | undefined;
    const health = new HealthCollector({
      registry: () => state.registry,
      xdsClients: () => xds?.status() ?? [],
      caCertificates: () => [...rotation.signer.chainPem(), rotation.signer.rootPem()],
      targets: deps.healthTargets ?? withWaypoints(localClusterTargets(config.home), () => state.registry),
      log,
    });
    const traffic = new TrafficCollector({
      scrapeRound: () => health.scrapeRound(),
      registry: () => state.registry,
    });
    const logins = new DashboardLogins();
    const dashboard = new DashboardServer({
      snapshot: () =>
        buildSnapshot({
          health: () => health.report(),
          traffic: () => traffic.report(),
          certificates: () => health.certificates(),
        }),
      logins,
      log,
    });
    // A token written to disk by another process is picked up, re-reading at most once a second.
    let lastReload = 0;
    const mayReload = (): boolean => {
      if (Date.now() - lastReload < 1000) return false;
      lastReload = Date.now();
      return true;
    };
    try {
      xds = await XdsServer.listen<DataPlaneCaller>({
        address: `${config.xdsHost.includes(":") ? `[${config.xdsHost}]` : config.xdsHost}:${config.xdsPort}`,
        tls: {
          certChainPem: [servingCert.certPem, ...rotation.signer.chainPem()].join(""),
          keyPem: servingCert.keyPem,
        },
        extraSchemas: [TrustBundleSchema],
        authenticate: async (ctx) => {
          const token = bearerToken(ctx.metadata);
          const caller = token === null ? undefined : await credentialsCaller(credentials, token, mayReload);
          if (!caller)
            log.warn(
              { peer: ctx.peer, method: ctx.method },
              "xDS/CA caller refused: no valid node or waypoint token",
            );
          return caller ?? null;
        },
        // Waypoint L7 resources go to waypoints only, each seeing its own scope (translate-l7.ts).
        visible: (caller, typeUrl, name) =>
          typeUrl !== L7_RESOURCE_TYPE_URL ||
          (caller.kind === "waypoint" &&
            state.snapshot.l7.scopes.get(`${caller.namespace}/${caller.name}`)?.has(name) === true),
        debounceMs: config.debounceMs,
        ca: { handler: (caller, req) => (cp as ControlPlane).#createCertificate(caller, req) },
        log: xdsLogger(log),
      });
      admin = new AdminApi({
        state,
        credentials,
        log,
        status: () => (cp as ControlPlane).status(),
        health,
        traffic,
        dashboard: logins,
        certs: {
          list: () => ({ certificates: (cp as ControlPlane).certificates() }),
          rotate: (namespace) => (cp as ControlPlane).rotateCertificates(namespace),
          ca: () => (cp as ControlPlane).caStatus(),
          rotateRoot: (o) => (cp as ControlPlane).rotateRoot(o),
          revoke: (serial, reason) => (cp as ControlPlane).revokeCertificate(serial, reason),
          revoked: () => (cp as ControlPlane).revokedCertificates(),
        },
      });
      await admin.listenUnix(join(config.home, ADMIN_SOCKET));
      await dashboard.listenUnix(join(config.home, DASHBOARD_SOCKET));
      const adminPort = config.admin
        ? await admin.listenTcp(config.admin.host, config.admin.port)
        : undefined;
      cp = new ControlPlane({
        config,
        state,
        credentials,
        rotation,
        servingCert,
        health,
        store,
        xds,
        admin,
        adminPort,
        log,
        dashboard,
      });
    } catch (e) {
      await dashboard.close();
      await admin?.close();
      await xds?.close(0);
      state.close();
      await store.close();
      if (e instanceof ControlError) throw e;
      throw new ControlError(ControlErrorCode.BIND, (e as Error).message, { cause: e });
    }
    const started = cp;
    // Logged so a config change can be timed from the push that carried it (docs/waypoint.md).
    xds.on("push", (e) => {
      if (e.typeUrl === L7_RESOURCE_TYPE_URL)
        log.info(
          { stream: e.stream, node: e.node, version: e.version, upserts: e.upserts, removals: e.removals },
          "waypoint L7 config pushed",
        );
    });
    state.subscribe(() => started.#publish());
    started.#publish();
    rotation.onChange(() => started.#publishBundle());
    started.#publishBundle();
    // Rotation moves on when nodes ACK the bundle, and with time (leaves expiring).
    xds.on("ack", (e) => {
      if (e.typeUrl === TRUST_BUNDLE_TYPE_URL) started.#advanceRotation();
    });
    started.#rotationTimer = setInterval(() => started.#advanceRotation(), 1000);
    started.#rotationTimer.unref();
    log.info(
      {
        home: config.home,
        xds: `${config.xdsHost}:${started.xdsPort}`,
        admin: started.adminAddress,
        trustDomain: config.trustDomain,
      },
      "control plane serving",
    );
    return started;
  }

  /** The CA that signs now (it changes during a root rotation). */
  get ca(): CertificateAuthority {
    return this.rotation.signer;
  }

  get xdsPort(): number {
    return this.#xds.port;
  }

  get adminSocket(): string {
    return join(this.config.home, ADMIN_SOCKET);
  }

  get adminAddress(): string | undefined {
    return this.config.admin && this.#adminPort !== undefined
      ? `${this.config.admin.host}:${this.#adminPort}`
      : undefined;
  }

  status(): unknown {
    const registry = this.state.registry;
    return {
      controlPlane: {
        version: "0.1.0",
        pid: process.pid,
        startedAt: this.#startedAt.toISOString(),
        home: this.config.home,
        xdsAddress: `${this.config.xdsHost}:${this.xdsPort}`,
        adminSocket: this.adminSocket,
        adminAddress: this.adminAddress ?? null,
        trustDomain: this.config.trustDomain,
        servingIdentity: this.servingCert.identity,
        registryVersion: this.state.version,
      },
      ca: {
        trustDomain: this.ca.trustDomain,
        rootNotAfter: this.ca.notAfter.toISOString(),
        certTtlSeconds: this.config.certTtlSeconds,
        issued: this.#issued,
        denied: this.#denied,
        rotation: this.rotation.phase.state,
      },
      trustBundle: this.trustBundleStatus(),
      store: this.#store.info(),
      registry: {
        nodes: registry.nodes.length,
        workloads: registry.workloads.length,
        services: registry.services.length,
        problems: registry.problems,
      },
      policyWarnings: Object.fromEntries(this.state.snapshot.warnings),
      waypoints: waypointStatuses(
        registry,
        this.#store.list(),
        this.#xds.status().map((c) => ({ caller: c.caller, types: c.types })),
        ADDRESS_TYPE_URL,
      ),
      xds: {
        resources: {
          addresses: this.state.snapshot.addresses.size,
          authorizations: this.state.snapshot.authorizations.size,
          l7: this.state.snapshot.l7.resources.size,
        },
        clients: this.#xds.status().map((c) => ({
          stream: c.stream,
          caller: c.caller,
          node: c.node?.id ?? null,
          peer: c.peer,
          connectedAt: new Date(c.connectedAt).toISOString(),
          types: c.types,
        })),
      },
    };
  }

  async close(): Promise<void> {
    await this.#dashboard.close();
    clearInterval(this.#rotationTimer);
    await this.#admin.close();
    await this.#xds.close(500);
    this.state.close();
    await this.#store.close();
    this.#log.info({}, "control plane stopped");
  }

  #publish(): void {
    const snap = this.state.snapshot;
    const toInputs = (m: ReadonlyMap<string, Message>): Map<string, XdsResourceInput> =>
      new Map([...m].map(([k, v]) => [k, { resource: v }]));
    this.#xds.setResources(ADDRESS_TYPE_URL, toInputs(snap.addresses));
    this.#xds.setResources(AUTHORIZATION_TYPE_URL, toInputs(snap.authorizations));
    this.#xds.setResources(L7_RESOURCE_TYPE_URL, toInputs(snap.l7.resources));
    // A waypoint's scope can change without any resource changing (a service relabelled to it).
    const scopes = JSON.stringify([...snap.l7.scopes].map(([k, v]) => [k, [...v].sort()]));
    if (scopes !== this.#l7Scopes) {
      this.#l7Scopes = scopes;
      this.#xds.invalidate(L7_RESOURCE_TYPE_URL);
    }
  }

  /** Which node holds which version of the trust bundle; `behind` lists those not on the current one. */
  trustBundleStatus(): {
    version: string | null;
    roots: number;
    nodes: Array<{ caller: string; node: string | null; upToDate: boolean }>;
    behind: string[];
  } {
    const current = this.#xds.store.get(TRUST_BUNDLE_TYPE_URL, TRUST_BUNDLE_RESOURCE)?.version ?? null;
    const held = this.#xds.heldVersions(TRUST_BUNDLE_TYPE_URL, TRUST_BUNDLE_RESOURCE);
    const nodes = held.map((h) => ({
      caller: h.caller.id,
      node: h.node ?? null,
      upToDate: h.version !== undefined && h.version === current,
    }));
    const connected = new Set(held.filter((h) => h.caller.kind === "node").map((h) => h.caller.id));
    // A node that hosts workloads but has no stream cannot have the bundle either.
    const expected = new Set(
      this.state.registry.workloads.flatMap((w) => (w.node === undefined ? [] : [`node/${w.node}`])),
    );
    const behind = [
      ...new Set([
        ...nodes.filter((n) => !n.upToDate).map((n) => n.caller),
        ...[...expected].filter((id) => !connected.has(id)),
      ]),
    ].sort();
    return { version: current, roots: this.rotation.rootsPem().length, nodes, behind };
  }

  /** The CA's ledger: the latest leaf per caller and identity still in use, with its root and time left. */
  certificates(): Array<{
    caller: string;
    node: string | null;
    identity: string;
    serial: string;
    notBefore: string;
    notAfter: string;
    issuedAt: string | null;
    timeLeftSeconds: number;
    root: "active" | "retiring" | "unknown";
  }> {
    const now = Date.now();
    const active = fingerprintOf(this.rotation.signer.rootPem());
    return this.health
      .leavesInUse()
      .map((l) => {
        const info = this.#leafInfo.get(l.serial);
        return {
          caller: l.caller,
          node: l.node ?? null,
          identity: l.identity,
          serial: l.serial,
          notBefore: l.notBefore.toISOString(),
          notAfter: l.notAfter.toISOString(),
          issuedAt: info === undefined ? null : new Date(info.issuedAt).toISOString(),
          timeLeftSeconds: Math.max(0, Math.floor((l.notAfter.getTime() - now) / 1000)),
          root:
            info === undefined
              ? ("unknown" as const)
              : info.root === active
                ? ("active" as const)
                : ("retiring" as const),
        };
      })
      .sort((a, b) => a.identity.localeCompare(b.identity) || a.caller.localeCompare(b.caller));
  }

  /** `ambit cert rotate`: asks the nodes to renew now; the returned targets are the leaves to be replaced. */
  rotateCertificates(namespace: string | undefined): {
    generation: number;
    namespace: string | null;
    requestedAt: string;
    targets: Array<{ caller: string; identity: string; serial: string }>;
  } {
    const requestedAt = new Date().toISOString();
    const targets = this.certificates()
      .filter((c) => c.timeLeftSeconds > 0)
      .filter((c) => namespace === undefined || SpiffeId.parse(c.identity).namespace === namespace)
      .map((c) => ({ caller: c.caller, identity: c.identity, serial: c.serial }));
    const generation = this.rotation.requestRenewal(namespace);
    this.#log.info(
      { namespace: namespace ?? "*", generation, targets: targets.length },
      "certificate rotation requested",
    );
    return { generation, namespace: namespace ?? null, requestedAt, targets };
  }

  /**
   * `ambit ca revoke`: lists the serial in the trust bundle (peers refuse it at once, pooled sessions
   * with it drain) and the nodes holding it renew. An invalid serial is a 400 naming the value; an
   * unknown one is accepted (it is just a number) and reported as `known: false`.
   */
  revokeCertificate(
    serialInput: string,
    reason: string | undefined,
  ): {
    revoked: RevokedCertificate;
    added: boolean;
    known: boolean;
    heldBy: Array<{ caller: string; identity: string }>;
  } {
    let serial: string;
    try {
      serial = normaliseSerial(serialInput);
    } catch (e) {
      throw new ControlError(ControlErrorCode.BAD_REQUEST, (e as Error).message, { cause: e });
    }
    let info: { notAfter: Date; identity: string } | undefined;
    for (const [s, i] of this.#leafInfo) if (normaliseSerial(s) === serial) info = i;
    const { entry, added } = this.rotation.revoke(serial, {
      ...(reason !== undefined ? { reason } : {}),
      ...(info !== undefined ? { notAfter: info.notAfter, identity: info.identity } : {}),
    });
    const heldBy = this.certificates()
      .filter((c) => normaliseSerial(c.serial) === serial && c.timeLeftSeconds > 0)
      .map((c) => ({ caller: c.caller, identity: c.identity }));
    this.#log.warn(
      { serial, reason: entry.reason, known: info !== undefined, heldBy: heldBy.map((h) => h.caller) },
      info === undefined
        ? "certificate serial revoked (not issued by this control plane since its start)"
        : "certificate revoked",
    );
    return { revoked: entry, added, known: info !== undefined, heldBy };
  }

  /** `ambit ca revoked`: the revocation list (entries of expired certificates are gone). */
  revokedCertificates(): { revoked: RevokedCertificate[] } {
    return { revoked: this.rotation.revoked() };
  }

  /** `GET /v1/ca`: signer, roots, rotation phase and which nodes hold the current bundle. */
  caStatus(): unknown {
    return { ...(this.rotation.status() as object), trustBundle: this.trustBundleStatus() };
  }

  /** `ambit ca rotate-root`: starts a rotation (new self-signed root, or a CA from files), or retires early. */
  rotateRoot(o: { fromDir?: string; retireNow?: boolean }): unknown {
    if (o.retireNow === true) {
      this.#log.warn(
        {},
        "retiring the old root now (--retire-now): peers still holding its leaves will fail",
      );
      this.rotation.retireNow();
      return this.caStatus();
    }
    try {
      this.rotation.startRootRotation(
        o.fromDir === undefined ? { kind: "generate" } : { kind: "dir", dir: resolve(o.fromDir) },
      );
    } catch (e) {
      if (e instanceof ControlError && e.code === ControlErrorCode.ROTATION_CONFLICT) throw e;
      // Bad plug-in material is the caller's mistake: answer 400 with the loader's message.
      throw new ControlError(ControlErrorCode.BAD_REQUEST, (e as Error).message, { cause: e });
    }
    return this.caStatus();
  }

  #rotationProgress(): RotationProgress {
    const active = fingerprintOf(this.rotation.signer.rootPem());
    const now = Date.now();
    const oldLeavesInUse = this.health
      .leavesInUse()
      .filter((l) => l.notAfter.getTime() > now && this.#leafInfo.get(l.serial)?.root !== active).length;
    return { nodesBehind: this.trustBundleStatus().behind, oldLeavesInUse };
  }

  #advanceRotation(): void {
    this.rotation.pruneRevocations();
    if (this.rotation.phase.state === "idle") return;
    try {
      this.rotation.advance(this.#rotationProgress());
    } catch (e) {
      this.#log.error({ err: String(e) }, "root rotation step failed; retrying in a second");
    }
  }

  #publishBundle(): void {
    this.#xds.setResources(
      TRUST_BUNDLE_TYPE_URL,
      new Map([[TRUST_BUNDLE_RESOURCE, { resource: trustBundleMessage(this.rotation.bundle()) }]]),
    );
  }

  async #createCertificate(
    caller: DataPlaneCaller,
    req: CertificateSigningRequest,
  ): Promise<{ certChain: string[] }> {
    const csr = parseCsr(req.csr);
    if (csr.uriSans.length !== 1 || csr.uriSans[0] === undefined) {
      throw new ControlError(
        ControlErrorCode.BAD_REQUEST,
        `the CSR must carry exactly one URI SAN, found ${csr.uriSans.length}`,
      );
    }
    const identity = SpiffeId.parse(csr.uriSans[0]);
    const decision = mayIssue(caller, identity, this.state.registry, this.config.trustDomain);
    if (!decision.allowed) {
      this.#denied += 1;
      this.#log.warn(
        { caller: caller.id, requested: identity.toString(), reason: decision.reason },
        "certificate refused",
      );
      throw new ControlError(
        ControlErrorCode.PERMISSION_DENIED,
        `${caller.id} may not get ${identity.toString()}: ${decision.reason}`,
      );
    }
    // A shorter requested lifetime is honoured down to the CA's floor; a longer one is cut to --cert-ttl.
    const max = this.config.certTtlSeconds;
    const requested = req.validityDuration > 0 ? Math.floor(req.validityDuration) : max;
    const ttlSeconds = Math.min(max, Math.max(requested, Math.min(DEFAULT_MIN_TTL_SECONDS, max)));
    const signer = this.rotation.signer;
    const issued = signer.signCsr(req.csr, { identity, ttlSeconds });
    this.#issued += 1;
    this.#leafInfo.set(issued.serial, {
      root: fingerprintOf(signer.rootPem()),
      issuedAt: Date.now(),
      notAfter: issued.notAfter,
      identity: identity.toString(),
    });
    if (this.#leafInfo.size > 100_000) {
      const oldest = this.#leafInfo.keys().next().value;
      if (oldest !== undefined) this.#leafInfo.delete(oldest);
    }
    this.health.recordIssued({
      caller: caller.id,
      node: caller.kind === "node" ? caller.node : undefined,
      identity: identity.toString(),
      serial: issued.serial,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
    });
    this.#log.info(
      { caller: caller.id, identity: identity.toString(), serial: issued.serial, notAfter: issued.notAfter },
      "certificate issued",
    );
    // Every trusted root follows the chain (the signer's first), as Istio appends its root: a node learns
    // the bundle with each certificate, even before the pushed TrustBundle reaches it.
    return { certChain: [issued.certPem, ...issued.chainPem, ...this.rotation.rootsPem()] };
  }
}

async function credentialsCaller(
  credentials: Credentials,
  token: string,
  mayReload: () => boolean,
): Promise<DataPlaneCaller | undefined> {
  let s = credentials.subjectOf(token);
  if (!s && mayReload()) {
    await credentials.reload();
    s = credentials.subjectOf(token);
  }
  if (!s) return undefined;
  return s.kind === "node"
    ? { kind: "node", id: `node/${s.node}`, node: s.node }
    : { kind: "waypoint", id: `waypoint/${s.namespace}/${s.name}`, namespace: s.namespace, name: s.name };
}

function xdsLogger(log: ControlLogger): XdsLogger {
  return {
    debug: (o, m) => log.debug(o, m),
    info: (o, m) => log.info(o, m),
    warn: (o, m) => log.warn(o, m),
    error: (o, m) => log.error(o, m),
  };
}

/** The local cluster's ztunnels plus the registry's waypoints (for the traffic graph's L7 figures). */
function withWaypoints(
  ztunnels: () => Promise<ScrapeTarget[]>,
  registry: () => Registry,
): () => Promise<ScrapeTarget[]> {
  const waypoints = waypointTargets(registry);
  return async () => [...(await ztunnels()), ...waypoints()];
}
