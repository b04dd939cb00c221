/**
 * The one module that reads `process.env` (STYLE.md: configuration flows from options, and the
 * environment is read in exactly one place). Everything else receives these values as arguments.
 */
import { TelemetryError, TelemetryErrorCode } from "./errors.js";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AmbitEnv {
  /** `AMBIT_TRACE=pool,xds` — components whose debug trace is printed to stderr; `*` for all. */
  readonly trace: readonly string[];
  /** `AMBIT_LOG_LEVEL` — default level of the process logger. */
  readonly logLevel: LogLevel;
  /** `AMBIT_HOME` — data directory of the embedded store (control plane, CLI). */
  readonly home: string | undefined;
}

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** Parses an environment (the real one by default); invalid values fail loudly instead of being ignored. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): AmbitEnv {
  const trace = (env["AMBIT_TRACE"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const name of trace) {
    if (!/^[a-z0-9*][a-z0-9_-]*$/.test(name)) {
      throw new TelemetryError(
        TelemetryErrorCode.BadEnv,
        `AMBIT_TRACE contains "${name}": use comma-separated component names such as "pool,xds" or "*"`,
      );
    }
  }
  const level = env["AMBIT_LOG_LEVEL"] ?? "info";
  if (!isLogLevel(level)) {
    throw new TelemetryError(
      TelemetryErrorCode.BadLogLevel,
      `AMBIT_LOG_LEVEL="${level}" is not a log level; use one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return Object.freeze({ trace: Object.freeze(trace), logLevel: level, home: env["AMBIT_HOME"] });
}
