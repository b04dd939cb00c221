import { create, fromBinary, type JsonObject, type Message } from "@bufbuild/protobuf";
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { XdsError, XdsErrorCode } from "./errors.js";
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  type Resource,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { type BadRequest, BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import type { Status } from "./gen/google/rpc/status_pb.js";
import type { XdsLogger } from "./log.js";
import type { XdsResourceStore } from "./resource-store.js";
import { BAD_REQUEST_TYPE_URL } from "./type-urls.js";

/** Bounds on what one client may ask of the server on one stream (hostile-input limits). */
export const STREAM_LIMITS = {
  typesPerStream: 32,
  namesPerRequest: 10_000,
  namesPerType: 100_000,
  nameLength: 1024,
  typeUrlLength: 256,
  nackMessageLength: 4096,
  /** Responses remembered for matching ACK/NACK nonces; older nonces are treated as stale. */
  inflightPerType: 64,
} as const;

export interface NodeInfo {
  readonly id: string;
  readonly cluster: string;
  readonly metadata: JsonObject;
}

export interface SentRecord {
  readonly nonce: string;
  readonly version: string;
  readonly at: number;
  readonly upserts: number;
  readonly removals: number;
}

export interface NackRecord {
  readonly nonce: string;
  readonly version: string;
  /** Names carried by the rejected response (upserted or removed), at most 100 listed. */
  readonly names: readonly string[];
  readonly message: string;
  readonly at: number;
}

export interface TypeStatus {
  readonly typeUrl: string;
  readonly subscription: "wildcard" | readonly string[];
  /** Resources the server believes the client holds. */
  readonly resources: number;
  readonly lastSent?: SentRecord;
  readonly lastAcked?: { readonly nonce: string; readonly version: string; readonly at: number };
  readonly nack?: NackRecord;
}

interface InFlight {
  readonly seq: number;
  readonly version: string;
  /** For display: at most 100 names. */
  readonly names: readonly string[];
  /** Every name in the response → the version the client held before it (undefined: none). */
  readonly prior: ReadonlyMap<string, string | undefined>;
}

interface TypeState {
  wildcard: boolean;
  readonly names: Set<string>;
  /** name → version the client holds, as far as the server knows (sent, or told on reconnect). */
  readonly known: Map<string, string>;
  dirty: Set<string> | "all";
  /** Explicitly (re)subscribed names: sent even when the client already has that version. */
  readonly forced: Set<string>;
  /** A subscription request awaits its answer, even an empty one (the client's "synced" signal). */
  owesResponse: boolean;
  readonly inflight: Map<string, InFlight>;
  lastSent?: SentRecord;
  lastAcked?: { nonce: string; version: string; at: number };
  /** `pending`: rejected names not yet superseded by an ACKed newer version (null: names unknown). */
  nack?: NackRecord & { seq: number; pending: Set<string> | null };
}

export interface StreamHost<C> {
  readonly store: XdsResourceStore;
  readonly log: XdsLogger;
  visible(caller: C, typeUrl: string, name: string, resource: Message): boolean;
  onAck(stream: DeltaStream<C>, typeUrl: string, version: string): void;
  onNack(stream: DeltaStream<C>, typeUrl: string, nack: NackRecord): void;
  onPush(stream: DeltaStream<C>, typeUrl: string, sent: SentRecord): void;
  onClose(stream: DeltaStream<C>, reason: string): void;
}

/** A request broke the protocol or a limit; ends the stream with `grpcCode`. */
export class StreamProtocolError extends XdsError {
  constructor(
    readonly grpcCode: GrpcStatus,
    message: string,
  ) {
    super(XdsErrorCode.Protocol, message);
  }
}

type Lifecycle = { state: "open"; since: number } | { state: "closed"; since: number; reason: string };

/**
 * One delta ADS stream: the subscriptions of one client per type URL, what it holds, what was
 * sent and whether it was ACKed or NACKed. Follows Envoy's incremental xDS rules: per-resource
 * versions, a nonce per response, wildcard by "*" (or by an empty first subscribe),
 * initial_resource_versions on reconnect so only newer resources are sent.
 */
export class DeltaStream<C> {
  readonly id: string;
  readonly caller: C;
  readonly peer: string;
  readonly connectedAt: number;
  readonly #call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  readonly #host: StreamHost<C>;
  readonly #types = new Map<string, TypeState>();
  #node: NodeInfo | undefined;
  #lifecycle: Lifecycle;
  #seq = 0;
  #blocked = false;

  constructor(
    id: string,
    caller: C,
    call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
    host: StreamHost<C>,
  ) {
    this.id = id;
    this.caller = caller;
    this.peer = call.getPeer();
    this.connectedAt = Date.now();
    this.#call = call;
    this.#host = host;
    this.#lifecycle = { state: "open", since: this.connectedAt };
    call.on("data", (req: DeltaDiscoveryRequest) => this.#onRequest(req));
    // The client half-closed: it wants no more; finish our side with OK.
    call.on("end", () => this.close("client ended the stream"));
    call.on("cancelled", () => this.close("client cancelled"));
    call.on("close", () => this.close("stream closed"));
    call.on("error", (err: Error) => this.close(`stream error: ${err.message}`));
  }

  get node(): NodeInfo | undefined {
    return this.#node;
  }

  get isOpen(): boolean {
    return this.#lifecycle.state === "open";
  }

  /** Records that these resources changed; sent on the next flush(). */
  markDirty(typeUrl: string, names: ReadonlySet<string> | "all"): void {
    const t = this.#types.get(typeUrl);
    if (t === undefined || t.dirty === "all") return;
    if (names === "all") t.dirty = "all";
    else for (const n of names) t.dirty.add(n);
  }

  markAllDirty(): void {
    for (const t of this.#types.values()) t.dirty = "all";
  }

  /** Sends one incremental response per type that has something for this client. */
  flush(): void {
    for (const [typeUrl, t] of this.#types) {
      if (this.#blocked || !this.isOpen) return;
      const response = this.#buildResponse(typeUrl, t);
      if (response !== null) this.#write(response);
    }
  }

  /**
   * The version of `name` the client has acknowledged holding (sent and ACKed, or declared on reconnect),
   * or undefined while none is, or while a newer send awaits its ACK or was NACKed.
   */
  /** Whether the client subscribed to `typeUrl` at all on this stream. */
  subscribes(typeUrl: string): boolean {
    return this.#types.has(typeUrl);
  }

  heldVersion(typeUrl: string, name: string): string | undefined {
    const t = this.#types.get(typeUrl);
    if (t === undefined) return undefined;
    for (const f of t.inflight.values()) if (f.prior.has(name)) return undefined;
    if (t.nack !== undefined && (t.nack.pending === null || t.nack.pending.has(name))) return undefined;
    return t.known.get(name);
  }

  status(): TypeStatus[] {
    return [...this.#types].map(([typeUrl, t]) => {
      const s: {
        -readonly [K in keyof TypeStatus]: TypeStatus[K];
      } = {
        typeUrl,
        subscription: t.wildcard ? "wildcard" : [...t.names],
        resources: t.known.size,
      };
      if (t.lastSent) s.lastSent = t.lastSent;
      if (t.lastAcked) s.lastAcked = { ...t.lastAcked };
      if (t.nack)
        s.nack = {
          nonce: t.nack.nonce,
          version: t.nack.version,
          names: t.nack.names,
          message: t.nack.message,
          at: t.nack.at,
        };
      return s;
    });
  }

  /** Ends the stream (idempotent). With a code, the client sees that gRPC status. */
  close(reason: string, code?: GrpcStatus): void {
    if (this.#lifecycle.state === "closed") return;
    this.#lifecycle = { state: "closed", since: Date.now(), reason };
    this.#types.clear();
    try {
      if (code !== undefined && code !== GrpcStatus.OK) {
        this.#call.emit("error", { code, details: reason });
      } else if (!this.#call.writableEnded) {
        this.#call.end();
      }
    } catch (e) {
      this.#host.log.debug({ stream: this.id, err: String(e) }, "xds stream already gone");
    }
    this.#host.onClose(this, reason);
  }

  #onRequest(req: DeltaDiscoveryRequest): void {
    if (!this.isOpen) return;
    try {
      this.#handle(req);
    } catch (e) {
      if (e instanceof StreamProtocolError) {
        this.#host.log.warn(
          { stream: this.id, node: this.#node?.id, reason: e.message },
          "xds request rejected",
        );
        this.close(e.message, e.grpcCode);
        return;
      }
      throw e;
    }
  }

  #handle(req: DeltaDiscoveryRequest): void {
    if (req.node !== undefined && this.#node === undefined) {
      this.#node = { id: req.node.id, cluster: req.node.cluster, metadata: req.node.metadata ?? {} };
    }
    const typeUrl = req.typeUrl;
    checkRequest(req);
    let t = this.#types.get(typeUrl);
    const first = t === undefined;
    if (t === undefined) {
      if (this.#types.size >= STREAM_LIMITS.typesPerStream) {
        throw new StreamProtocolError(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `more than ${STREAM_LIMITS.typesPerStream} type URLs on one stream`,
        );
      }
      t = {
        wildcard: false,
        names: new Set(),
        known: new Map(),
        dirty: "all",
        forced: new Set(),
        owesResponse: false,
        inflight: new Map(),
      };
      this.#types.set(typeUrl, t);
    }
    if (req.responseNonce !== "") this.#onAckOrNack(typeUrl, t, req);

    let respond = false;
    if (first) {
      // Only meaningful on the first request of a type on a (re)connected stream.
      for (const [name, version] of Object.entries(req.initialResourceVersions)) t.known.set(name, version);
      // Envoy's legacy wildcard: an empty first subscribe means "everything".
      if (req.resourceNamesSubscribe.length === 0) t.wildcard = true;
      respond = true;
    }
    for (const name of req.resourceNamesSubscribe) {
      respond = true;
      if (name === "*") {
        if (!t.wildcard) t.dirty = "all";
        t.wildcard = true;
        continue;
      }
      t.names.add(name);
      // Envoy: a server must answer every name in resource_names_subscribe, even one the client
      // seems to hold, because it may have dropped it and regained interest.
      t.forced.add(name);
    }
    if (t.names.size > STREAM_LIMITS.namesPerType) {
      throw new StreamProtocolError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `more than ${STREAM_LIMITS.namesPerType} subscribed names for ${typeUrl}`,
      );
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === "*") {
        t.wildcard = false;
        for (const k of t.known.keys()) if (!t.names.has(k)) t.known.delete(k);
        continue;
      }
      t.names.delete(name);
      t.forced.delete(name);
      // The client drops unsubscribed resources itself; no removal is sent for them.
      if (!t.wildcard) t.known.delete(name);
    }
    if (respond) {
      t.owesResponse = true;
      if (!this.#blocked) {
        const response = this.#buildResponse(typeUrl, t);
        if (response !== null) this.#write(response);
      }
    }
  }

  #onAckOrNack(typeUrl: string, t: TypeState, req: DeltaDiscoveryRequest): void {
    const nonce = req.responseNonce;
    const sent = t.inflight.get(nonce);
    if (sent === undefined) {
      // A nonce we no longer track (superseded, or from a previous server): nothing to record.
      this.#host.log.debug({ stream: this.id, typeUrl, nonce }, "xds stale nonce ignored");
      return;
    }
    for (const k of [...t.inflight.keys()]) {
      t.inflight.delete(k);
      if (k === nonce) break;
    }
    const now = Date.now();
    if (req.errorDetail !== undefined) {
      const rejected = rejectedNames(req.errorDetail, sent.prior);
      const nack = {
        seq: sent.seq,
        pending: rejected !== null ? new Set(rejected) : null,
        nonce,
        version: sent.version,
        names: rejected !== null ? [...rejected].slice(0, 100) : sent.names,
        message: req.errorDetail.message.slice(0, STREAM_LIMITS.nackMessageLength),
        at: now,
      };
      t.nack = nack;
      this.#host.onNack(this, typeUrl, {
        nonce,
        version: nack.version,
        names: nack.names,
        message: nack.message,
        at: now,
      });
      if (rejected !== null) this.#resendAccepted(typeUrl, t, sent, rejected);
      return;
    }
    t.lastAcked = { nonce, version: sent.version, at: now };
    // A NACK stays on record until the resources it rejected were replaced by ACKed newer
    // versions (or removals); without named resources, until any later response is ACKed.
    if (t.nack !== undefined && t.nack.seq < sent.seq) {
      const pending = t.nack.pending;
      if (pending !== null) for (const name of sent.prior.keys()) pending.delete(name);
      if (pending === null || pending.size === 0) delete t.nack;
    }
    this.#host.onAck(this, typeUrl, sent.version);
  }

  /**
   * The client applied nothing of a NACKed response (all or nothing) but named the resources it
   * rejected. Those keep their rejected version as "known", so they are not resent until they
   * change again; every other resource of that response goes back to what the client still holds
   * and is resent at once, so one bad resource does not hold back the good ones.
   */
  #resendAccepted(typeUrl: string, t: TypeState, sent: InFlight, rejected: ReadonlySet<string>): void {
    const resend = new Set<string>();
    for (const [name, before] of sent.prior) {
      if (rejected.has(name)) continue;
      // A later response in flight already carries a newer state of this name.
      if ([...t.inflight.values()].some((later) => later.prior.has(name))) continue;
      if (before === undefined) t.known.delete(name);
      else t.known.set(name, before);
      resend.add(name);
    }
    if (resend.size === 0) return;
    this.markDirty(typeUrl, resend);
    this.flush();
  }

  #subscribed(t: TypeState, name: string): boolean {
    return t.wildcard || t.names.has(name);
  }

  #buildResponse(typeUrl: string, t: TypeState): DeltaDiscoveryResponse | null {
    const store = this.#host.store;
    let candidates: Iterable<string>;
    if (t.dirty === "all") {
      const all = new Set<string>(t.known.keys());
      for (const n of t.names) all.add(n);
      if (t.wildcard) for (const n of store.list(typeUrl).keys()) all.add(n);
      candidates = all;
    } else {
      candidates = t.forced.size === 0 ? t.dirty : new Set([...t.dirty, ...t.forced]);
    }
    const resources: Resource[] = [];
    const removed: string[] = [];
    const prior = new Map<string, string | undefined>();
    for (const name of candidates) {
      if (!this.#subscribed(t, name)) continue;
      const entry = store.get(typeUrl, name);
      const visible = entry !== undefined && this.#host.visible(this.caller, typeUrl, name, entry.message);
      const held = t.known.get(name);
      if (visible) {
        if (t.forced.has(name) || held !== entry.version) {
          resources.push(entry.wire);
          prior.set(name, held);
          t.known.set(name, entry.version);
        }
      } else if (held !== undefined || t.forced.has(name)) {
        // Also how a delta server says "this explicitly requested resource does not exist".
        removed.push(name);
        prior.set(name, held);
        t.known.delete(name);
      }
    }
    t.dirty = new Set();
    t.forced.clear();
    if (resources.length === 0 && removed.length === 0 && !t.owesResponse) return null;
    t.owesResponse = false;

    this.#seq += 1;
    const nonce = `${this.id}-${this.#seq}`;
    const version = String(store.revision(typeUrl));
    const names = [...resources.slice(0, 100).map((r) => r.name), ...removed.slice(0, 100)].slice(0, 100);
    t.inflight.set(nonce, { seq: this.#seq, version, names, prior });
    if (t.inflight.size > STREAM_LIMITS.inflightPerType) {
      const oldest = t.inflight.keys().next().value;
      if (oldest !== undefined) t.inflight.delete(oldest);
    }
    const sent: SentRecord = {
      nonce,
      version,
      at: Date.now(),
      upserts: resources.length,
      removals: removed.length,
    };
    t.lastSent = sent;
    this.#host.onPush(this, typeUrl, sent);
    return create(DeltaDiscoveryResponseSchema, {
      typeUrl,
      systemVersionInfo: version,
      nonce,
      resources,
      removedResources: removed,
    });
  }

  #write(response: DeltaDiscoveryResponse): void {
    // Backpressure: a slow client is not fed more; its changes pile up as dirty names and go out
    // as one coalesced response when the socket drains.
    if (this.#call.write(response)) return;
    this.#blocked = true;
    this.#call.once("drain", () => {
      this.#blocked = false;
      this.flush();
    });
  }
}

function checkRequest(req: DeltaDiscoveryRequest): void {
  if (req.typeUrl === "" || req.typeUrl.length > STREAM_LIMITS.typeUrlLength) {
    throw new StreamProtocolError(
      GrpcStatus.INVALID_ARGUMENT,
      `type_url "${req.typeUrl.slice(0, 64)}" must be set (ADS) and at most ${STREAM_LIMITS.typeUrlLength} characters`,
    );
  }
  const count =
    req.resourceNamesSubscribe.length +
    req.resourceNamesUnsubscribe.length +
    Object.keys(req.initialResourceVersions).length;
  if (count > STREAM_LIMITS.namesPerRequest) {
    throw new StreamProtocolError(
      GrpcStatus.RESOURCE_EXHAUSTED,
      `${count} resource names in one request, at most ${STREAM_LIMITS.namesPerRequest} allowed`,
    );
  }
  for (const n of [
    ...req.resourceNamesSubscribe,
    ...req.resourceNamesUnsubscribe,
    ...Object.keys(req.initialResourceVersions),
  ]) {
    if (n.length > STREAM_LIMITS.nameLength) {
      throw new StreamProtocolError(
        GrpcStatus.INVALID_ARGUMENT,
        `resource name of ${n.length} characters, at most ${STREAM_LIMITS.nameLength} allowed`,
      );
    }
  }
}

/**
 * The names a NACK's google.rpc.BadRequest detail rejects, restricted to the names of the response
 * it answers; null when there is no such detail (then nothing is resent, as Envoy expects).
 */
function rejectedNames(status: Status, sent: ReadonlyMap<string, unknown>): Set<string> | null {
  for (const detail of status.details.slice(0, 4)) {
    if (detail.typeUrl !== BAD_REQUEST_TYPE_URL) continue;
    let bad: BadRequest;
    try {
      bad = fromBinary(BadRequestSchema, detail.value);
    } catch {
      return null;
    }
    const names = new Set(bad.fieldViolations.map((v) => v.field).filter((n) => sent.has(n)));
    // Naming none of the sent resources would make "resend the rest" resend everything, forever.
    return names.size > 0 ? names : null;
  }
  return null;
}
