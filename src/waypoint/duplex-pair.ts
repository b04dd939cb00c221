/**
 * Two connected in-memory Duplex ends (Node 20 has no `stream.duplexPair`). The HBONE server splices
 * a CONNECT stream to one end; the waypoint parses the other. Writes wait for the peer's reader, so
 * backpressure crosses the pair; `end()` on one side is the peer's EOF (half-close preserved).
 */
import { Duplex } from "node:stream";

class PairEnd extends Duplex {
  peer: PairEnd | undefined;
  #pendingWrite: (() => void) | undefined;
  /** Address facts Node's HTTP server reads from a socket. */
  remoteAddress: string | undefined;
  remotePort: number | undefined;

  constructor(allowHalfOpen: boolean) {
    super({ allowHalfOpen });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed) cb(new Error("peer closed"));
    else if (peer.push(chunk)) cb();
    else peer.#waitRead(cb);
  }

  #waitRead(cb: () => void): void {
    this.#pendingWrite = cb;
  }

  override _read(): void {
    const w = this.#pendingWrite;
    this.#pendingWrite = undefined;
    w?.();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.peer?.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    const w = this.#pendingWrite;
    this.#pendingWrite = undefined;
    w?.();
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed) peer.destroy();
    cb(err);
  }

  // Node's HTTP server calls these on its connections; an in-memory pipe has nothing to tune.
  setTimeout(_ms: number, _cb?: () => void): this {
    return this;
  }
  setNoDelay(_on?: boolean): this {
    return this;
  }
  setKeepAlive(_on?: boolean, _delay?: number): this {
    return this;
  }
  // http.Agent calls these on the sockets it keeps alive; nothing holds the event loop here.
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/**
 * `near.allowHalfOpen` false makes the first end behave like a client `net.Socket`: the peer's EOF
 * ends it (an HTTP client then drops a kept-alive connection its server closed).
 */
export function duplexPair(
  near: { allowHalfOpen: boolean } = { allowHalfOpen: true },
): [Duplex & { remoteAddress?: string | undefined }, PairEnd] {
  const a = new PairEnd(near.allowHalfOpen);
  const b = new PairEnd(true);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
