/**
 * Leak checks for the hostile-input corpus: open file descriptors (every socket, client or
 * server side, is one in this single process) and the heap after a forced collection. A category
 * takes a baseline first and checks after its last case that both came back.
 */
import { readdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Sockets and timers node still tracks (for the failure message: what was left behind). */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

let gcFn: (() => void) | undefined;

/**
 * A full collection without `--expose-gc` on the command line (the shared runner does not pass
 * it): the flag set at run time makes `gc` available to contexts created afterwards.
 */
export function forceGc(): void {
  if (gcFn === undefined) {
    const global = globalThis as { gc?: () => void };
    if (typeof global.gc === "function") gcFn = global.gc;
    else {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

export interface Baseline {
  readonly fds: number;
  readonly heapUsed: number;
}

export function baseline(): Baseline {
  forceGc();
  return { fds: openFds(), heapUsed: process.memoryUsage().heapUsed };
}

/** Heap growth a category may leave behind after gc: caches, JIT code, the access log in memory. */
export const HEAP_SLACK_BYTES = 48 * 1024 * 1024;

/**
 * Waits (a hang guard, not a timing assertion) until the descriptors are back to the baseline,
 * then checks the heap. Throws naming what is left.
 */
export async function assertNoLeak(base: Baseline, what: string, allowedFds = 0, ms = 20_000): Promise<void> {
  const started = Date.now();
  while (openFds() > base.fds + allowedFds) {
    if (Date.now() - started > ms) {
      throw new Error(
        `${what}: ${openFds() - base.fds} file descriptors leaked (baseline ${base.fds}, allowed ${allowedFds}); active: ${JSON.stringify(activeResources())}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  forceGc();
  const grown = process.memoryUsage().heapUsed - base.heapUsed;
  if (grown > HEAP_SLACK_BYTES) {
    throw new Error(
      `${what}: heap grew by ${(grown / 1048576).toFixed(1)} MiB after gc (bound ${HEAP_SLACK_BYTES / 1048576} MiB)`,
    );
  }
}
