import { EventEmitter } from "node:events";
import { create, fromBinary, type JsonObject, type Message, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { type ClientDuplexStream, Client as GrpcClient, status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { type ClientTlsOptions, channelCredentials, channelOptions } from "./credentials.js";
import { XdsError, XdsErrorCode } from "./errors.js";
import { NodeSchema } from "./gen/envoy/config/core/v3/base_pb.js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "./gen/google/rpc/status_pb.js";
import { DELTA_ADS_PATH, deserializeDeltaResponse, serializeDeltaRequest } from "./grpc-definitions.js";
import { SILENT_LOGGER, type XdsLogger } from "./log.js";
import { ADDRESS_TYPE, AUTHORIZATION_TYPE, type XdsResourceType } from "./resource-types.js";
import { trace } from "./trace.js";
import { BAD_REQUEST_TYPE_URL } from "./type-urls.js";

export interface XdsSubscription {
  readonly type: XdsResourceType;
  /** Explicit resource names; omitted means wildcard (everything the server lets this client see). */
  readonly names?: readonly string[];
}

export interface XdsClientOptions {
  /** host:port of the control plane (15012). */
  readonly address: string;
  readonly tls: ClientTlsOptions;
  /** Bearer token, or a function returning the current one (read at every (re)connect). */
  readonly token?: string | (() => string | Promise<string>);
  readonly node: { readonly id: string; readonly cluster?: string; readonly metadata?: JsonObject };
  /** Default: wildcard istio.workload.Address and istio.security.Authorization. */
  readonly subscriptions?: readonly XdsSubscription[];
  readonly backoff?: BackoffOptions;
  readonly log?: XdsLogger;
  /** Largest response accepted (default 64 MiB: a full snapshot of a big mesh on connect). */
  readonly maxReceiveBytes?: number;
  /** A stream that got no response this long after opening is abandoned and retried (default 30 s). */
  readonly firstResponseTimeoutMs?: number;
}

export interface XdsCachedResource {
  readonly version: string;
  readonly resource: Message;
}

/** One applied response: everything in it was valid and is now in the cache. */
export interface XdsChange {
  readonly typeUrl: string;
  readonly version: string;
  readonly upserted: ReadonlyMap<string, Message>;
  readonly removed: readonly string[];
}

export interface XdsClientEvents {
  change: [change: XdsChange];
  nack: [event: { typeUrl: string; nonce: string; message: string }];
  connected: [];
  disconnected: [reason: string];
}

export type XdsClientState =
  | { readonly state: "idle" }
  | { readonly state: "connecting"; readonly attempt: number; readonly since: number }
  | { readonly state: "connected"; readonly since: number }
  | {
      readonly state: "backoff";
      readonly attempt: number;
      readonly retryAt: number;
      readonly lastError: string;
    }
  | { readonly state: "closed" };

export const CLIENT_LIMITS = {
  resourcesPerResponse: 200_000,
  nameLength: 1024,
  /** Errors listed in one NACK message; the rest are counted. */
  errorsPerNack: 5,
  /** Rejected resources named in a NACK's BadRequest detail. */
  namedRejections: 10_000,
} as const;

interface Rejection {
  /** The resource at fault, when the error is about one resource. */
  readonly name?: string;
  readonly message: string;
}

interface TypeCache {
  readonly type: XdsResourceType;
  readonly names: readonly string[] | undefined;
  readonly resources: Map<string, XdsCachedResource>;
  synced: boolean;
}

type Call = ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/**
 * A delta ADS client, as a ztunnel or waypoint runs it: subscribes, validates every response
 * (all or nothing: one bad resource NACKs the whole response and nothing of it is applied),
 * keeps a cache that survives disconnects (static stability), and reconnects with backoff,
 * telling the server what it holds so only newer resources come back.
 */
export class XdsClient extends EventEmitter<XdsClientEvents> {
  readonly #options: XdsClientOptions;
  readonly #log: XdsLogger;
  readonly #grpc: GrpcClient;
  readonly #types = new Map<string, TypeCache>();
  #state: XdsClientState = { state: "idle" };
  #call: Call | undefined;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #syncWaiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();

  constructor(options: XdsClientOptions) {
    super();
    if (options.address === "")
      throw new XdsError(XdsErrorCode.Config, "xDS address is empty; expected host:port");
    if (options.node.id === "")
      throw new XdsError(XdsErrorCode.Config, "node.id is empty; expected this proxy's id");
    this.#options = options;
    this.#log = options.log ?? SILENT_LOGGER;
    for (const sub of options.subscriptions ?? [{ type: ADDRESS_TYPE }, { type: AUTHORIZATION_TYPE }]) {
      if (this.#types.has(sub.type.typeUrl)) {
        throw new XdsError(
          XdsErrorCode.Config,
          `${sub.type.typeUrl} is subscribed twice; merge the name lists`,
        );
      }
      this.#types.set(sub.type.typeUrl, {
        type: sub.type,
        names: sub.names,
        resources: new Map(),
        synced: false,
      });
    }
    this.#grpc = new GrpcClient(
      options.address,
      channelCredentials(options.tls),
      channelOptions(options.tls, options.maxReceiveBytes ?? 64 * 1024 * 1024),
    );
  }

  get state(): XdsClientState {
    return this.#state;
  }

  /** Starts connecting; returns at once. */
  start(): void {
    if (this.#state.state !== "idle") return;
    this.#connect();
  }

  /** Resolves once every subscribed type has received its first response (at any connection). */
  synced(): Promise<void> {
    if (this.#state.state === "closed")
      return Promise.reject(new XdsError(XdsErrorCode.Closed, "xDS client closed"));
    if (this.#allSynced()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#syncWaiters.add({ resolve, reject }));
  }

  /** The cached resources of a type (kept while disconnected). */
  resources(typeUrl: string): ReadonlyMap<string, XdsCachedResource> {
    return this.#types.get(typeUrl)?.resources ?? new Map();
  }

  get(typeUrl: string, name: string): XdsCachedResource | undefined {
    return this.#types.get(typeUrl)?.resources.get(name);
  }

  close(): void {
    if (this.#state.state === "closed") return;
    this.#state = { state: "closed" };
    clearTimeout(this.#retryTimer);
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#grpc.close();
    for (const w of this.#syncWaiters)
      w.reject(new XdsError(XdsErrorCode.Closed, "xDS client closed before sync"));
    this.#syncWaiters.clear();
  }

  #allSynced(): boolean {
    for (const t of this.#types.values()) if (!t.synced) return false;
    return true;
  }

  #connect(): void {
    if (this.#state.state === "closed") return;
    this.#state = { state: "connecting", attempt: this.#attempt, since: Date.now() };
    this.#metadata().then(
      (md) => this.#open(md),
      (e: unknown) => this.#retry(`token unavailable: ${String(e)}`),
    );
  }

  async #metadata(): Promise<Metadata> {
    const md = new Metadata();
    const t = this.#options.token;
    const token = typeof t === "function" ? await t() : t;
    if (token !== undefined) md.set("authorization", `Bearer ${token}`);
    return md;
  }

  #open(md: Metadata): void {
    if (this.#state.state === "closed") return;
    const call: Call = this.#grpc.makeBidiStreamRequest(
      DELTA_ADS_PATH,
      serializeDeltaRequest,
      deserializeDeltaResponse,
      md,
    );
    this.#call = call;
    let done = false;
    const timeoutMs = this.#options.firstResponseTimeoutMs ?? 30_000;
    // A server that accepts the stream but never answers (stuck authentication, overload) must not
    // leave this proxy waiting forever.
    let silence: NodeJS.Timeout | undefined = setTimeout(() => {
      finish(`no response within ${timeoutMs} ms`);
      call.cancel();
    }, timeoutMs);
    const finish = (reason: string) => {
      clearTimeout(silence);
      if (done) return;
      done = true;
      if (this.#call === call) this.#call = undefined;
      this.#retry(reason);
    };
    call.on("data", (resp: DeltaDiscoveryResponse) => {
      clearTimeout(silence);
      silence = undefined;
      if (this.#call === call) this.#onResponse(call, resp);
    });
    call.on("error", (err: Error & { code?: number; details?: string }) => {
      const code = err.code !== undefined ? (GrpcStatus[err.code] ?? String(err.code)) : "?";
      finish(`stream failed (gRPC ${code}): ${err.details ?? err.message}`);
    });
    call.on("end", () => finish("server ended the stream"));
    let first = true;
    for (const t of this.#types.values()) {
      const initialResourceVersions: Record<string, string> = {};
      for (const [name, r] of t.resources) initialResourceVersions[name] = r.version;
      this.#send(call, {
        // Envoy sends the node on the first request of a stream only.
        ...(first ? { node: this.#node() } : {}),
        typeUrl: t.type.typeUrl,
        resourceNamesSubscribe: t.names === undefined ? ["*"] : [...t.names],
        initialResourceVersions,
      });
      first = false;
    }
  }

  #node(): DeltaDiscoveryRequest["node"] {
    const n = this.#options.node;
    return create(NodeSchema, {
      id: n.id,
      cluster: n.cluster ?? "",
      metadata: n.metadata ?? {},
      userAgentName: "ambit",
    });
  }

  #send(call: Call, init: Omit<Partial<DeltaDiscoveryRequest>, "$typeName">): void {
    try {
      call.write(create(DeltaDiscoveryRequestSchema, init));
    } catch (e) {
      this.#log.debug({ err: String(e) }, "xds request not sent: stream gone");
    }
  }

  #retry(reason: string): void {
    if (this.#state.state === "closed") return;
    const wasConnected = this.#state.state === "connected";
    const delay = backoffDelay(this.#attempt, this.#options.backoff);
    this.#state = {
      state: "backoff",
      attempt: this.#attempt,
      retryAt: Date.now() + delay,
      lastError: reason,
    };
    this.#attempt += 1;
    (wasConnected ? this.#log.warn : this.#log.debug).call(
      this.#log,
      { address: this.#options.address, reason, retryInMs: delay },
      "xds stream lost; keeping last config and reconnecting",
    );
    if (wasConnected) this.emit("disconnected", reason);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #onResponse(call: Call, resp: DeltaDiscoveryResponse): void {
    if (this.#state.state !== "connected") {
      this.#state = { state: "connected", since: Date.now() };
      this.#attempt = 0;
      this.#log.info({ address: this.#options.address }, "xds connected");
      this.emit("connected");
    }
    const t = this.#types.get(resp.typeUrl);
    if (t === undefined) {
      this.#nack(call, resp, [{ message: `type_url ${resp.typeUrl.slice(0, 128)}: not subscribed` }]);
      return;
    }
    const { errors, decoded } = this.#check(t, resp);
    if (errors.length > 0) {
      this.#nack(call, resp, errors);
      return;
    }
    // All or nothing: only a response without a single error reaches the cache.
    const upserted = new Map<string, Message>();
    for (const { name, version, message } of decoded) {
      t.resources.set(name, { version, resource: message });
      upserted.set(name, message);
    }
    const removed: string[] = [];
    for (const name of resp.removedResources) if (t.resources.delete(name)) removed.push(name);
    this.#send(call, { typeUrl: resp.typeUrl, responseNonce: resp.nonce });
    trace("applied", {
      node: this.#options.node.id,
      typeUrl: resp.typeUrl,
      nonce: resp.nonce,
      upserts: upserted.size,
      removals: removed.length,
    });
    if (!t.synced) {
      t.synced = true;
      if (this.#allSynced()) {
        for (const w of this.#syncWaiters) w.resolve();
        this.#syncWaiters.clear();
      }
    }
    if (upserted.size === 0 && removed.length === 0) return;
    try {
      this.emit("change", { typeUrl: resp.typeUrl, version: resp.systemVersionInfo, upserted, removed });
    } catch (e) {
      this.#log.error({ typeUrl: resp.typeUrl, err: String(e) }, "xds change listener threw");
    }
  }

  #check(
    t: TypeCache,
    resp: DeltaDiscoveryResponse,
  ): { errors: Rejection[]; decoded: { name: string; version: string; message: Message }[] } {
    const errors: Rejection[] = [];
    const decoded: { name: string; version: string; message: Message }[] = [];
    if (resp.resources.length > CLIENT_LIMITS.resourcesPerResponse) {
      errors.push({
        message: `${resp.resources.length} resources in one response, at most ${CLIENT_LIMITS.resourcesPerResponse}`,
      });
      return { errors, decoded };
    }
    const seen = new Set<string>();
    const removing = new Set(resp.removedResources);
    for (const [i, r] of resp.resources.entries()) {
      const at = `resources[${i}]`;
      if (r.name === "" || r.name.length > CLIENT_LIMITS.nameLength) {
        errors.push({
          message: `${at}.name: ${r.name.length} characters, expected 1-${CLIENT_LIMITS.nameLength}`,
        });
        continue;
      }
      // Names reach logs, metrics and admin dumps: a CR LF or NUL in one could forge a log line.
      const control = firstControlCharacter(r.name);
      if (control >= 0) {
        errors.push({
          message: `${at}.name: control character 0x${r.name.charCodeAt(control).toString(16).padStart(2, "0")} at position ${control}`,
        });
        continue;
      }
      // Envoy's delta subscription refuses the same: one response, one fate per name.
      if (seen.has(r.name) || removing.has(r.name)) {
        errors.push({
          name: r.name,
          message: `${at}[${r.name.slice(0, 128)}]: ${seen.has(r.name) ? "duplicate name in one response" : "both updated and removed in one response"}`,
        });
        continue;
      }
      seen.add(r.name);
      if (r.resource === undefined) {
        errors.push({ name: r.name, message: `${at}[${r.name}].resource: missing` });
        continue;
      }
      if (r.resource.typeUrl !== t.type.typeUrl) {
        errors.push({
          name: r.name,
          message: `${at}[${r.name}].resource.type_url: ${r.resource.typeUrl.slice(0, 128)}, expected ${t.type.typeUrl}`,
        });
        continue;
      }
      let message: Message;
      try {
        message = fromBinary(t.type.schema, r.resource.value);
      } catch (e) {
        errors.push({
          name: r.name,
          message: `${at}[${r.name}]: undecodable ${t.type.schema.typeName}: ${(e as Error).message}`,
        });
        continue;
      }
      const invalid = t.type.validate(message, r.name);
      if (invalid !== null) errors.push({ name: r.name, message: invalid });
      else decoded.push({ name: r.name, version: r.version, message });
    }
    for (const name of resp.removedResources) {
      if (name.length > CLIENT_LIMITS.nameLength) {
        errors.push({
          message: `removed_resources: name of ${name.length} characters, at most ${CLIENT_LIMITS.nameLength}`,
        });
        break;
      }
    }
    return { errors, decoded };
  }

  #nack(call: Call, resp: DeltaDiscoveryResponse, errors: readonly Rejection[]): void {
    const shown = errors.slice(0, CLIENT_LIMITS.errorsPerNack);
    const more = errors.length - shown.length;
    const message = shown.map((e) => e.message).join("; ") + (more > 0 ? `; and ${more} more` : "");
    // Name the rejected resources (google.rpc.BadRequest, field = resource name) so the server can
    // resend the rest of this response; only when every error is tied to a resource.
    const details = errors.every((e) => e.name !== undefined)
      ? [
          create(AnySchema, {
            typeUrl: BAD_REQUEST_TYPE_URL,
            value: toBinary(
              BadRequestSchema,
              create(BadRequestSchema, {
                fieldViolations: errors
                  .slice(0, CLIENT_LIMITS.namedRejections)
                  .map((e) => ({ field: e.name ?? "", description: e.message.slice(0, 512) })),
              }),
            ),
          }),
        ]
      : [];
    this.#log.warn(
      { typeUrl: resp.typeUrl, nonce: resp.nonce, error: message },
      "xds NACK: keeping last good config",
    );
    this.#send(call, {
      typeUrl: resp.typeUrl,
      responseNonce: resp.nonce,
      errorDetail: create(StatusSchema, { code: GrpcStatus.INVALID_ARGUMENT, message, details }),
    });
    trace("nack-sent", {
      node: this.#options.node.id,
      typeUrl: resp.typeUrl,
      nonce: resp.nonce,
      error: message,
    });
    this.emit("nack", { typeUrl: resp.typeUrl, nonce: resp.nonce, message });
  }
}

/** Index of the first C0 control character or DEL in `s`, or -1. */
function firstControlCharacter(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}
