/**
 * Joins two byte streams (an HTTP/2 CONNECT stream and a TCP socket) in both directions.
 * Backpressure: a full writer pauses its reader until 'drain', so nothing is buffered beyond the
 * streams' high-water marks and the HTTP/2 windows. Half-close is preserved: when one side ends its
 * write direction, the other side's write direction is ended and the opposite direction keeps
 * flowing, so a client that half-closes still gets its reply. An error on either side, or a side
 * that goes away before sending its EOF, destroys both.
 *
 * Writes are coalesced per turn of the event loop. An HTTP/2 stream hands over a DATA frame's payload
 * in pieces cut at TLS record boundaries (16,357 + 27 bytes, 16,348 + 36, …): two `write(2)`s per
 * 16 KiB record. The first chunk of a turn is written at once (no added latency for a request that
 * is one chunk); the rest are corked until the loop's check phase (`setImmediate`: a `nextTick`
 * would run after each of the callbacks one socket read makes) and leave in one `writev(2)`. In the
 * other direction, a busy client's 64 KiB reads of one turn become two HTTP/2 writes, so two large
 * DATA frames and TLS writes instead of up to 32. Single-stream throughput through a ztunnel pair
 * went from ~0.6 to ~1.5 Gbit/s (bench/README.md). What waits is what one turn read from `src` (libuv reads
 * a socket up to 32 × 64 KiB per turn), within the HTTP/2 windows; backpressure is judged when the
 * batch is flushed.
 *
 * Plain listeners rather than `stream.pipeline`: pipeline builds an AbortController and
 * end-of-stream watchers per direction, and a DOMException per direction on teardown — about a
 * tenth of a ztunnel's CPU per new connection in the profiles (docs/performance.md).
 */
import type { Duplex } from "node:stream";

export interface SpliceResult {
  /** Bytes that went a → b and b → a. */
  aToB: number;
  bToA: number;
  /** The first error of either direction (undefined on a clean close). */
  error: Error | undefined;
}

function prematureClose(): Error {
  const e = new Error("Premature close") as NodeJS.ErrnoException;
  e.code = "ERR_STREAM_PREMATURE_CLOSE";
  return e;
}

interface Direction {
  over: boolean;
  complete(): void;
}

export function splice(a: Duplex, b: Duplex, onDone?: (result: SpliceResult) => void): SpliceResult {
  const result: SpliceResult = { aToB: 0, bToA: 0, error: undefined };
  let pending = 2;
  let failed = false;
  const fail = (err: Error): void => {
    if (failed) return;
    failed = true;
    result.error = err;
    a.destroy();
    b.destroy();
  };

  const direction = (src: Duplex, dst: Duplex, add: (n: number) => void): Direction => {
    // The first chunk of a turn goes out at once (a request or a response is usually one chunk, and
    // waits for nothing); later chunks of the same turn are corked and leave together when it ends.
    let inTurn = false;
    let corked = false;
    const endTurn = (): void => {
      inTurn = false;
      if (corked) {
        corked = false;
        dst.uncork();
      }
      // Still queued after the write was tried: wait for 'drain' before reading more.
      if (!dst.destroyed && dst.writableLength > dst.writableHighWaterMark) src.pause();
    };
    const onData = (chunk: Buffer): void => {
      add(chunk.length);
      if (!inTurn) {
        inTurn = true;
        setImmediate(endTurn);
      } else if (!corked) {
        corked = true;
        dst.cork();
      }
      dst.write(chunk);
    };
    const onDrain = (): void => {
      src.resume();
    };
    const onEnd = (): void => {
      dst.end();
    };
    const d: Direction = {
      over: false,
      complete: () => {
        if (d.over) return;
        d.over = true;
        src.removeListener("data", onData);
        src.removeListener("end", onEnd);
        dst.removeListener("drain", onDrain);
        dst.removeListener("finish", d.complete);
        // Whatever `src` still sends has nowhere to go: read and drop it, so it can end.
        if (!src.destroyed) src.resume();
        pending -= 1;
        if (pending === 0) onDone?.(result);
      },
    };
    src.on("data", onData);
    // 'end', 'finish' and 'close' come once: plain listeners, not once() wrappers (an idle
    // connection holds every listener it registered).
    src.on("end", onEnd);
    dst.on("drain", onDrain);
    // `dst` finished: `src` ended and everything was flushed, or `dst` ended its write side on its
    // own (a socket that got its peer's EOF and does not allow half-open). Either way: done.
    dst.on("finish", d.complete);
    // A 'data' listener does not restart a stream someone paused (a SOCKS5 or protocol sniffer did).
    src.resume();
    // A source whose EOF was already read (by whoever read its first bytes) will not say so again.
    if (src.readableEnded) onEnd();
    return d;
  };

  const ab = direction(a, b, (n) => {
    result.aToB += n;
  });
  const ba = direction(b, a, (n) => {
    result.bToA += n;
  });

  /** `side` has closed: settle the directions it took part in. */
  const closedSide = (side: Duplex, from: Direction, into: Direction): void => {
    if (!from.over && !side.readableEnded) fail(prematureClose());
    if (!into.over) {
      // The side sent its own EOF, then closed (a server answering and hanging up): the end of the
      // connection, not a failure. Resetting the other side here would race the response still in
      // flight to it (an HTTP/2 RST right behind the last DATA).
      if (side.readableEnded) into.complete();
      else fail(prematureClose());
    }
  };
  const onClose = (): void => {
    // Let an 'end' or 'finish' queued in this tick land before judging how the side went away.
    setImmediate(() => {
      if (a.destroyed) closedSide(a, ab, ba);
      if (b.destroyed) closedSide(b, ba, ab);
      if (a.destroyed && b.destroyed) {
        ab.complete();
        ba.complete();
      }
    });
  };
  /**
   * An HTTP/2 stream whose peer closed it (RST_STREAM) while this side still had bytes to send says
   * 'aborted'. Node ends its writable side, but what is queued there never drains and never fails
   * (the stream has no window left and no peer to grant one), so a reader paused for backpressure
   * would wait for 'drain' forever, holding the connection, its queued bytes and the sender's socket
   * (a server that closed while its client was still uploading left ztunnel connections open).
   * Nothing more can reach that side: its direction is over, and what the other side still sends is
   * read and dropped, as after any completed direction. The other direction keeps flowing, so the
   * bytes the stream delivered before its reset still arrive, and once they have all been read the
   * stream is destroyed (Node leaves a stream whose writes never finished undestroyed, queued bytes
   * included).
   */
  const onAborted = (side: Duplex, into: Direction): void => {
    into.complete();
    if (side.readableEnded) side.destroy();
    else side.on("end", () => side.destroy());
  };
  const onError = (err: Error): void => fail(err);
  a.on("error", onError);
  b.on("error", onError);
  a.on("aborted", () => onAborted(a, ba));
  b.on("aborted", () => onAborted(b, ab));
  a.on("close", onClose);
  b.on("close", onClose);
  // A side that went away before the splice began (a client that reset while its CONNECT was
  // being answered) will not emit 'close' again.
  if (a.destroyed || b.destroyed) onClose();
  return result;
}

/** What `pipeBoth` resolves with. Byte counts are from `client`'s view (Istio's tcp_received/sent_bytes). */
export interface PipeResult {
  /** client → upstream. */
  readonly received: number;
  /** upstream → client. */
  readonly sent: number;
  readonly error: Error | undefined;
}

/**
 * `splice` as a promise for the proxies (ztunnel and waypoint): joins the client side and the
 * upstream side of a proxied connection and resolves once both directions are over, including when
 * both sides were destroyed.
 */
export function pipeBoth(client: Duplex, upstream: Duplex): Promise<PipeResult> {
  return new Promise((resolve) => {
    splice(client, upstream, (r) => resolve({ received: r.aToB, sent: r.bToA, error: r.error }));
  });
}
