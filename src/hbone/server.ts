/**
 * The HBONE server (ztunnel's :15008 side): TLS 1.3 + ALPN h2, client certificate required,
 * one HTTP/2 `CONNECT` stream per tunnelled connection.
 *
 * Certificate per destination without SNI: ztunnel hands us the raw TCP socket and its original
 * destination; we pick the credential of the local workload that owns that address and feed the
 * socket to that identity's own `http2.createSecureServer` (`emit('connection')`). Wrapping the raw
 * socket in a hand-made TLSSocket for a plain h2 server never serves a stream (PLATFORM-NOTES).
 */
import type { X509Certificate } from "node:crypto";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import type { SpiffeId } from "../identity/spiffe.js";
import { HboneError, HboneErrorCode } from "./errors.js";
import { type ConnectTarget, parseAuthority, parseTraceParent } from "./headers.js";
import { splice } from "./splice.js";
import { realTimers, type TimerHandle, type Timers } from "./timers.js";
import {
  ALPN_H2,
  chainSerials,
  contextOptions,
  DEFAULT_CIPHER_SUITES,
  type RevocationCheck,
  revokedPeer,
  verifyPeer,
  type WorkloadCredential,
} from "./tls.js";
import { serverChannel, trace } from "./trace.js";
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_LIST_SIZE,
  DEFAULT_MAX_HEADER_PAIRS,
  DEFAULT_MAX_SESSION_MEMORY_MB,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  flowControlSettings,
  requirePositiveInt,
} from "./tuning.js";

const { constants } = http2;

export interface OriginalDestination {
  address: string;
  port: number;
}

/** What the server knows about one CONNECT when it asks for a decision. */
export interface ConnectRequest {
  /** From the verified client certificate's URI SAN, never from a header. */
  peer: SpiffeId;
  peerCertificate: X509Certificate;
  target: ConnectTarget;
  headers: { baggage?: string; forwarded?: string; traceparent?: string };
  /** The trace id of the request's traceparent (or a fresh one): the id to log this connection under. */
  connId: string;
  /** The identity this server presented (the destination workload's). */
  localIdentity: SpiffeId;
  /** The address the client dialled (the destination workload's IP, port 15008). */
  localAddress: OriginalDestination;
  remoteAddress: string;
}

export type ConnectDecision =
  | { allow: true; connect(): Promise<Duplex> }
  | { allow: false; status: 401 | 403 | 503; reason: string };

/** One per CONNECT stream, emitted when it is over: the data for an access-log record. */
export interface ConnectRecord {
  connId: string;
  peer: string;
  localIdentity: string;
  target: string;
  status: number;
  reason: string | undefined;
  /** Client → target and target → client bytes. */
  bytesIn: number;
  bytesOut: number;
  error: Error | undefined;
}

export interface HboneServerOptions {
  /** The credential of the local workload that owns `dstAddress`; undefined = not ours (connection dropped). */
  credentialFor(dstAddress: string): WorkloadCredential | undefined;
  authorize(request: ConnectRequest): Promise<ConnectDecision> | ConnectDecision;
  /** Trust domains whose clients are accepted. Default: the local identity's own trust domain. */
  trustDomains?: readonly string[];
  /** Trust bundle override (PEM, several roots allowed). Default: each credential's `rootsPem`. */
  rootsPem?: string;
  cipherSuites?: string;
  maxConcurrentStreams?: number;
  streamWindowSize?: number;
  connectionWindowSize?: number;
  maxFrameSize?: number;
  maxHeaderListSize?: number;
  handshakeTimeoutMs?: number;
  /** A session with no stream for this long is closed with GOAWAY. */
  sessionIdleTimeoutMs?: number;
  /** A stream with no traffic for this long is cancelled; 0 (default) = tunnels may idle forever. */
  streamIdleTimeoutMs?: number;
  drainTimeoutMs?: number;
  timers?: Timers;
  /** Called for every TLS/identity rejection with a coded error (for logs and metrics). */
  onRejected?(error: HboneError, remoteAddress: string | undefined): void;
  /** Called once per CONNECT stream when it ends. */
  onConnectDone?(record: ConnectRecord): void;
}

interface HboneServerConfig {
  readonly credentialFor: HboneServerOptions["credentialFor"];
  readonly authorize: HboneServerOptions["authorize"];
  readonly trustDomains: readonly string[] | undefined;
  readonly cipherSuites: string;
  readonly maxConcurrentStreams: number;
  readonly streamWindowSize: number;
  readonly connectionWindowSize: number;
  readonly maxFrameSize: number;
  readonly maxHeaderListSize: number;
  readonly handshakeTimeoutMs: number;
  readonly sessionIdleTimeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly timers: Timers;
  readonly onRejected: HboneServerOptions["onRejected"];
  readonly onConnectDone: HboneServerOptions["onConnectDone"];
}

function validate(o: HboneServerOptions): HboneServerConfig {
  if (typeof o.credentialFor !== "function" || typeof o.authorize !== "function") {
    throw new HboneError(
      HboneErrorCode.CONFIG,
      "HBONE server needs credentialFor() and authorize() callbacks",
    );
  }
  return Object.freeze({
    credentialFor: o.credentialFor,
    authorize: o.authorize,
    trustDomains: o.trustDomains === undefined ? undefined : Object.freeze([...o.trustDomains]),
    cipherSuites: o.cipherSuites ?? DEFAULT_CIPHER_SUITES,
    maxConcurrentStreams: requirePositiveInt(
      "maxConcurrentStreams",
      o.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    ),
    ...flowControlSettings(o),
    maxHeaderListSize: requirePositiveInt(
      "maxHeaderListSize",
      o.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE,
    ),
    handshakeTimeoutMs: requirePositiveInt(
      "handshakeTimeoutMs",
      o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    ),
    sessionIdleTimeoutMs: requirePositiveInt(
      "sessionIdleTimeoutMs",
      o.sessionIdleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS,
    ),
    streamIdleTimeoutMs: requirePositiveInt("streamIdleTimeoutMs", o.streamIdleTimeoutMs ?? 0, 0),
    drainTimeoutMs: requirePositiveInt("drainTimeoutMs", o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS, 0),
    timers: o.timers ?? realTimers,
    onRejected: o.onRejected,
    onConnectDone: o.onConnectDone,
  });
}

export interface HboneServerStats {
  /** Raw connections handed to the server. */
  connections: number;
  /** Sessions whose client proved an acceptable identity. */
  sessionsAccepted: number;
  sessionsActive: number;
  /** TLS failures and identity rejections, by HBONE_ERR_ code. */
  rejected: Record<string, number>;
  streamsActive: number;
  connectsAllowed: number;
  /** Non-200 answers, by status. */
  connectsRefused: Record<string, number>;
}

/** Per-identity secure server and what it was built from (to notice rotation). */
interface IdentityServer {
  server: http2.Http2SecureServer;
  identity: SpiffeId;
  serial: string;
  rootsPem: string;
  revoked: RevocationCheck | undefined;
  /** The revocation version the session-ticket keys were (re)made at. */
  ticketsAt: number;
}

interface SessionState {
  peer: SpiffeId;
  peerCertificate: X509Certificate;
  /** The client's chain serials and the revocation version they were last checked against. */
  peerSerials: readonly string[];
  checkedRevocation: number | "revoked";
  localIdentity: SpiffeId;
  localAddress: OriginalDestination;
  remoteAddress: string;
  activeStreams: number;
  idleTimer: TimerHandle | undefined;
}

type ServerState = { state: "running" } | { state: "closing"; since: number } | { state: "closed" };

export class HboneServer {
  readonly #config: HboneServerConfig;
  #rootsOverride: string | undefined;
  readonly #servers = new Map<string, IdentityServer>();
  readonly #sessions = new Map<http2.Http2Session, SessionState | undefined>();
  // Raw sockets between handleConnection and their HTTP/2 session, keyed by the peer's address and
  // port: the original destination travels to the 'session' event this way, and close() can
  // destroy connections still in their handshake.
  readonly #handshaking = new Map<string, { raw: net.Socket; dst: OriginalDestination }>();
  readonly #listeners: net.Server[] = [];
  #state: ServerState = { state: "running" };
  /**
   * Every accepted TCP socket until it closes. node:http2 does not destroy the socket of a session
   * nghttp2 itself ended (docs/security.md); close() destroys what is left, or the listeners'
   * close would wait for those sockets forever.
   */
  readonly #raws = new Set<net.Socket>();
  /** Set by drain(): sessions still being established get GOAWAY once they served their first stream. */
  #drainUntil: number | undefined;
  readonly #stats: HboneServerStats = {
    connections: 0,
    sessionsAccepted: 0,
    sessionsActive: 0,
    rejected: {},
    streamsActive: 0,
    connectsAllowed: 0,
    connectsRefused: {},
  };

  constructor(options: HboneServerOptions) {
    this.#config = validate(options);
    this.#rootsOverride = options.rootsPem;
  }

  get stats(): Readonly<HboneServerStats> {
    return {
      ...this.#stats,
      rejected: { ...this.#stats.rejected },
      connectsRefused: { ...this.#stats.connectsRefused },
    };
  }

  /** Replaces the trust bundle for new handshakes (root rotation); existing sessions keep theirs. */
  setTrustBundle(rootsPem: string | undefined): void {
    this.#rootsOverride = rootsPem;
  }

  /**
   * Takes over a raw TCP connection whose original destination is `originalDst`. The socket
   * is destroyed if no local workload owns that address (ztunnel is never an open relay).
   */
  handleConnection(raw: net.Socket, originalDst: OriginalDestination): void {
    raw.on("error", () => {
      // TLS reports handshake failures itself (tlsClientError); a reset before that is just a closed socket.
    });
    if (this.#state.state !== "running") {
      raw.destroy();
      return;
    }
    this.#stats.connections += 1;
    this.#raws.add(raw);
    raw.once("close", () => this.#raws.delete(raw));
    const credential = this.#config.credentialFor(originalDst.address);
    if (credential === undefined) {
      this.#reject(
        new HboneError(
          HboneErrorCode.NO_LOCAL_WORKLOAD,
          `no local workload owns ${originalDst.address}:${originalDst.port}; connection dropped (ztunnel only serves its own workloads)`,
        ),
        raw.remoteAddress,
      );
      raw.destroy();
      return;
    }
    let entry: IdentityServer;
    try {
      entry = this.#serverFor(credential);
    } catch (e) {
      this.#reject(
        new HboneError(
          HboneErrorCode.CONFIG,
          `cannot build a TLS context for ${credential.identity.toString()}: ${(e as Error).message}`,
          { cause: e },
        ),
        raw.remoteAddress,
      );
      raw.destroy();
      return;
    }
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 30_000);
    // HBONE half-closes per stream (END_STREAM), never per TCP connection: a peer's FIN means it is
    // gone. A capture listener's half-open socket would keep the session (and its fd) until idle timeout.
    raw.allowHalfOpen = false;
    const key = socketKey(raw.remoteAddress, raw.remotePort);
    this.#handshaking.set(key, { raw, dst: originalDst });
    raw.once("close", () => {
      if (this.#handshaking.get(key)?.raw === raw) this.#handshaking.delete(key);
    });
    entry.server.emit("connection", raw);
  }

  /** Standalone/test mode: accept on host:port; the original destination is the local address. */
  listen(port: number, host = "127.0.0.1"): Promise<net.AddressInfo> {
    const listener = net.createServer({ noDelay: true, keepAlive: true }, (raw) => {
      this.handleConnection(raw, { address: raw.localAddress ?? host, port: raw.localPort ?? port });
    });
    listener.on("error", () => {});
    this.#listeners.push(listener);
    return new Promise((resolve, reject) => {
      listener.once("error", (e: NodeJS.ErrnoException) =>
        reject(
          new HboneError(
            HboneErrorCode.CONFIG,
            `cannot listen on ${host}:${port}: ${e.code ?? e.message}; is the port in use?`,
            { cause: e },
          ),
        ),
      );
      listener.listen(port, host, () => resolve(listener.address() as net.AddressInfo));
    });
  }

  /**
   * Stops accepting, sends GOAWAY on every session, lets open streams finish for `drainTimeoutMs`,
   * then destroys what is left. Resolves when every socket is closed.
   */
  async close(): Promise<void> {
    if (this.#state.state !== "running") return;
    this.#state = { state: "closing", since: Date.now() };
    const listenersClosed = this.#listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
    for (const { raw } of this.#handshaking.values()) raw.destroy();
    const sessionsClosed = [...this.#sessions.keys()].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once("close", () => resolve());
          const t = this.#config.timers.setTimeout(() => s.destroy(), this.#config.drainTimeoutMs);
          s.once("close", () => this.#config.timers.clearTimeout(t));
          s.close();
        }),
    );
    await Promise.all(sessionsClosed);
    for (const raw of this.#raws) raw.destroy();
    await Promise.all(listenersClosed);
    this.#state = { state: "closed" };
  }

  /**
   * Hand-over to a new process (docs/ztunnel.md): GOAWAY on every session so peers open new
   * sessions (to the new listener) for new streams, while open streams run on until they end or
   * `deadlineMs` passes. Unlike close(), connections still in their TLS handshake are not reset:
   * they were accepted before the listeners closed and their client already sent a CONNECT.
   */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#state.state !== "running") return;
    this.#drainUntil = Date.now() + deadlineMs;
    const sessionsClosed = (): Promise<void>[] =>
      [...this.#sessions.keys()].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            s.once("close", () => resolve());
          }),
      );
    for (const s of this.#sessions.keys()) this.#closeDraining(s);
    // Handshakes in flight become sessions (closed after their first stream) or fail on their own.
    while (this.#handshaking.size > 0 && Date.now() < this.#drainUntil) {
      await new Promise<void>((r) => this.#config.timers.setTimeout(() => r(), 20));
    }
    for (const { raw } of this.#handshaking.values()) raw.destroy();
    await Promise.all(sessionsClosed());
    await this.close();
  }

  /**
   * GOAWAY naming the last stream seen. node:http2 cannot send nghttp2's shutdown notice (a first
   * GOAWAY with the largest stream id that still admits streams in flight): after any GOAWAY it
   * ignores new streams, and the client refuses those above the named id (REFUSED_STREAM, nothing
   * processed), so the client retries them elsewhere at once (`openWithEarlyData` in the ztunnel).
   */
  #closeDraining(s: http2.Http2Session): void {
    if (s.destroyed || this.#drainUntil === undefined) return;
    const t = this.#config.timers.setTimeout(() => s.destroy(), Math.max(0, this.#drainUntil - Date.now()));
    s.once("close", () => this.#config.timers.clearTimeout(t));
    s.close();
  }

  #reject(error: HboneError, remote: string | undefined): void {
    this.#stats.rejected[error.code] = (this.#stats.rejected[error.code] ?? 0) + 1;
    trace(serverChannel, () => ({ event: "rejected", code: error.code, remote, message: error.message }));
    this.#config.onRejected?.(error, remote);
  }

  #serverFor(credential: WorkloadCredential): IdentityServer {
    const id = credential.identity.toString();
    const serial = String(credential.serial);
    const rootsPem = this.#rootsOverride ?? credential.rootsPem;
    const existing = this.#servers.get(id);
    const tlsOptions = contextOptions(credential, rootsPem, { cipherSuites: this.#config.cipherSuites });
    if (existing !== undefined) {
      existing.revoked = credential.revoked;
      const version = credential.revoked?.version ?? 0;
      if (existing.ticketsAt !== version) {
        // A resumed TLS session shows the server the client's leaf only, not the intermediates it
        // sent: after a revocation, new ticket keys force full handshakes, whose chains are checked.
        existing.server.setTicketKeys(randomBytes(48));
        existing.ticketsAt = version;
      }
      if (existing.serial !== serial || existing.rootsPem !== rootsPem) {
        // Rotation: new handshakes get the new certificate/bundle; live sessions are untouched.
        existing.server.setSecureContext(tlsOptions);
        existing.serial = serial;
        existing.rootsPem = rootsPem;
      }
      return existing;
    }
    const c = this.#config;
    const server = http2.createSecureServer({
      ...tlsOptions,
      ALPNProtocols: [ALPN_H2],
      allowHTTP1: false,
      requestCert: true,
      // OpenSSL's verdict is read in the 'session' handler (verifyPeer) so every failure gets
      // its own code and the client a GOAWAY saying why; nothing is served before that check.
      rejectUnauthorized: false,
      handshakeTimeout: c.handshakeTimeoutMs,
      maxHeaderListPairs: DEFAULT_MAX_HEADER_PAIRS,
      maxSessionMemory: DEFAULT_MAX_SESSION_MEMORY_MB,
      peerMaxConcurrentStreams: c.maxConcurrentStreams,
      unknownProtocolTimeout: c.handshakeTimeoutMs,
      settings: {
        enablePush: false,
        maxConcurrentStreams: c.maxConcurrentStreams,
        initialWindowSize: c.streamWindowSize,
        maxFrameSize: c.maxFrameSize,
        maxHeaderListSize: c.maxHeaderListSize,
      },
    });
    const entry: IdentityServer = {
      server,
      identity: credential.identity,
      serial,
      rootsPem,
      revoked: credential.revoked,
      ticketsAt: credential.revoked?.version ?? 0,
    };
    server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      const code =
        err.code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? HboneErrorCode.TIMEOUT : HboneErrorCode.HANDSHAKE;
      this.#reject(
        new HboneError(code, `TLS handshake with ${socket.remoteAddress ?? "?"} failed: ${err.message}`, {
          cause: err,
        }),
        socket.remoteAddress,
      );
    });
    server.on("unknownProtocol", (socket: tls.TLSSocket) => {
      this.#reject(
        new HboneError(
          HboneErrorCode.HANDSHAKE,
          `client did not negotiate ALPN h2 (got ${String(socket.alpnProtocol)})`,
        ),
        socket.remoteAddress,
      );
      socket.destroy();
    });
    server.on("sessionError", () => {});
    server.on("session", (session: http2.ServerHttp2Session) => this.#onSession(session, entry));
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) =>
      this.#onStream(stream, headers),
    );
    this.#servers.set(id, entry);
    return entry;
  }

  #onSession(session: http2.ServerHttp2Session, entry: IdentityServer): void {
    session.on("error", () => {});
    this.#sessions.set(session, undefined);
    session.once("close", () => {
      const st = this.#sessions.get(session);
      if (st !== undefined) {
        if (st.idleTimer !== undefined) this.#config.timers.clearTimeout(st.idleTimer);
        this.#stats.sessionsActive -= 1;
      }
      this.#sessions.delete(session);
    });
    const socket = session.socket as tls.TLSSocket;
    const localAddress = this.#localAddressOf(socket);
    const trustDomains = this.#config.trustDomains ?? [entry.identity.trustDomain];
    // Read before anything calls getPeerX509Certificate(), which empties the chain (see chainSerials).
    const peerSerials = chainSerials(socket.getPeerCertificate(true));
    const check = verifyPeer(socket, trustDomains, "client", entry.revoked, peerSerials);
    if (!check.ok) {
      this.#reject(check.error, socket.remoteAddress);
      // INADEQUATE_SECURITY + the code as debug data: the client learns why instead of a bare reset.
      session.goaway(
        constants.NGHTTP2_INADEQUATE_SECURITY,
        0,
        Buffer.from(`${check.error.code}: ${check.error.message}`),
      );
      session.close();
      const t = this.#config.timers.setTimeout(() => session.destroy(), 1_000);
      session.once("close", () => this.#config.timers.clearTimeout(t));
      return;
    }
    const peerCertificate = socket.getPeerX509Certificate();
    if (peerCertificate === undefined) {
      session.destroy();
      return;
    }
    const st: SessionState = {
      peer: check.identity,
      peerCertificate,
      peerSerials,
      checkedRevocation: entry.revoked?.version ?? 0,
      localIdentity: entry.identity,
      localAddress,
      remoteAddress: socket.remoteAddress ?? "",
      activeStreams: 0,
      idleTimer: undefined,
    };
    this.#sessions.set(session, st);
    this.#stats.sessionsAccepted += 1;
    trace(serverChannel, () => ({
      event: "session-accepted",
      peer: st.peer.toString(),
      local: st.localIdentity.toString(),
    }));
    this.#stats.sessionsActive += 1;
    session.setLocalWindowSize(this.#config.connectionWindowSize);
    this.#armIdle(session, st);
    // Born while draining: serve the CONNECT its client already sent, then send it away.
    if (this.#drainUntil !== undefined)
      session.once("stream", () => setImmediate(() => this.#closeDraining(session)));
  }

  /**
   * A session whose client certificate was revoked after the handshake takes no new stream: the
   * stream is refused (REFUSED_STREAM: the client may retry it, and its retry's new session is
   * refused with the code) and the session closed gracefully. Not GOAWAY INADEQUATE_SECURITY here:
   * node:http2 destroys a client session on any GOAWAY but NO_ERROR, killing the open streams.
   */
  #revokedSince(session: http2.Http2Session, st: SessionState): boolean {
    if (st.checkedRevocation === "revoked") return true;
    const revoked = this.#servers.get(st.localIdentity.toString())?.revoked;
    if (revoked === undefined || revoked.version === st.checkedRevocation) return false;
    const refused = revokedPeer(revoked, st.peerSerials, "client");
    if (refused === undefined) {
      st.checkedRevocation = revoked.version;
      return false;
    }
    st.checkedRevocation = "revoked";
    this.#reject(refused, st.remoteAddress);
    session.close();
    return true;
  }

  #localAddressOf(socket: tls.TLSSocket): OriginalDestination {
    const key = socketKey(socket.remoteAddress, socket.remotePort);
    const pending = this.#handshaking.get(key);
    if (pending !== undefined) {
      this.#handshaking.delete(key);
      return pending.dst;
    }
    return { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
  }

  #armIdle(session: http2.Http2Session, st: SessionState): void {
    if (st.idleTimer !== undefined) this.#config.timers.clearTimeout(st.idleTimer);
    st.idleTimer = this.#config.timers.setTimeout(() => {
      st.idleTimer = undefined;
      if (st.activeStreams === 0 && !session.closed) session.close();
    }, this.#config.sessionIdleTimeoutMs);
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const session = stream.session;
    const st = session === undefined ? undefined : this.#sessions.get(session);
    if (session === undefined || st === undefined) {
      // A stream on a session whose peer was not verified: never served.
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (this.#revokedSince(session, st)) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    st.activeStreams += 1;
    this.#stats.streamsActive += 1;
    if (st.idleTimer !== undefined) {
      this.#config.timers.clearTimeout(st.idleTimer);
      st.idleTimer = undefined;
    }
    stream.once("close", () => {
      st.activeStreams -= 1;
      this.#stats.streamsActive -= 1;
      if (st.activeStreams === 0 && this.#state.state === "running") this.#armIdle(session, st);
    });
    this.#serveConnect(stream, headers, st).catch(() => {
      if (!stream.destroyed) stream.destroy();
    });
  }

  async #serveConnect(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    st: SessionState,
  ): Promise<void> {
    const traceparent = headerValue(headers.traceparent);
    const connId = parseTraceParent(traceparent)?.traceId ?? randomBytes(16).toString("hex");
    const authority = headerValue(headers[":authority"]);
    const record: ConnectRecord = {
      connId,
      peer: st.peer.toString(),
      localIdentity: st.localIdentity.toString(),
      target: authority ?? "",
      status: 0,
      reason: undefined,
      bytesIn: 0,
      bytesOut: 0,
      error: undefined,
    };
    const refuse = (status: number, reason: string): void => {
      record.status = status;
      record.reason = reason;
      this.#stats.connectsRefused[String(status)] = (this.#stats.connectsRefused[String(status)] ?? 0) + 1;
      if (!stream.destroyed && !stream.headersSent) {
        // end(), not close(): an RST per refusal would trip nghttp2's rapid-reset guard under load.
        stream.respond({ ":status": status }, { endStream: true });
      }
      // Data the client sent behind its CONNECT (early data) is discarded, never forwarded; reading
      // it lets the stream see the client's END_STREAM and close instead of sitting half-open.
      stream.resume();
      this.#config.onConnectDone?.(record);
    };
    if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== undefined) {
      return refuse(400, `HBONE accepts only CONNECT (got ${String(headers[":method"])})`);
    }
    const target = parseAuthority(authority);
    if (target === undefined) {
      return refuse(400, `malformed :authority ${JSON.stringify(authority ?? "")}; expected host:port`);
    }
    const request: ConnectRequest = {
      peer: st.peer,
      peerCertificate: st.peerCertificate,
      target,
      headers: pickHeaders(headers),
      connId,
      localIdentity: st.localIdentity,
      localAddress: st.localAddress,
      remoteAddress: st.remoteAddress,
    };
    let decision: ConnectDecision;
    try {
      decision = await this.#config.authorize(request);
    } catch (e) {
      record.error = e as Error;
      return refuse(503, `authorization failed: ${(e as Error).message}`);
    }
    if (stream.destroyed) {
      record.reason = "client went away before the decision";
      this.#config.onConnectDone?.(record);
      return;
    }
    if (!decision.allow) return refuse(decision.status, decision.reason);
    let upstream: Duplex;
    try {
      upstream = await decision.connect();
    } catch (e) {
      record.error = new HboneError(
        HboneErrorCode.UPSTREAM,
        `cannot reach ${authority ?? ""}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { cause: e },
      );
      return refuse(
        503,
        `upstream ${authority ?? ""} unreachable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    upstream.on("error", () => {});
    if (stream.destroyed) {
      upstream.destroy();
      record.reason = "client went away before the upstream connected";
      this.#config.onConnectDone?.(record);
      return;
    }
    this.#stats.connectsAllowed += 1;
    record.status = 200;
    stream.respond({ ":status": 200 });
    if (this.#config.streamIdleTimeoutMs > 0) {
      stream.setTimeout(this.#config.streamIdleTimeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
    }
    splice(stream, upstream, (r) => {
      record.bytesIn = r.aToB;
      record.bytesOut = r.bToA;
      record.error = r.error;
      this.#config.onConnectDone?.(record);
    });
  }
}

function socketKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? "?"}|${port ?? 0}`;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

function pickHeaders(h: http2.IncomingHttpHeaders): ConnectRequest["headers"] {
  const out: ConnectRequest["headers"] = {};
  const baggage = headerValue(h.baggage);
  const forwarded = headerValue(h.forwarded);
  const traceparent = headerValue(h.traceparent);
  if (baggage !== undefined) out.baggage = baggage;
  if (forwarded !== undefined) out.forwarded = forwarded;
  if (traceparent !== undefined) out.traceparent = traceparent;
  return out;
}
