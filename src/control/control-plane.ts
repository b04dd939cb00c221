/**
 * `ambit control`: the daemon. `start()` validates the config, opens the store, loads or creates
 * the CA and the admin token, issues the xDS server's certificate and binds every listener — a
 * taken port fails here, at start-up, naming the port. After that it only reacts: store changes
 * recompute the registry and publish xDS; the xDS server pushes (debounced) to every client.
 */
import { join } from "node:path";
import type { Message } from "@bufbuild/protobuf";
import { parseDocuments } from "../api/load.js";
import { CertificateAuthority, DEFAULT_MIN_TTL_SECONDS } from "../identity/ca.js";
import { parseCsr } from "../identity/keys.js";
import { SpiffeId } from "../identity/spiffe.js";
import { bearerToken } from "../xds/auth.js";
import type { CertificateSigningRequest } from "../xds/ca-service.js";
import type { XdsLogger } from "../xds/log.js";
import type { XdsResourceInput } from "../xds/resource-store.js";
import { XdsServer } from "../xds/server.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, L7_RESOURCE_TYPE_URL } from "../xds/type-urls.js";
import { AdminApi } from "./admin-api.js";
import { type DataPlaneCaller, mayIssue } from "./ca-authz.js";
import { type ControlConfig, type ControlOptions, controlConfig } from "./config.js";
import { Credentials } from "./credentials.js";
import { ControlError, ControlErrorCode } from "./errors.js";
import { FileStore } from "./file-store.js";
import { HealthCollector, localClusterTargets, type ScrapeTarget } from "./health-collector.js";
import { type ControlLogger, defaultLogger } from "./log.js";
import { MeshState } from "./mesh-state.js";
import { issueServingCert, type ServingCert } from "./serving-cert.js";
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
  readonly ca: CertificateAuthority;
  readonly servingCert: ServingCert;
  readonly health: HealthCollector;
  readonly #store: FileStore;
  readonly #xds: XdsServer<DataPlaneCaller>;
  readonly #admin: AdminApi;
  readonly #log: ControlLogger;
  readonly #startedAt = new Date();
  readonly #adminPort: number | undefined;
  #issued = 0;
  #denied = 0;
  #l7Scopes = "";

  private constructor(p: {
    config: ControlConfig;
    state: MeshState;
    credentials: Credentials;
    ca: CertificateAuthority;
    servingCert: ServingCert;
    health: HealthCollector;
    store: FileStore;
    xds: XdsServer<DataPlaneCaller>;
    admin: AdminApi;
    adminPort: number | undefined;
    log: ControlLogger;
  }) {
    this.config = p.config;
    this.state = p.state;
    this.credentials = p.credentials;
    this.ca = p.ca;
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
    let ca: CertificateAuthority;
    try {
      ca = CertificateAuthority.loadOrCreate(join(config.home, "ca"), {
        trustDomain: config.trustDomain,
        minTtlSeconds: Math.min(DEFAULT_MIN_TTL_SECONDS, config.certTtlSeconds),
      });
    } catch (e) {
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
      caCertificates: () => [...ca.chainPem(), ca.rootPem()],
      targets: deps.healthTargets ?? localClusterTargets(config.home),
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
        tls: { certChainPem: [servingCert.certPem, ...ca.chainPem()].join(""), keyPem: servingCert.keyPem },
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
      admin = new AdminApi({ state, credentials, log, status: () => (cp as ControlPlane).status(), health });
      await admin.listenUnix(join(config.home, ADMIN_SOCKET));
      const adminPort = config.admin
        ? await admin.listenTcp(config.admin.host, config.admin.port)
        : undefined;
      cp = new ControlPlane({
        config,
        state,
        credentials,
        ca,
        servingCert,
        health,
        store,
        xds,
        admin,
        adminPort,
        log,
      });
    } catch (e) {
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
      },
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
    const issued = this.ca.signCsr(req.csr, { identity, ttlSeconds });
    this.#issued += 1;
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
    return { certChain: [issued.certPem, ...issued.chainPem, issued.rootPem] };
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
