import { EventEmitter } from "node:events";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { status as GrpcStatus, Server, type ServerDuplexStream } from "@grpc/grpc-js";
import { authContextOf, type XdsAuthenticator, type XdsCaller } from "./auth.js";
import { type CaServiceOptions, caServiceImplementation } from "./ca-service.js";
import { type ServerTlsOptions, serverCredentials } from "./credentials.js";
import {
  DeltaStream,
  type NackRecord,
  type NodeInfo,
  type SentRecord,
  type StreamHost,
  type TypeStatus,
} from "./delta-stream.js";
import { XdsError, XdsErrorCode } from "./errors.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { aggregatedDiscoveryService, DELTA_ADS_PATH, istioCertificateService } from "./grpc-definitions.js";
import { SILENT_LOGGER, type XdsLogger } from "./log.js";
import { type XdsResourceDelta, type XdsResourceInput, XdsResourceStore } from "./resource-store.js";
import { trace } from "./trace.js";

export interface XdsServerOptions<C extends XdsCaller> {
  /** host:port; production uses ":15012" on all interfaces, tests "127.0.0.1:0". */
  readonly address: string;
  readonly tls: ServerTlsOptions;
  /** Who is calling; null refuses the stream (or CA call) with UNAUTHENTICATED. */
  readonly authenticate: XdsAuthenticator<C>;
  /** Whether `caller` may see this resource (a node sees only what concerns it). Default: everything. */
  readonly visible?: (caller: C, typeUrl: string, name: string, resource: Message) => boolean;
  /** Quiet period before a push: changes arriving within it go out together (default 100 ms). */
  readonly debounceMs?: number;
  /** A push waits at most this long after the first pending change, however busy (default 1000 ms). */
  readonly debounceMaxMs?: number;
  /** Schemas of extra resource types (ambit's own) the store may hold. */
  readonly extraSchemas?: readonly DescMessage[];
  /** Also serve istio.v1.auth.IstioCertificateService on the same port. */
  readonly ca?: CaServiceOptions<C>;
  readonly log?: XdsLogger;
  /** Largest request accepted from a client (default 4 MiB). */
  readonly maxReceiveBytes?: number;
}

interface XdsServerConfig<C extends XdsCaller> {
  readonly address: string;
  readonly tls: ServerTlsOptions;
  readonly authenticate: XdsAuthenticator<C>;
  readonly visible: (caller: C, typeUrl: string, name: string, resource: Message) => boolean;
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
  readonly extraSchemas: readonly DescMessage[];
  readonly ca: CaServiceOptions<C> | undefined;
  readonly log: XdsLogger;
  readonly maxReceiveBytes: number;
}

function configure<C extends XdsCaller>(o: XdsServerOptions<C>): XdsServerConfig<C> {
  const debounceMs = o.debounceMs ?? 100;
  const debounceMaxMs = o.debounceMaxMs ?? 1000;
  if (!Number.isFinite(debounceMs) || debounceMs < 0 || debounceMs > 60_000) {
    throw new XdsError(XdsErrorCode.Config, `debounceMs ${debounceMs} out of range, expected 0-60000`);
  }
  if (!Number.isFinite(debounceMaxMs) || debounceMaxMs < debounceMs) {
    throw new XdsError(
      XdsErrorCode.Config,
      `debounceMaxMs ${debounceMaxMs} must be a number ≥ debounceMs (${debounceMs})`,
    );
  }
  if (!/^.+:\d{1,5}$/.test(o.address)) {
    throw new XdsError(XdsErrorCode.Config, `address "${o.address}" is not host:port (e.g. "0.0.0.0:15012")`);
  }
  return Object.freeze({
    address: o.address,
    tls: o.tls,
    authenticate: o.authenticate,
    visible: o.visible ?? (() => true),
    debounceMs,
    debounceMaxMs,
    extraSchemas: o.extraSchemas ?? [],
    ca: o.ca,
    log: o.log ?? SILENT_LOGGER,
    maxReceiveBytes: o.maxReceiveBytes ?? 4 * 1024 * 1024,
  });
}

/** One connected xDS client, as `ambit status` shows it. */
export interface XdsConnectionStatus<C> {
  readonly stream: string;
  readonly caller: C;
  readonly node?: NodeInfo;
  readonly peer: string;
  readonly connectedAt: number;
  readonly types: readonly TypeStatus[];
}

export interface XdsServerEvents<C> {
  connect: [stream: { id: string; caller: C; peer: string }];
  disconnect: [stream: { id: string; caller: C; reason: string }];
  push: [event: { stream: string; node: string | undefined; typeUrl: string } & SentRecord];
  ack: [event: { stream: string; node: string | undefined; typeUrl: string; version: string }];
  nack: [event: { stream: string; node: string | undefined; typeUrl: string } & NackRecord];
}

type PushState = { state: "idle" } | { state: "pending"; firstChangeAt: number; timer: NodeJS.Timeout };

/**
 * The control plane's delta ADS server (and, optionally, its CA endpoint) on one TLS port.
 * The control plane publishes resources with setResources/applyDelta; every connected client
 * gets, after a debounce, one incremental response per type with only what changed and what it
 * may see.
 */
export class XdsServer<C extends XdsCaller> extends EventEmitter<XdsServerEvents<C>> {
  readonly port: number;
  readonly store: XdsResourceStore;
  readonly #config: XdsServerConfig<C>;
  readonly #grpc: Server;
  readonly #streams = new Map<string, DeltaStream<C>>();
  readonly #unsubscribe: () => void;
  readonly #host: StreamHost<C>;
  #push: PushState = { state: "idle" };
  #nextStream = 0;
  #closed = false;

  private constructor(config: XdsServerConfig<C>, grpc: Server, port: number) {
    super();
    this.#config = config;
    this.#grpc = grpc;
    this.port = port;
    this.store = new XdsResourceStore(config.extraSchemas);
    this.#host = {
      store: this.store,
      log: config.log,
      visible: (caller: C, typeUrl: string, name: string, resource: Message): boolean => {
        try {
          return this.#config.visible(caller, typeUrl, name, resource);
        } catch (e) {
          // A failing filter hides the resource: fail closed, never leak.
          this.#config.log.error({ typeUrl, name, err: String(e) }, "xds visibility filter threw");
          return false;
        }
      },
      onAck: (s: DeltaStream<C>, typeUrl: string, version: string) => {
        trace("ack", { stream: s.id, node: s.node?.id, typeUrl, version });
        this.emit("ack", { stream: s.id, node: s.node?.id, typeUrl, version });
      },
      onNack: (s: DeltaStream<C>, typeUrl: string, nack: NackRecord) => {
        this.#config.log.warn(
          {
            stream: s.id,
            node: s.node?.id,
            typeUrl,
            version: nack.version,
            names: nack.names.slice(0, 10),
            error: nack.message,
          },
          "xds NACK: client rejected config, it keeps its last good version",
        );
        trace("nack", {
          stream: s.id,
          node: s.node?.id,
          typeUrl,
          version: nack.version,
          error: nack.message,
        });
        this.emit("nack", { stream: s.id, node: s.node?.id, typeUrl, ...nack });
      },
      onPush: (s: DeltaStream<C>, typeUrl: string, sent: SentRecord) => {
        trace("push", { stream: s.id, node: s.node?.id, typeUrl, ...sent });
        this.emit("push", { stream: s.id, node: s.node?.id, typeUrl, ...sent });
      },
      onClose: (s: DeltaStream<C>, reason: string) => {
        if (!this.#streams.delete(s.id)) return;
        this.#config.log.info({ stream: s.id, node: s.node?.id, reason }, "xds client disconnected");
        this.emit("disconnect", { id: s.id, caller: s.caller, reason });
      },
    };
    this.#unsubscribe = this.store.onChange((change) => {
      for (const s of this.#streams.values()) s.markDirty(change.typeUrl, change.names);
      this.#schedulePush();
    });
  }

  /** Validates options, binds the port (failing here on conflicts), and starts serving. */
  static async listen<C extends XdsCaller>(options: XdsServerOptions<C>): Promise<XdsServer<C>> {
    const config = configure(options);
    const credentials = serverCredentials(config.tls);
    const grpc = new Server({
      "grpc.max_receive_message_length": config.maxReceiveBytes,
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 10_000,
      // Clients ping every 30 s (see credentials.ts); allow that without a GOAWAY.
      "grpc.http2.min_ping_interval_without_data_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const port = await new Promise<number>((resolve, reject) => {
      grpc.bindAsync(config.address, credentials, (err, p) => {
        if (err) {
          grpc.forceShutdown();
          reject(
            new XdsError(
              XdsErrorCode.Bind,
              `cannot listen on ${config.address}: ${err.message}; is the port in use?`,
              {
                cause: err,
              },
            ),
          );
        } else resolve(p);
      });
    });
    const server = new XdsServer(config, grpc, port);
    grpc.addService(aggregatedDiscoveryService, {
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) =>
        server.#accept(call),
    });
    if (config.ca !== undefined) {
      grpc.addService(
        istioCertificateService,
        caServiceImplementation(config.authenticate, config.ca, config.log),
      );
    }
    config.log.info({ address: config.address, port, ca: config.ca !== undefined }, "xds server listening");
    return server;
  }

  /** Replaces every resource of a type (a full snapshot); only differences are pushed. */
  setResources(typeUrl: string, resources: ReadonlyMap<string, XdsResourceInput>): number {
    return this.store.setResources(typeUrl, resources);
  }

  applyDelta(typeUrl: string, delta: XdsResourceDelta): number {
    return this.store.applyDelta(typeUrl, delta);
  }

  /**
   * Re-evaluates `visible` for every client (or for one type) at the next push: call it when what
   * a caller may see changed without the resources changing (e.g. a pod moved to another node).
   */
  invalidate(typeUrl?: string): void {
    for (const s of this.#streams.values()) {
      if (typeUrl === undefined) s.markAllDirty();
      else s.markDirty(typeUrl, "all");
    }
    this.#schedulePush();
  }

  /** Ends one client's stream (e.g. its credential was revoked); it may reconnect and re-authenticate. */
  disconnect(streamId: string, reason = "disconnected by the control plane"): boolean {
    const s = this.#streams.get(streamId);
    if (s === undefined) return false;
    s.close(reason, GrpcStatus.UNAVAILABLE);
    return true;
  }

  status(): XdsConnectionStatus<C>[] {
    return [...this.#streams.values()].map((s) => {
      const base = {
        stream: s.id,
        caller: s.caller,
        peer: s.peer,
        connectedAt: s.connectedAt,
        types: s.status(),
      };
      return s.node !== undefined ? { ...base, node: s.node } : base;
    });
  }

  /** Per client subscribed to `typeUrl`, the version of one resource it has acknowledged holding (undefined: none yet). */
  heldVersions(
    typeUrl: string,
    name: string,
  ): Array<{ stream: string; caller: C; node: string | undefined; version: string | undefined }> {
    return [...this.#streams.values()]
      .filter((s) => s.subscribes(typeUrl))
      .map((s) => ({
        stream: s.id,
        caller: s.caller,
        node: s.node?.id,
        version: s.heldVersion(typeUrl, name),
      }));
  }

  async close(graceMs = 1000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    if (this.#push.state === "pending") clearTimeout(this.#push.timer);
    this.#push = { state: "idle" };
    for (const s of [...this.#streams.values()]) s.close("server shutting down", GrpcStatus.UNAVAILABLE);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#grpc.forceShutdown();
        resolve();
      }, graceMs);
      this.#grpc.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    this.#config.log.info({ port: this.port }, "xds server closed");
  }

  #accept(call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void {
    // Until authenticated, requests stay buffered in the call (no 'data' listener yet).
    call.on("error", (err) =>
      this.#config.log.debug({ peer: call.getPeer(), err: err.message }, "xds call error"),
    );
    const log = this.#config.log;
    if (this.#closed) {
      call.emit("error", { code: GrpcStatus.UNAVAILABLE, details: "server shutting down" });
      return;
    }
    this.#config.authenticate(authContextOf(DELTA_ADS_PATH, call)).then(
      (caller) => {
        if (caller === null) {
          log.warn({ peer: call.getPeer() }, "xds stream unauthenticated");
          call.emit("error", {
            code: GrpcStatus.UNAUTHENTICATED,
            details: "no valid credential: send `authorization: Bearer <token>`",
          });
          return;
        }
        if (this.#closed || call.cancelled) {
          call.end();
          return;
        }
        this.#nextStream += 1;
        const id = `s${this.#nextStream}`;
        const stream = new DeltaStream<C>(id, caller, call, this.#host);
        this.#streams.set(id, stream);
        log.info(
          { stream: id, caller: { kind: caller.kind, id: caller.id }, peer: stream.peer },
          "xds client connected",
        );
        this.emit("connect", { id, caller, peer: stream.peer });
      },
      (err: unknown) => {
        log.error({ peer: call.getPeer(), err: String(err) }, "xds authentication failed");
        call.emit("error", { code: GrpcStatus.INTERNAL, details: "authentication failed" });
      },
    );
  }

  #schedulePush(): void {
    if (this.#closed) return;
    const now = Date.now();
    let firstChangeAt = now;
    if (this.#push.state === "pending") {
      firstChangeAt = this.#push.firstChangeAt;
      clearTimeout(this.#push.timer);
    }
    // Quiet-period debounce, as istiod's PILOT_DEBOUNCE_AFTER/MAX: wait for the burst to end,
    // but never longer than debounceMaxMs after its first change.
    const delay = Math.max(
      0,
      Math.min(this.#config.debounceMs, firstChangeAt + this.#config.debounceMaxMs - now),
    );
    const timer = setTimeout(() => {
      this.#push = { state: "idle" };
      for (const s of this.#streams.values()) s.flush();
    }, delay);
    this.#push = { state: "pending", firstChangeAt, timer };
  }
}
