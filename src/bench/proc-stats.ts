/**
 * CPU time and resident memory of processes, read from /proc: what a proxy costs, measured from
 * the kernel's accounting rather than from inside the proxy.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux; /proc/<pid>/stat counts in these.

/** user+system CPU seconds of `pid` so far, or 0 once the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * Resident memory of a process in MiB: `rss` is all of it (VmRSS); `anon` is its anonymous part
 * (RssAnon: heap, stacks, malloc arenas), the memory the process alone costs. The rest of RSS is
 * file-backed — for a Node process, mostly the pages of the `node` binary it touched (~34 MiB for
 * an empty script here), which the kernel shares between every process running it.
 */
export interface Memory {
  readonly rss: number;
  readonly anon: number;
}

const NO_MEMORY: Memory = { rss: 0, anon: 0 };

/** `pid`'s resident memory, or zeros once the process is gone. */
export function memoryMiB(pid: number): Memory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string): number =>
      Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { rss: kib("VmRSS") / 1024, anon: kib("RssAnon") / 1024 };
  } catch {
    return NO_MEMORY;
  }
}

/** Resident set size of `pid` in MiB, or 0 once the process is gone. */
export function rssMiB(pid: number): number {
  return memoryMiB(pid).rss;
}

/** Samples the memory of a set of processes until stopped; keeps each one's peaks. */
export class RssSampler {
  readonly #pids: readonly number[];
  readonly #peak: Map<number, Memory>;
  readonly #timer: NodeJS.Timeout;

  constructor(pids: readonly number[], everyMs = 200) {
    this.#pids = pids;
    this.#peak = new Map(pids.map((p) => [p, memoryMiB(p)]));
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
  }

  #sample(): void {
    for (const p of this.#pids) {
      const now = memoryMiB(p);
      const peak = this.#peak.get(p) ?? NO_MEMORY;
      this.#peak.set(p, { rss: Math.max(peak.rss, now.rss), anon: Math.max(peak.anon, now.anon) });
    }
  }

  /** Stops sampling; returns each process's peak RSS and peak anonymous memory (MiB). */
  stop(): Map<number, Memory> {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}

/** CPU seconds the processes used between construction and `stop()`. */
export class CpuMeter {
  readonly #start: Map<number, number>;

  constructor(pids: readonly number[]) {
    this.#start = new Map(pids.map((p) => [p, cpuSeconds(p)]));
  }

  stop(): number {
    let total = 0;
    for (const [pid, start] of this.#start) total += Math.max(0, cpuSeconds(pid) - start);
    return total;
  }
}

/**
 * Cores the whole machine kept busy between construction and `stop()`, from the first line of
 * /proc/stat (all time that is neither idle nor iowait). With each proxy's own cores, it tells
 * whether a path is limited by a proxy's thread or by the machine.
 */
export class MachineCpuMeter {
  readonly #start: { busy: number; total: number };

  constructor() {
    this.#start = machineJiffies();
  }

  /**
   * Busy cores averaged over the time since construction, or over `seconds` when given (the part
   * of that time the measured work ran; the busy time counted is the same).
   */
  stop(seconds?: number): number {
    const end = machineJiffies();
    const busy = end.busy - this.#start.busy;
    if (seconds !== undefined) return seconds > 0 ? busy / CLOCK_TICKS_PER_SECOND / seconds : 0;
    const total = end.total - this.#start.total;
    return total > 0 ? (busy / total) * cpus().length : 0;
  }
}

function machineJiffies(): { busy: number; total: number } {
  const first = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const f = first.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/**
 * Waits until each process has given back what bursts left above `startMiB` (its RSS when
 * measurement began): done for a process once its RSS is within `thresholdMiB` of its start (the
 * ztunnel's reclaimer acts only above 16 MiB of growth, so nothing more will come back), or once it
 * fell by `dropMiB` during the wait (a reclaim ran). Gives up after `maxMs`. Resolves with how long
 * it waited and whether every process settled.
 */
export async function waitForReclaim(
  startMiB: ReadonlyMap<number, number>,
  o: {
    thresholdMiB: number;
    dropMiB: number;
    maxMs: number;
    pollMs?: number;
    rss?: (pid: number) => number;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<{ waitedMs: number; settled: boolean }> {
  const rss = o.rss ?? rssMiB;
  const pollMs = o.pollMs ?? 1000;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const highest = new Map([...startMiB.keys()].map((p) => [p, rss(p)]));
  const pending = new Set(startMiB.keys());
  let waitedMs = 0;
  for (;;) {
    for (const pid of pending) {
      const now = rss(pid);
      const high = Math.max(highest.get(pid) ?? now, now);
      highest.set(pid, high);
      const near = now - (startMiB.get(pid) ?? now) < o.thresholdMiB;
      if (near || high - now >= o.dropMiB || now === 0) pending.delete(pid);
    }
    if (pending.size === 0) return { waitedMs, settled: true };
    if (waitedMs >= o.maxMs) return { waitedMs, settled: false };
    await sleep(pollMs);
    waitedMs += pollMs;
  }
}
