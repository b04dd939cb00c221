/**
 * Hands the memory of a finished burst back to the system once the process stops growing.
 *
 * A bulk transfer leaves two kinds of residue that nothing releases while a proxy is quiet:
 * - dead Buffers: their bytes live outside V8's heap, and those that outlived the young generation
 *   (queued behind a slow writer) go only in a full collection, which a process that allocates
 *   nothing never starts (one iperf3 stream left the sending ztunnel 21–35 MiB of them, unchanged
 *   70 s later);
 * - free malloc pages: once freed, Buffers' and OpenSSL's and nghttp2's memory stays in glibc's
 *   arenas, still resident (`malloc_trim(0)` returned 21 and 14 MiB of the two ztunnels' 78 / 44
 *   MiB of anonymous memory after that stream).
 *
 * Every `intervalMs` this reads the resident set; when it is `thresholdBytes` above what the start
 * or the last reclaim left and has grown by less than 1 MiB since the previous look (no burst under
 * way), it runs one full collection and, `trimDelayMs` later (V8 frees the Buffers' bytes after the
 * collection, on its sweeper), `malloc_trim`. Live memory — held connections, a bigger registry — stays in the
 * baseline: the next reclaim waits for `thresholdBytes` of growth above it. Cost: one collection of
 * a ~15 MiB heap and one trim (a few ms) per 16 MiB of growth that stopped, and nothing in between.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { mallocTrim, nativeAvailable } from "./native.js";

export interface ReclaimOptions {
  readonly intervalMs?: number;
  readonly thresholdBytes?: number;
  readonly trimDelayMs?: number;
  /** Resident set in bytes (default: `process.memoryUsage.rss()`). */
  readonly rss?: () => number;
  /** A full collection (default: V8's, exposed for this process). */
  readonly collect?: () => void;
  /** Hands free malloc pages back (default: the addon's `malloc_trim(0)`, skipped without it). */
  readonly trim?: () => void;
  /** After each reclaim: the resident set before it and after the trim. */
  readonly onReclaim?: (beforeBytes: number, afterBytes: number) => void;
}

export const DEFAULT_RECLAIM_INTERVAL_MS = 10_000;
export const DEFAULT_RECLAIM_THRESHOLD_BYTES = 16 * 1024 * 1024;
const QUIET_GROWTH_BYTES = 1024 * 1024;

let v8Collect: (() => void) | undefined;

/** V8's full collection, without starting the process with --expose-gc. */
export function fullCollection(): () => void {
  if (v8Collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) v8Collect = exposed;
    else {
      setFlagsFromString("--expose-gc");
      v8Collect = runInNewContext("gc") as () => void;
    }
  }
  return v8Collect;
}

/** The addon's `malloc_trim(0)`, or nothing where the addon is not built. */
function addonTrim(): void {
  if (nativeAvailable()) mallocTrim();
}

export class MemoryReclaimer {
  readonly #threshold: number;
  readonly #trimDelayMs: number;
  readonly #rss: () => number;
  readonly #collect: () => void;
  readonly #trim: () => void;
  readonly #onReclaim: ((before: number, after: number) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  #trimTimer: NodeJS.Timeout | undefined;
  #last: number;
  /** The resident set at start or after the last reclaim, or the lowest seen since: live memory. */
  #floor: number;
  #reclaims = 0;

  constructor(o: ReclaimOptions = {}) {
    this.#threshold = o.thresholdBytes ?? DEFAULT_RECLAIM_THRESHOLD_BYTES;
    this.#trimDelayMs = o.trimDelayMs ?? 1000;
    this.#rss = o.rss ?? (() => process.memoryUsage.rss());
    this.#floor = this.#rss();
    this.#last = this.#floor;
    this.#collect = o.collect ?? fullCollection();
    this.#trim = o.trim ?? addonTrim;
    this.#onReclaim = o.onReclaim;
    this.#timer = setInterval(() => this.check(), o.intervalMs ?? DEFAULT_RECLAIM_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Reclaims started so far. */
  get reclaims(): number {
    return this.#reclaims;
  }

  /** One look (the timer calls it); returns whether it started a reclaim. */
  check(): boolean {
    if (this.#trimTimer !== undefined) return false; // one under way
    const now = this.#rss();
    // Quiet: grew by less than QUIET_GROWTH_BYTES since the last look (logs and scrapes still touch
    // a few pages when no traffic flows).
    const quiet = now - this.#last < QUIET_GROWTH_BYTES;
    this.#last = now;
    this.#floor = Math.min(this.#floor, now);
    if (!quiet || now - this.#floor < this.#threshold) return false;
    this.#reclaims += 1;
    this.#collect();
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      try {
        this.#trim();
      } catch {
        // Best effort: an addon built before mallocTrim existed must not take the proxy down.
      }
      const after = this.#rss();
      this.#floor = after;
      this.#last = after;
      this.#onReclaim?.(now, after);
    }, this.#trimDelayMs);
    this.#trimTimer.unref();
    return true;
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#trimTimer);
  }
}

/** A data-plane process's reclaimer with the defaults, each reclaim logged at debug level. */
export function reclaimAfterBursts(logger: {
  debug(fields: Record<string, unknown>, message: string): void;
}): MemoryReclaimer {
  return new MemoryReclaimer({
    onReclaim: (before, after) =>
      logger.debug({ rssBefore: before, rssAfter: after }, "memory of a finished burst reclaimed"),
  });
}
