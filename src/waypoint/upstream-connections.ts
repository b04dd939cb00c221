/**
 * The waypoint's kept-alive upstream connections, per endpoint (address, port, identity): HTTP/1.1
 * through an `http.Agent` whose sockets are HBONE streams, HTTP/2 as one multiplexed session. Without
 * them every request costs an HBONE stream, a TCP connect at the far ztunnel and an accept in the pod.
 *
 * Lifetimes: a free HTTP/1.1 connection is closed after `idleTimeoutMs` (shorter than the 5 s
 * keep-alive timeout of Node's HTTP server, the common pod runtime here, so the pod seldom closes a
 * connection the waypoint is about to reuse); any connection is retired after `maxAgeMs`, so new
 * streams pick up a rotated certificate and a re-balanced HBONE pool. Retiring ends streams with
 * END_STREAM, never RST_STREAM (see `paired`).
 */
import http from "node:http";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { duplexPair } from "./duplex-pair.js";
import type { UpstreamChoice } from "./upstream.js";

export interface UpstreamConnectionsOptions {
  /** Opens an HBONE stream to the endpoint (CONNECT to its address and port). */
  open(up: UpstreamChoice): Promise<Duplex>;
  idleTimeoutMs?: number;
  maxAgeMs?: number;
  /** Free HTTP/1.1 connections kept per endpoint. */
  maxFreePerEndpoint?: number;
}

export const DEFAULT_UPSTREAM_IDLE_MS = 4_000;
export const DEFAULT_UPSTREAM_MAX_AGE_MS = 60_000;
/** A stream we half-closed after a clean exchange is reset if the far side never finishes it. */
const GRACEFUL_CLOSE_MS = 10_000;

/** The HBONE stream could not be opened: nothing reached the endpoint (Envoy's connect-failure). */
export class UpstreamConnectError extends Error {}

export function endpointKey(up: UpstreamChoice): string {
  return `${up.endpoint.ip}:${up.port}|${up.endpoint.identity}`;
}

/**
 * A socket for an HTTP client over an HBONE stream, through an in-memory pair: Node's HTTP client
 * corks the header block and the body into one writev, which an HTTP/2 stream mangled (seen with
 * POST bodies); through the pair every chunk reaches the tunnel as a plain write.
 *
 * Closing: a socket destroyed without an error (a complete exchange, a retired or idle keep-alive
 * connection) half-closes the stream with END_STREAM and lets the far side finish it; only a socket
 * destroyed with an error (an abandoned exchange) resets it. A RST_STREAM per request trips the
 * server's rapid-reset limit (nghttp2: a burst of 1,000, then 33/s), which answers with GOAWAY
 * INTERNAL_ERROR and takes every stream of the session down with it.
 */
export function paired(tunnel: Duplex): Duplex {
  const [s, far] = duplexPair({ allowHalfOpen: false });
  far.on("error", () => {});
  s.on("error", () => {});
  tunnel.on("error", () => {});
  far.pipe(tunnel);
  tunnel.pipe(far);
  tunnel.once("close", () => far.destroy());
  s.once("close", () => {
    if (tunnel.destroyed) return;
    if (s.errored !== null && !tunnel.readableEnded) return reset(tunnel);
    tunnel.end();
    tunnel.resume();
    const timer = setTimeout(() => tunnel.destroy(), GRACEFUL_CLOSE_MS);
    timer.unref();
    tunnel.once("close", () => clearTimeout(timer));
  });
  return s;
}

/**
 * RST_STREAM CANCEL for an HTTP/2 stream (a plain `destroy()` resets with NO_ERROR, which reads as
 * a clean end to the far side); other duplexes are destroyed.
 */
function reset(tunnel: Duplex): void {
  const h2 = tunnel as Duplex & { close?: (code: number) => void };
  if (typeof h2.close === "function") h2.close(http2.constants.NGHTTP2_CANCEL);
  else tunnel.destroy();
}

class HboneAgent extends http.Agent {
  readonly #open: () => Promise<Duplex>;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #born = new WeakMap<Duplex, number>();
  readonly #idle = new WeakMap<Duplex, NodeJS.Timeout>();

  constructor(open: () => Promise<Duplex>, idleMs: number, maxAgeMs: number, maxFree: number) {
    super({ keepAlive: true, maxFreeSockets: maxFree, scheduling: "lifo" });
    this.#open = open;
    this.#idleMs = idleMs;
    this.#maxAgeMs = maxAgeMs;
  }

  override createConnection(
    _options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    this.#open().then(
      (stream) => {
        const s = paired(stream);
        this.#born.set(s, Date.now());
        callback?.(null, s);
      },
      (e: Error) => callback?.(new UpstreamConnectError(e.message, { cause: e }), undefined as never),
    );
    return undefined;
  }

  override keepSocketAlive(socket: Duplex): boolean {
    if (Date.now() - (this.#born.get(socket) ?? 0) > this.#maxAgeMs) return false;
    const timer = setTimeout(() => socket.destroy(), this.#idleMs);
    timer.unref();
    this.#idle.set(socket, timer);
    super.keepSocketAlive(socket);
    return true;
  }

  override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
    clearTimeout(this.#idle.get(socket));
    this.#idle.delete(socket);
    super.reuseSocket(socket, request);
  }
}

interface H2Entry {
  readonly session: Promise<http2.ClientHttp2Session>;
  readonly born: number;
}

export class UpstreamConnections {
  readonly #open: (up: UpstreamChoice) => Promise<Duplex>;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #maxFree: number;
  readonly #agents = new Map<string, HboneAgent>();
  readonly #h2 = new Map<string, H2Entry>();
  readonly #h2Live = new Set<http2.ClientHttp2Session>();

  constructor(o: UpstreamConnectionsOptions) {
    this.#open = o.open;
    this.#idleMs = o.idleTimeoutMs ?? DEFAULT_UPSTREAM_IDLE_MS;
    this.#maxAgeMs = o.maxAgeMs ?? DEFAULT_UPSTREAM_MAX_AGE_MS;
    this.#maxFree = o.maxFreePerEndpoint ?? 64;
  }

  /** The keep-alive agent of an endpoint, for HTTP/1.1. */
  agent(up: UpstreamChoice): http.Agent {
    const key = endpointKey(up);
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent = new HboneAgent(() => this.#open(up), this.#idleMs, this.#maxAgeMs, this.#maxFree);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** The endpoint's HTTP/2 session (prior knowledge), opened on first use and shared by requests. */
  http2Session(up: UpstreamChoice, authority: string): Promise<http2.ClientHttp2Session> {
    const key = endpointKey(up);
    const entry = this.#h2.get(key);
    if (entry !== undefined && Date.now() - entry.born <= this.#maxAgeMs) return entry.session;
    if (entry !== undefined) this.#retire(key, entry);
    const forget = (): void => {
      if (this.#h2.get(key) === fresh) this.#h2.delete(key);
    };
    const fresh: H2Entry = { session: this.#connectH2(up, authority, forget), born: Date.now() };
    fresh.session.catch(forget);
    this.#h2.set(key, fresh);
    return fresh.session;
  }

  async #connectH2(
    up: UpstreamChoice,
    authority: string,
    forget: () => void,
  ): Promise<http2.ClientHttp2Session> {
    let stream: Duplex;
    try {
      stream = await this.#open(up);
    } catch (e) {
      throw new UpstreamConnectError((e as Error).message, { cause: e });
    }
    const s = paired(stream);
    const session = http2.connect(`http://${authority}`, { createConnection: () => s });
    session.on("error", () => {});
    this.#h2Live.add(session);
    session.once("close", () => this.#h2Live.delete(session));
    session.once("close", forget);
    session.once("goaway", forget);
    // An unused session goes away after the idle timeout, like a free HTTP/1.1 connection.
    session.setTimeout(this.#idleMs, () => session.close());
    return session;
  }

  #retire(key: string, entry: H2Entry): void {
    this.#h2.delete(key);
    void entry.session.then((s) => s.close()).catch(() => {});
  }

  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    for (const s of this.#h2Live) s.destroy();
    this.#h2Live.clear();
    this.#h2.clear();
  }
}
