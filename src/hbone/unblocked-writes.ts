/**
 * The socket an HBONE pool session runs on, with writes that never block its reads.
 *
 * node:http2 stops reading a session's socket, and pauses nghttp2's input, while one of the
 * session's socket writes is pending (`Http2Session::OnDataChunkReceived` answers
 * `NGHTTP2_ERR_PAUSE` when a write is in progress: a bound on what it buffers). Two HBONE peers
 * whose both directions are full — slow readers at both ends of some streams, more in flight than
 * the TCP buffers hold — then each wait for the other to read: the whole session deadlocks, its
 * other streams and PINGs included (the `slow-reader` chaos scenario).
 *
 * Handing http2 this Duplex on the client side breaks the cycle: a write is queued on the TLS
 * socket and acknowledged at once, so the client session always reads, so the server's writes
 * complete and it reads too. What may queue here is bounded by HTTP/2 flow control: the server's
 * connection window (the server's nghttp2 sees no data it has not read, so grants no more).
 *
 * The other way out is a kernel send buffer that holds that whole window, so a write never stays
 * pending (the pool's `reserveSendBuffer`; the ztunnel's `--hbone-writes kernel`). It saves this
 * class's cost — Node's JSStream copies each written buffer and makes a JavaScript round trip per
 * write — but loses some single-stream throughput (docs/performance.md, "HBONE writes").
 */
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";

export class UnblockedWrites extends Duplex {
  readonly #socket: TLSSocket;

  constructor(socket: TLSSocket) {
    super({ allowHalfOpen: false, decodeStrings: false });
    this.#socket = socket;
    socket.on("data", (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    let eof = false;
    socket.once("end", () => {
      eof = true;
      this.push(null);
    });
    // A reset right behind the peer's last frames (a GOAWAY and its reason, say): those frames are
    // delivered first, then the error.
    socket.on("error", (e: Error) => {
      if (eof) return;
      eof = true;
      this.once("end", () => this.destroy(e));
      this.push(null);
    });
    // After an EOF, what was read is still to be consumed: this side ends on its own once it has
    // been. Without one, the connection is simply gone.
    socket.once("close", () => {
      if (!eof) this.destroy();
    });
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#socket.write(chunk);
    cb();
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.#socket.cork();
    for (const { chunk } of chunks) this.#socket.write(chunk);
    this.#socket.uncork();
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }
}
