/** `ambit bench` error catalogue (docs/bench.md lists every code). */
import { AmbitError } from "../errors.js";

export const BenchErrorCode = {
  /** An option value is out of range or malformed. */
  BadOption: "BENCH_ERR_OPTION",
  /** The benchmark needs root (network namespaces) or a tool that is not installed. */
  Prerequisite: "BENCH_ERR_PREREQUISITE",
  /** SIGINT or SIGTERM arrived: the run stopped and its cluster and proxies were removed. */
  Interrupted: "BENCH_ERR_INTERRUPTED",
} as const;

export type BenchErrorCode = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];

export class BenchError extends AmbitError {
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "BenchError";
  }
}

/** The error a bench run ends with when its signal aborts. */
export function interrupted(): BenchError {
  return new BenchError(
    BenchErrorCode.Interrupted,
    "interrupted: nothing was measured to the end, the bench cluster and its proxies were removed",
  );
}

/**
 * Races each step of a run against `signal`: once it aborts, the step awaited rejects with
 * `interrupted()` at once, so the caller's clean-up runs while the abandoned step winds down.
 */
export function interruptible(signal: AbortSignal | undefined): {
  step<T>(work: Promise<T>): Promise<T>;
  dispose(): void;
} {
  if (signal === undefined) return { step: (work) => work, dispose: () => {} };
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(interrupted());
  });
  // Nobody may be waiting at the moment it rejects.
  aborted.catch(() => {});
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    step<T>(work: Promise<T>): Promise<T> {
      // An abandoned step that fails later (its cluster is gone) is no one's error.
      work.catch(() => {});
      if (signal.aborted) return Promise.reject(interrupted());
      return Promise.race([work, aborted]);
    },
    dispose: () => signal.removeEventListener("abort", onAbort),
  };
}
