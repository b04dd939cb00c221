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
