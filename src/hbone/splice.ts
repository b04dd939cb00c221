/**
 * Joins two byte streams (an HTTP/2 CONNECT stream and a TCP socket) in both directions.
 * Backpressure comes from `pipeline` (a full writer pauses its reader; nothing is buffered
 * beyond the streams' high-water marks and the HTTP/2 windows). Half-close is preserved: when
 * one side ends its write direction, the other side's write direction is ended and the
 * opposite direction keeps flowing, so a client that half-closes still gets its reply.
 * An error on either side destroys both.
 */
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream";

export interface SpliceResult {
  /** Bytes that went a → b and b → a. */
  aToB: number;
  bToA: number;
  /** The first error of either direction (undefined on a clean close). */
  error: Error | undefined;
}

export function splice(a: Duplex, b: Duplex, onDone?: (result: SpliceResult) => void): SpliceResult {
  const result: SpliceResult = { aToB: 0, bToA: 0, error: undefined };
  let pending = 2;
  const finish =
    (src: Duplex, dst: Duplex) =>
    (err: Error | null | undefined): void => {
      if (err && closedAfterItsEnd(err, dst)) {
        // The destination sent its own EOF, then closed (a server answering and hanging up): that
        // is the end of the connection, not a failure. Its EOF is forwarded by the other direction;
        // what `src` still sends has nowhere to go and is read and dropped. Resetting `src` here
        // would race the response still in flight to it (an HTTP/2 RST right behind the last DATA).
        src.resume();
      } else if (err && result.error === undefined) {
        result.error = err;
        // pipeline already destroyed this direction's pair; the other direction must not hang.
        a.destroy();
        b.destroy();
      }
      pending -= 1;
      if (pending === 0) onDone?.(result);
    };
  a.on("data", (chunk: Buffer) => {
    result.aToB += chunk.length;
  });
  b.on("data", (chunk: Buffer) => {
    result.bToA += chunk.length;
  });
  pipeline(a, b, finish(a, b));
  pipeline(b, a, finish(b, a));
  return result;
}

function closedAfterItsEnd(err: Error, dst: Duplex): boolean {
  return (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE" && dst.readableEnded;
}
