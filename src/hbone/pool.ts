/**
 * The HBONE client: a pool of mTLS HTTP/2 sessions, one CONNECT stream per tunnelled connection.
 *
 * Pooling follows istio/ztunnel (src/proxy/pool.rs): sessions are keyed by (source identity,
 * destination identity set, destination address) — plus the source certificate serial, so a
 * rotated certificate opens new sessions while old ones drain; a session carries at most
 * `maxStreamsPerSession` (100) streams, more open another session; an unused session is closed
 * after `idleTimeoutMs` (5 min); PINGs evict a dead peer.
 */
import { EventEmitter } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { identityFromCertificate, type SpiffeId } from "../identity/spiffe.js";
import { certificateErrorCode, HboneError, HboneErrorCode, isHboneError } from "./errors.js";
import { type ConnectHeaders, formatTraceParent, newTraceParent } from "./headers.js";
import { realTimers, type TimerHandle, type Timers } from "./timers.js";
import {
  ALPN_H2,
  chainSerials,
  DEFAULT_CIPHER_SUITES,
  notLeafMessage,
  revokedPeer,
  SecureContextCache,
  type WorkloadCredential,
} from "./tls.js";
import { poolChannel, trace } from "./trace.js";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_LIST_SIZE,
  DEFAULT_MAX_SESSION_MEMORY_MB,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_POOL_IDLE_TIMEOUT_MS,
  flowControlSettings,
  requirePositiveInt,
} from "./tuning.js";
import { UnblockedWrites } from "./unblocked-writes.js";

const { constants } = http2;
const MAX_TICKETS = 4096;

export interface Destination {
  host: string;
  port: number;
}

/**
 * Socket factory (like undici's `connect`): ztunnel passes one that marks/binds its sockets.
 * `origin` is the caller's `PoolConnectParams.origin`: where the connection must leave from.
 */
export type SocketConnector = (destination: Destination, origin?: string) => Promise<Duplex>;

export interface HbonePoolOptions {
  connect?: SocketConnector;
  /** Trust bundle override (PEM); default: the source credential's `rootsPem`. */
  rootsPem?: string;
  cipherSuites?: string;
  maxStreamsPerSession?: number;
  streamWindowSize?: number;
  connectionWindowSize?: number;
  maxFrameSize?: number;
  idleTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** TCP connect + TLS + HTTP/2 set-up, and separately the wait for the CONNECT response. */
  connectTimeoutMs?: number;
  timers?: Timers;
  /**
   * Asks the kernel to accept `bytes` of unsent data on a session's TCP socket; true when it will
   * (`reserveSendBuffer` in src/platform/send-buffer.ts, SO_SNDBUFFORCE). A session whose socket
   * holds everything the server's connection window lets it have in flight never has a write
   * pending, so it runs on the TLS socket directly; without this option, or when it answers
   * false, the session runs on `UnblockedWrites` (slower: each write goes through JavaScript).
   */
  reserveSendBuffer?: (socket: net.Socket, bytes: number) => boolean;
}

interface HbonePoolConfig {
  readonly connect: SocketConnector;
  readonly rootsPem: string | undefined;
  readonly cipherSuites: string;
  readonly maxStreamsPerSession: number;
  readonly streamWindowSize: number;
  readonly connectionWindowSize: number;
  readonly maxFrameSize: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly timers: Timers;
  readonly reserveSendBuffer: ((socket: net.Socket, bytes: number) => boolean) | undefined;
}

export interface PoolConnectParams {
  source: WorkloadCredential;
  /** The HBONE endpoint: destination workload (or waypoint / gateway) IP, port 15008. */
  dstAddress: Destination;
  /** The server must prove one of these identities (the workload's, or its waypoint's). */
  expectedIdentities: readonly SpiffeId[];
  /** CONNECT `:authority`, the final target `ip:port`. */
  authority: string;
  headers?: ConnectHeaders;
  /** Becomes the traceparent trace id when no traceparent header is given (32 hex digits). */
  connId?: string;
  /**
   * Where the TCP connection leaves from, passed to the connector (ztunnel in-pod mode: the
   * source pod's network namespace). Part of the session key: sessions are never shared between
   * origins, as Istio keys its pool by source address.
   */
  origin?: string;
}

export interface HbonePoolStats {
  sessionsOpened: number;
  sessionsClosed: number;
  sessionsActive: number;
  /** Sessions evicted because a PING went unanswered. */
  sessionsEvicted: number;
  poolHits: number;
  poolMisses: number;
  streamsOpened: number;
  streamsActive: number;
  handshakeErrors: number;
  /** CONNECTs answered with a non-200 status. */
  connectsRefused: number;
  /** Sessions that run on their TLS socket directly, the kernel holding what they send (`reserveSendBuffer`). */
  sessionsOnKernelBuffer: number;
}

export type SessionCloseReason =
  | "idle"
  | "ping-timeout"
  | "rotated"
  | "revoked"
  | "goaway"
  | "error"
  | "pool-closed"
  | "peer-closed"
  /** The place its socket left from is gone (an in-pod ztunnel's pod was removed). */
  | "origin-removed";

type SessionState =
  | { state: "connecting" }
  | { state: "ready"; since: number }
  | { state: "draining"; since: number; reason: SessionCloseReason }
  | { state: "closed"; reason: SessionCloseReason };

interface PooledSession {
  readonly key: string;
  readonly baseKey: string;
  readonly serial: string;
  /** `PoolConnectParams.origin` of the session (where its socket left from). */
  readonly origin: string | undefined;
  session: http2.ClientHttp2Session | undefined;
  state: SessionState;
  /** Streams open or being opened on this session (reservations count, so 101 concurrent callers open 2 sessions). */
  streams: number;
  /** Streams let through to the server; never more than the server's SETTINGS allow. */
  admitted: number;
  maxStreams: number;
  ready: Promise<void>;
  idleTimer: TimerHandle | undefined;
  pingTimer: TimerHandle | undefined;
  goaway: { code: number; debug: string } | undefined;
  error: Error | undefined;
  /** The server's chain serials and the revocation version they were last checked against. */
  peerSerials: readonly string[];
  checkedRevocation: number;
}

function validate(o: HbonePoolOptions): HbonePoolConfig {
  return Object.freeze({
    connect: o.connect ?? defaultConnector,
    rootsPem: o.rootsPem,
    cipherSuites: o.cipherSuites ?? DEFAULT_CIPHER_SUITES,
    maxStreamsPerSession: requirePositiveInt(
      "maxStreamsPerSession",
      o.maxStreamsPerSession ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    ),
    ...flowControlSettings(o),
    idleTimeoutMs: requirePositiveInt("idleTimeoutMs", o.idleTimeoutMs ?? DEFAULT_POOL_IDLE_TIMEOUT_MS),
    pingIntervalMs: requirePositiveInt("pingIntervalMs", o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS),
    pingTimeoutMs: requirePositiveInt("pingTimeoutMs", o.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS),
    connectTimeoutMs: requirePositiveInt(
      "connectTimeoutMs",
      o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    timers: o.timers ?? realTimers,
    reserveSendBuffer: o.reserveSendBuffer,
  });
}

/** Send-buffer room beyond the connection window: frames outside flow control, TLS records. */
const SEND_BUFFER_MARGIN = 1 << 20;

const defaultConnector: SocketConnector = (d) =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host: d.host, port: d.port, noDelay: true, keepAlive: true });
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });

export interface HbonePoolEvents {
  /** `writes`: "kernel" when the session runs on its TLS socket (`reserveSendBuffer`), else "unblocked". */
  "session-open": [{ key: string; writes: "kernel" | "unblocked" }];
  "session-close": [
    { key: string; reason: SessionCloseReason; error: string | undefined; goaway: number | undefined },
  ];
}

export class HbonePool extends EventEmitter<HbonePoolEvents> {
  readonly #config: HbonePoolConfig;
  readonly #contexts: SecureContextCache;
  readonly #sessions = new Map<string, PooledSession[]>();
  readonly #latestSerial = new Map<string, string>();
  /** TLS tickets per session key, with the server chain serials verified when each was issued. */
  readonly #tickets = new Map<string, { ticket: Buffer; peerSerials: readonly string[] }>();
  #closed = false;
  readonly #stats: Omit<HbonePoolStats, "sessionsActive"> = {
    sessionsOpened: 0,
    sessionsClosed: 0,
    sessionsEvicted: 0,
    poolHits: 0,
    poolMisses: 0,
    streamsOpened: 0,
    streamsActive: 0,
    handshakeErrors: 0,
    connectsRefused: 0,
    sessionsOnKernelBuffer: 0,
  };

  constructor(options: HbonePoolOptions = {}) {
    super();
    this.#config = validate(options);
    this.#contexts = new SecureContextCache({ cipherSuites: this.#config.cipherSuites });
  }

  get stats(): HbonePoolStats {
    let active = 0;
    for (const list of this.#sessions.values()) active += list.length;
    return { ...this.#stats, sessionsActive: active };
  }

  /**
   * Opens one tunnelled connection. Resolves with the CONNECT stream once the server answered
   * 200: write to it and read from it like a socket; `end()` half-closes. Rejects with an
   * HboneError (CONNECT_REFUSED carries `status`).
   */
  async connect(params: PoolConnectParams): Promise<Duplex> {
    for (let attempt = 0; ; attempt++) {
      const { stream, established } = await this.open(params);
      try {
        await established;
        return stream;
      } catch (e) {
        // RST REFUSED_STREAM guarantees the server did nothing with the stream: safe to retry once.
        if (attempt === 0 && isRefusedStream(e)) continue;
        throw e;
      }
    }
  }

  /**
   * Sends the CONNECT and returns its stream at once, before the server answers: bytes written now
   * travel right behind the CONNECT headers (HTTP/2 lets DATA follow HEADERS on a stream), saving
   * a round trip on every new connection. The server buffers them and forwards nothing unless it
   * answers 200 — on a refusal they are discarded with the stream. `established` settles with the
   * answer (rejects like `connect`); the caller must drop the stream if it rejects.
   */
  async open(params: PoolConnectParams): Promise<{ stream: Duplex; established: Promise<void> }> {
    if (this.#closed) throw new HboneError(HboneErrorCode.CLOSED, "the HBONE pool is closed");
    if (params.expectedIdentities.length === 0) {
      throw new HboneError(
        HboneErrorCode.CONFIG,
        `no expected identity for ${params.dstAddress.host}:${params.dstAddress.port}; HBONE never connects without verifying the server`,
      );
    }
    for (let attempt = 0; ; attempt++) {
      const pooled = this.#checkout(params);
      try {
        await pooled.ready;
      } catch (e) {
        this.#release(pooled);
        throw e;
      }
      // Reservations were counted against our own limit before the server's SETTINGS were
      // known; whoever finds the session full (or draining) now goes to another one.
      if (pooled.admitted >= pooled.maxStreams || pooled.state.state !== "ready") {
        this.#release(pooled);
        if (attempt < 10) continue;
        throw new HboneError(
          HboneErrorCode.PROTOCOL,
          `no HBONE session to ${params.dstAddress.host}:${params.dstAddress.port} accepted a stream after ${attempt + 1} attempts`,
        );
      }
      return this.#openStream(pooled, params);
    }
  }

  /**
   * Closes every session whose socket left from `origin` (GOAWAY; open streams get `graceMs` to
   * finish): the pod behind it is gone, and a session kept for it would keep its network namespace
   * alive and be handed to a new pod that reuses the name.
   */
  async closeOrigin(origin: string, graceMs = 1_000): Promise<void> {
    const doomed = [...this.#sessions.values()].flat().filter((p) => p.origin === origin);
    await Promise.all(doomed.map((p) => this.#closeSession(p, "origin-removed", graceMs)));
  }

  /** Closes every session (GOAWAY; open streams get `graceMs` to finish). */
  async close(graceMs = 1_000): Promise<void> {
    this.#closed = true;
    const all = [...this.#sessions.values()].flat();
    await Promise.all(all.map((p) => this.#closeSession(p, "pool-closed", graceMs)));
  }

  #checkout(params: PoolConnectParams): PooledSession {
    const source = params.source;
    const serial = String(source.serial);
    const expected = params.expectedIdentities.map((i) => i.toString()).sort();
    const dst = `${params.dstAddress.host}:${params.dstAddress.port}`;
    const origin = params.origin === undefined ? "" : `|${params.origin}`;
    const baseKey = `${source.identity.toString()}|${expected.join(",")}|${dst}${origin}`;
    const key = `${baseKey}|${serial}`;
    if (this.#latestSerial.get(baseKey) !== serial) {
      this.#latestSerial.set(baseKey, serial);
      // Rotation: sessions made with an older certificate take no new streams and close when empty.
      for (const [k, list] of this.#sessions) {
        if (k === key) continue;
        for (const p of list) if (p.baseKey === baseKey) this.#drain(p, "rotated");
      }
    }
    const list = this.#sessions.get(key) ?? [];
    for (const p of list) this.#recheckRevocation(p, source);
    for (const p of list) {
      if ((p.state.state === "ready" || p.state.state === "connecting") && p.streams < p.maxStreams) {
        this.#stats.poolHits += 1;
        this.#reserve(p);
        return p;
      }
    }
    this.#stats.poolMisses += 1;
    const p = this.#openSession(key, baseKey, serial, params);
    list.push(p);
    this.#sessions.set(key, list);
    this.#reserve(p);
    return p;
  }

  #reserve(p: PooledSession): void {
    p.streams += 1;
    this.#stats.streamsActive += 1;
    if (p.idleTimer !== undefined) {
      this.#config.timers.clearTimeout(p.idleTimer);
      p.idleTimer = undefined;
    }
  }

  #release(p: PooledSession): void {
    p.streams -= 1;
    this.#stats.streamsActive -= 1;
    if (p.streams > 0) return;
    if (p.state.state === "draining") {
      void this.#closeSession(p, p.state.reason, 0);
    } else if (p.state.state === "ready") {
      p.idleTimer = this.#config.timers.setTimeout(() => {
        p.idleTimer = undefined;
        if (p.streams === 0) void this.#closeSession(p, "idle", 0);
      }, this.#config.idleTimeoutMs);
    }
  }

  #openSession(key: string, baseKey: string, serial: string, params: PoolConnectParams): PooledSession {
    const p: PooledSession = {
      key,
      baseKey,
      serial,
      origin: params.origin,
      session: undefined,
      state: { state: "connecting" },
      streams: 0,
      admitted: 0,
      maxStreams: this.#config.maxStreamsPerSession,
      ready: Promise.resolve(),
      idleTimer: undefined,
      pingTimer: undefined,
      goaway: undefined,
      error: undefined,
      peerSerials: [],
      checkedRevocation: params.source.revoked?.version ?? 0,
    };
    p.ready = this.#handshake(p, params);
    // Callers await `ready`; this handler only keeps an unobserved failure from being "unhandled".
    p.ready.catch(() => {});
    return p;
  }

  async #handshake(p: PooledSession, params: PoolConnectParams): Promise<void> {
    const c = this.#config;
    const dst = params.dstAddress;
    const expected = params.expectedIdentities;
    let timer: TimerHandle | undefined;
    let raw: Duplex | undefined;
    let tlsSocket: tls.TLSSocket | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = c.timers.setTimeout(() => {
        reject(
          new HboneError(
            HboneErrorCode.TIMEOUT,
            `HBONE session to ${dst.host}:${dst.port} not established within ${c.connectTimeoutMs} ms`,
          ),
        );
      }, c.connectTimeoutMs);
    });
    timeout.catch(() => {});
    try {
      raw = await Promise.race([
        c.connect(dst, params.origin).catch((e: NodeJS.ErrnoException) => {
          throw new HboneError(
            HboneErrorCode.HANDSHAKE,
            `TCP connect to ${dst.host}:${dst.port} failed: ${e.code ?? e.message}`,
            { cause: e },
          );
        }),
        timeout,
      ]);
      raw.on("error", () => {});
      if (raw instanceof net.Socket) raw.setNoDelay(true);
      const ticketKey = `${p.key}`;
      const ticket = this.#tickets.get(ticketKey);
      const socket = tls.connect({
        socket: raw,
        secureContext: this.#contexts.get(params.source, c.rootsPem ?? params.source.rootsPem),
        ALPNProtocols: [ALPN_H2],
        minVersion: "TLSv1.3",
        maxVersion: "TLSv1.3",
        rejectUnauthorized: true,
        ...(ticket === undefined ? {} : { session: ticket.ticket }),
        // Chain already verified against the bundle; the "hostname" is an IP, so the name check is
        // replaced by SPIFFE: the SAN must be one of the identities expected at this destination.
        checkServerIdentity: (_host, cert) => {
          p.peerSerials = chainSerials(cert);
          const refused = revokedPeer(params.source.revoked, p.peerSerials, "server");
          if (refused !== undefined) return refused;
          if (cert.ca)
            return new HboneError(HboneErrorCode.NOT_LEAF, notLeafMessage("server", cert.serialNumber));
          try {
            const got = identityFromCertificate(cert);
            if (expected.some((e) => e.equals(got))) return undefined;
            return new HboneError(
              HboneErrorCode.IDENTITY_MISMATCH,
              `server at ${dst.host}:${dst.port} presented ${got.toString()}, expected ${expected.map((e) => e.toString()).join(" or ")}`,
            );
          } catch (e) {
            return new HboneError(
              HboneErrorCode.BAD_SAN,
              `server at ${dst.host}:${dst.port} presented a certificate without a valid SPIFFE URI SAN`,
              { cause: e },
            );
          }
        },
      });
      tlsSocket = socket;
      socket.on("error", () => {});
      socket.on("session", (t: Buffer) => {
        // One ticket per session key; bounded so a churn of destinations cannot grow it forever.
        this.#tickets.delete(ticketKey);
        this.#tickets.set(ticketKey, { ticket: t, peerSerials: p.peerSerials });
        if (this.#tickets.size > MAX_TICKETS) {
          const oldest = this.#tickets.keys().next().value;
          if (oldest !== undefined) this.#tickets.delete(oldest);
        }
      });
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          socket.once("secureConnect", () => resolve());
          socket.once("error", (e: Error) => reject(this.#tlsError(e, dst)));
          socket.once("close", () =>
            reject(
              new HboneError(
                HboneErrorCode.HANDSHAKE,
                `${dst.host}:${dst.port} closed the connection during the TLS handshake`,
              ),
            ),
          );
        }),
        timeout,
      ]);
      if (socket.isSessionReused()) {
        // Node skips checkServerIdentity on a resumed session and shows no peer certificate (the
        // ticket vouches for it), but the revocation list may have grown since the ticket was issued.
        p.peerSerials = ticket?.peerSerials ?? [];
        const refused = revokedPeer(params.source.revoked, p.peerSerials, "server");
        if (refused !== undefined) {
          this.#tickets.delete(ticketKey);
          throw refused;
        }
      }
      if (socket.alpnProtocol !== ALPN_H2) {
        throw new HboneError(
          HboneErrorCode.HANDSHAKE,
          `${dst.host}:${dst.port} did not negotiate ALPN h2 (got ${String(socket.alpnProtocol)}); is it an HBONE endpoint?`,
        );
      }
      // A pending write on the session's socket stops its reads (src/hbone/unblocked-writes.ts). It
      // never has one if the kernel accepts all the server's connection window lets it send, and
      // more: the server's window is assumed to be this pool's (ambit's peers share the defaults),
      // plus room for HEADERS, WINDOW_UPDATE and PING frames and the TLS records around them.
      const onKernelBuffer =
        raw instanceof net.Socket &&
        c.reserveSendBuffer?.(raw, c.connectionWindowSize + SEND_BUFFER_MARGIN) === true;
      const session = http2.connect(authorityUrl(dst), {
        createConnection: () => (onKernelBuffer ? socket : new UnblockedWrites(socket)),
        maxSessionMemory: DEFAULT_MAX_SESSION_MEMORY_MB,
        peerMaxConcurrentStreams: c.maxStreamsPerSession,
        settings: {
          enablePush: false,
          initialWindowSize: c.streamWindowSize,
          maxFrameSize: c.maxFrameSize,
          maxHeaderListSize: DEFAULT_MAX_HEADER_LIST_SIZE,
        },
      });
      p.session = session;
      this.#watchSession(p, session);
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          // Ready once the server's SETTINGS arrived (its stream limit is known; it sends them
          // right after accepting, so this costs no extra round trip beyond the handshake's).
          session.once("remoteSettings", () => resolve());
          session.once("close", () =>
            reject(
              p.error ??
                new HboneError(
                  HboneErrorCode.HANDSHAKE,
                  `HTTP/2 session to ${dst.host}:${dst.port} closed during set-up`,
                ),
            ),
          );
        }),
        timeout,
      ]);
      // A server that refuses us sends its SETTINGS and a GOAWAY together: both may be in already.
      if (session.destroyed || session.closed)
        throw this.#streamError(p, new Error("the session ended right after its SETTINGS"), params);
      // Closed while it was being set up (the pool, or the origin it leaves from): nobody owns it.
      if (p.state.state === "closed")
        throw new HboneError(
          HboneErrorCode.CLOSED,
          `HBONE session to ${dst.host}:${dst.port} was closed (${p.state.reason}) while it was being set up`,
        );
      session.setLocalWindowSize(c.connectionWindowSize);
      if (p.state.state === "connecting") p.state = { state: "ready", since: Date.now() };
      this.#stats.sessionsOpened += 1;
      if (onKernelBuffer) this.#stats.sessionsOnKernelBuffer += 1;
      const writes = onKernelBuffer ? "kernel" : "unblocked";
      trace(poolChannel, () => ({ event: "session-open", key: p.key, maxStreams: p.maxStreams, writes }));
      this.emit("session-open", { key: p.key, writes });
      this.#schedulePing(p);
    } catch (e) {
      this.#stats.handshakeErrors += 1;
      trace(poolChannel, () => ({ event: "handshake-error", key: p.key, code: (e as HboneError).code }));
      tlsSocket?.destroy();
      raw?.destroy();
      p.session?.destroy();
      this.#remove(p, "error");
      throw e;
    } finally {
      if (timer !== undefined) c.timers.clearTimeout(timer);
    }
  }

  #tlsError(e: Error, dst: Destination): HboneError {
    if (isHboneError(e)) return e;
    const code = (e as NodeJS.ErrnoException).code;
    const mapped = certificateErrorCode(code);
    return new HboneError(
      mapped,
      mapped === HboneErrorCode.HANDSHAKE
        ? `TLS handshake with ${dst.host}:${dst.port} failed: ${e.message}`
        : `server certificate at ${dst.host}:${dst.port} rejected: ${code ?? e.message}; check the trust bundle and the certificate's validity period`,
      { cause: e },
    );
  }

  #watchSession(p: PooledSession, session: http2.ClientHttp2Session): void {
    session.on("error", (e: Error) => {
      p.error ??= e;
    });
    session.on("goaway", (code: number, _last: number, opaque?: Buffer) => {
      p.goaway = { code, debug: opaque?.toString("utf8") ?? "" };
      if (p.state.state === "ready" || p.state.state === "connecting") {
        p.state = { state: "draining", since: Date.now(), reason: "goaway" };
      }
    });
    session.on("remoteSettings", (s: http2.Settings) => {
      if (s.maxConcurrentStreams !== undefined) {
        p.maxStreams = Math.min(this.#config.maxStreamsPerSession, s.maxConcurrentStreams);
      }
    });
    session.once("close", () =>
      this.#remove(p, p.state.state === "draining" ? p.state.reason : "peer-closed"),
    );
  }

  #schedulePing(p: PooledSession): void {
    const c = this.#config;
    p.pingTimer = c.timers.setTimeout(() => {
      p.pingTimer = undefined;
      const session = p.session;
      if (session === undefined || session.destroyed || p.state.state === "closed") return;
      let answered = false;
      const deadline = c.timers.setTimeout(() => {
        if (answered) return;
        this.#stats.sessionsEvicted += 1;
        p.error = new HboneError(
          HboneErrorCode.TIMEOUT,
          `PING unanswered for ${c.pingTimeoutMs} ms; peer presumed dead`,
        );
        p.state = { state: "draining", since: Date.now(), reason: "ping-timeout" };
        this.#remove(p, "ping-timeout");
        session.destroy();
      }, c.pingTimeoutMs);
      const sent = session.ping((err) => {
        answered = true;
        c.timers.clearTimeout(deadline);
        if (err === null && !session.destroyed) this.#schedulePing(p);
      });
      if (!sent) {
        answered = true;
        c.timers.clearTimeout(deadline);
        this.#schedulePing(p);
      }
    }, c.pingIntervalMs);
  }

  /** A session whose server certificate was revoked since the handshake takes no new streams. */
  #recheckRevocation(p: PooledSession, source: WorkloadCredential): void {
    const revoked = source.revoked;
    if (revoked === undefined || revoked.version === p.checkedRevocation) return;
    p.checkedRevocation = revoked.version;
    const refused = revokedPeer(revoked, p.peerSerials, "server");
    if (refused === undefined) return;
    p.error = refused;
    // A ticket of this session would resume with the revoked certificate: the next handshake is a full one.
    this.#tickets.delete(p.key);
    this.#drain(p, "revoked");
  }

  #drain(p: PooledSession, reason: SessionCloseReason): void {
    if (p.state.state === "closed" || p.state.state === "draining") return;
    p.state = { state: "draining", since: Date.now(), reason };
    trace(poolChannel, () => ({ event: "session-draining", key: p.key, reason, streams: p.streams }));
    if (p.streams === 0) void this.#closeSession(p, reason, 0);
  }

  #remove(p: PooledSession, reason: SessionCloseReason): void {
    if (p.state.state === "closed") return;
    const wasOpen = p.session !== undefined && p.state.state !== "connecting";
    p.state = { state: "closed", reason };
    if (p.idleTimer !== undefined) this.#config.timers.clearTimeout(p.idleTimer);
    if (p.pingTimer !== undefined) this.#config.timers.clearTimeout(p.pingTimer);
    p.idleTimer = undefined;
    p.pingTimer = undefined;
    const list = this.#sessions.get(p.key);
    if (list !== undefined) {
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#sessions.delete(p.key);
    }
    if (wasOpen) {
      this.#stats.sessionsClosed += 1;
      trace(poolChannel, () => ({ event: "session-close", key: p.key, reason }));
      this.emit("session-close", {
        key: p.key,
        reason,
        error: p.error?.message,
        goaway: p.goaway?.code,
      });
    }
  }

  #closeSession(p: PooledSession, reason: SessionCloseReason, graceMs: number): Promise<void> {
    const session = p.session;
    this.#remove(p, reason);
    if (session === undefined || session.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      session.once("close", () => resolve());
      if (graceMs > 0) {
        const t = this.#config.timers.setTimeout(() => session.destroy(), graceMs);
        session.once("close", () => this.#config.timers.clearTimeout(t));
      }
      session.close();
      if (graceMs === 0 && p.streams === 0) {
        // Nothing in flight: close() flushes GOAWAY and ends the socket; nothing to wait for.
      }
    });
  }

  #openStream(p: PooledSession, params: PoolConnectParams): { stream: Duplex; established: Promise<void> } {
    const session = p.session;
    if (session === undefined || session.closed || session.destroyed) {
      this.#release(p);
      throw p.error !== undefined && isHboneError(p.error)
        ? p.error
        : new HboneError(HboneErrorCode.CLOSED, "the HBONE session closed before the stream could open");
    }
    const h = params.headers ?? {};
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "CONNECT",
      ":authority": params.authority,
      traceparent: h.traceparent ?? formatTraceParent(newTraceParent(params.connId)),
    };
    if (h.baggage !== undefined) headers["baggage"] = h.baggage;
    if (h.forwarded !== undefined) headers["forwarded"] = h.forwarded;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (e) {
      this.#release(p);
      throw this.#streamError(p, e as Error, params);
    }
    this.#stats.streamsOpened += 1;
    p.admitted += 1;
    stream.on("error", () => {});
    stream.once("close", () => {
      p.admitted -= 1;
      this.#release(p);
    });
    const c = this.#config;
    const established = new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = c.timers.setTimeout(() => {
        if (settled) return;
        settled = true;
        stream.close(constants.NGHTTP2_CANCEL);
        reject(
          new HboneError(
            HboneErrorCode.TIMEOUT,
            `no CONNECT response for ${params.authority} from ${params.dstAddress.host} within ${c.connectTimeoutMs} ms`,
          ),
        );
      }, c.connectTimeoutMs);
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        c.timers.clearTimeout(timer);
        // GOAWAY/RST details arrive in the same tick as the stream error: read them a turn later.
        setImmediate(() => reject(this.#streamError(p, e, params)));
      };
      // Built only when it is news: an Error captures a stack, and every stream closes eventually.
      const closedEarly = (): void => {
        if (settled) return;
        fail(
          new HboneError(
            HboneErrorCode.PROTOCOL,
            `stream closed before the CONNECT response (rst ${stream.rstCode})`,
          ),
        );
      };
      stream.on("error", fail);
      stream.on("close", closedEarly);
      stream.once("response", (resHeaders) => {
        if (settled) return;
        settled = true;
        c.timers.clearTimeout(timer);
        // Answered: these (and the request's parameters they hold) are not needed for the
        // stream's remaining, possibly idle, life.
        stream.removeListener("error", fail);
        stream.removeListener("close", closedEarly);
        const status = Number(resHeaders[":status"]);
        if (status === 200) {
          resolve();
          return;
        }
        this.#stats.connectsRefused += 1;
        // end() (END_STREAM), never an RST per refusal: nghttp2 punishes bulk resets (rapid reset).
        stream.end();
        stream.resume();
        reject(
          new HboneError(
            HboneErrorCode.CONNECT_REFUSED,
            `HBONE CONNECT ${params.authority} via ${params.dstAddress.host}:${params.dstAddress.port} refused with status ${status}`,
            { status },
          ),
        );
      });
    });
    // Nobody may be listening yet when an early-data caller fails first; the rejection is still theirs to read.
    established.catch(() => {});
    return { stream, established };
  }

  #streamError(p: PooledSession, e: Error, params: PoolConnectParams): HboneError {
    if (isHboneError(e) && e.code !== HboneErrorCode.PROTOCOL) return e;
    if (p.goaway !== undefined && p.goaway.code === constants.NGHTTP2_INADEQUATE_SECURITY) {
      return new HboneError(
        HboneErrorCode.PEER_REJECTED,
        `server ${params.dstAddress.host}:${params.dstAddress.port} rejected our identity ${params.source.identity.toString()}: ${p.goaway.debug || "no reason given"}`,
        { cause: e },
      );
    }
    if (p.error !== undefined && isHboneError(p.error)) return p.error;
    return new HboneError(
      HboneErrorCode.PROTOCOL,
      `HBONE stream to ${params.authority} via ${params.dstAddress.host}:${params.dstAddress.port} failed: ${e.message}`,
      { cause: e },
    );
  }
}

/** The server refused the stream unprocessed (RST_STREAM REFUSED_STREAM): it may be retried. */
export function isRefusedStream(e: unknown): boolean {
  return isHboneError(e, HboneErrorCode.PROTOCOL) && e.message.includes("REFUSED_STREAM");
}

function authorityUrl(d: Destination): string {
  return net.isIPv6(d.host) ? `https://[${d.host}]:${d.port}` : `https://${d.host}:${d.port}`;
}
