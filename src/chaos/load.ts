/**
 * Steady load from inside a pod's network namespace: `rps` new TCP connections a second, each one
 * a request (send `payloadBytes`, half-close) and a full echo back. A request fails when the
 * connection is refused or reset, times out, or the echo differs. New connections are what a
 * hand-over or a fault must not break, so each request is its own connection.
 */
import type { Socket } from "node:net";
import { connectFrom } from "../platform/netns-sockets.js";

export interface LoadTarget {
  /** Network namespace the connections leave from (the source pod's). */
  readonly netns: string;
  readonly host: string;
  readonly port: number;
}

export interface LoadOptions extends LoadTarget {
  readonly rps: number;
  readonly payloadBytes?: number;
  readonly timeoutMs?: number;
  /** At most this many requests in flight; a tick over the cap counts as a failed request. */
  readonly maxInFlight?: number;
  /** Replaces `connectFrom` (tests without netns). */
  readonly connect?: (target: LoadTarget) => Socket;
}

export interface LoadSample {
  /** Start, ms since the load started. */
  readonly at: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  readonly error?: string;
}

export interface LoadSummary {
  readonly requests: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly samples: readonly LoadSample[];
}

/** The q-quantile (0..1) of `values`, nearest rank; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export function summarize(samples: readonly LoadSample[]): LoadSummary {
  const errors: Record<string, number> = {};
  for (const s of samples) if (!s.ok) errors[s.error ?? "unknown"] = (errors[s.error ?? "unknown"] ?? 0) + 1;
  const latencies = samples.filter((s) => s.ok).map((s) => s.latencyMs);
  return {
    requests: samples.length,
    failed: samples.filter((s) => !s.ok).length,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    errors,
    samples,
  };
}

/** One request on a new connection; resolves (never rejects) with its outcome. */
export function oneRequest(
  target: LoadTarget,
  payload: Buffer,
  timeoutMs: number,
  connect: (t: LoadTarget) => Socket,
): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    let socket: Socket;
    try {
      socket = connect(target);
    } catch (e) {
      resolve({ ok: false, error: (e as Error).message });
      return;
    }
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = "timeout";
      socket.destroy();
    }, timeoutMs);
    socket.on("connect", () => socket.end(payload));
    socket.on("data", (b: Buffer) => chunks.push(b));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (error !== undefined) return resolve({ ok: false, error });
      const got = Buffer.concat(chunks);
      resolve(
        got.equals(payload)
          ? { ok: true }
          : { ok: false, error: `short echo (${got.length}/${payload.length} B)` },
      );
    });
  });
}

/** A connection leaving from the target's netns (the source pod): captured like the pod's own. */
export function connectInNetns(t: LoadTarget): Socket {
  return connectFrom({ netns: t.netns, host: t.host, port: t.port, allowHalfOpen: true });
}

export class LoadGenerator {
  readonly options: LoadOptions;
  readonly #samples: LoadSample[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #payload: Buffer;
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  #launched = 0;

  constructor(options: LoadOptions) {
    if (!(options.rps > 0 && options.rps <= 2000))
      throw new RangeError(`load rps ${options.rps} must be 1-2000`);
    this.options = options;
    // Deterministic content: a byte pattern, so a mixed-up echo is caught.
    this.#payload = Buffer.from(
      Array.from({ length: options.payloadBytes ?? 64 }, (_, i) => (i * 31 + 7) & 0xff),
    );
  }

  /** Milliseconds since start(). */
  elapsed(): number {
    return Date.now() - this.#started;
  }

  get samples(): readonly LoadSample[] {
    return this.#samples;
  }

  start(): void {
    this.#started = Date.now();
    const connect = this.options.connect ?? connectInNetns;
    const timeoutMs = this.options.timeoutMs ?? 5000;
    // Enough for every request of one timeout period: a slow mesh shows as timeouts, not saturation.
    const cap = this.options.maxInFlight ?? Math.ceil((this.options.rps * timeoutMs) / 1000) + 50;
    this.#timer = setInterval(() => {
      const due = Math.floor((this.elapsed() * this.options.rps) / 1000);
      while (this.#launched < due) {
        this.#launched += 1;
        const at = this.elapsed();
        if (this.#inFlight.size >= cap) {
          this.#samples.push({ at, latencyMs: 0, ok: false, error: "load generator saturated" });
          continue;
        }
        const t0 = performance.now();
        const p = oneRequest(this.options, this.#payload, timeoutMs, connect).then((r) => {
          this.#samples.push({
            at,
            latencyMs: performance.now() - t0,
            ok: r.ok,
            ...(r.error !== undefined ? { error: r.error } : {}),
          });
          this.#inFlight.delete(p);
        });
        this.#inFlight.add(p);
      }
    }, 10);
  }

  /** Stops launching, waits for requests in flight, and summarizes. */
  async stop(): Promise<LoadSummary> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#inFlight]);
    return summarize([...this.#samples].sort((a, b) => a.at - b.at));
  }
}
