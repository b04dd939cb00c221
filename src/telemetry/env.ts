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

export interface OtelEnv {
  /** `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/logs`. */
  readonly logsEndpoint: string | undefined;
  /** `OTEL_EXPORTER_OTLP_LOGS_HEADERS` over `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, URL-encoded). */
  readonly headers: Readonly<Record<string, string>>;
  readonly serviceName: string | undefined;
  /** `OTEL_RESOURCE_ATTRIBUTES` (`k=v,…`). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  /** `OTEL_BLRP_*` and `OTEL_EXPORTER_OTLP_(LOGS_)TIMEOUT`; undefined = the SDK default. */
  readonly scheduledDelayMs: number | undefined;
  readonly maxQueueSize: number | undefined;
  readonly maxBatchSize: number | undefined;
  readonly timeoutMs: number | undefined;
}

/** The signal path the OTLP/HTTP spec appends to a base `OTEL_EXPORTER_OTLP_ENDPOINT`. */
export const OTLP_LOGS_PATH = "v1/logs";

/** A base endpoint (no path, or `/`) gets `/v1/logs`; a URL with a path is the logs URL itself. */
export function otlpLogsUrl(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    if (u.pathname === "/" || u.pathname === "") return new URL(OTLP_LOGS_PATH, u).toString();
  } catch {
    // Validated (with a clear error) where the exporter is configured.
  }
  return endpoint;
}

function keyValueList(name: string, raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? "").split(",")) {
    if (part.trim() === "") continue;
    const i = part.indexOf("=");
    if (i <= 0) {
      throw new TelemetryError(
        TelemetryErrorCode.BadEnv,
        `${name} has "${part.trim().slice(0, 40)}" without key=value; use key1=value1,key2=value2`,
      );
    }
    out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new TelemetryError(TelemetryErrorCode.BadEnv, `${name}="${raw}" must be a positive integer`);
  }
  return n;
}

/**
 * The OpenTelemetry SDK variables of the OTLP logs exporter (docs/metrics.md). Read only by the
 * daemons that export (ztunnel, waypoint), so an `OTEL_*` environment meant for other programs
 * never stops `ambit get` and friends.
 */
export function readOtelEnv(env: NodeJS.ProcessEnv = process.env): OtelEnv {
  const protocol = env["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] ?? env["OTEL_EXPORTER_OTLP_PROTOCOL"];
  const configured = [env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"], env["OTEL_EXPORTER_OTLP_ENDPOINT"]].some(
    (v) => v !== undefined && v !== "",
  );
  // Only a configured exporter needs a protocol ambit speaks.
  if (configured && protocol !== undefined && protocol !== "http/json") {
    throw new TelemetryError(
      TelemetryErrorCode.BadEnv,
      `OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL="${protocol}": ambit exports logs as OTLP/HTTP JSON only; set it to http/json or unset it`,
    );
  }
  const specific = env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"];
  const base = env["OTEL_EXPORTER_OTLP_ENDPOINT"];
  let logsEndpoint: string | undefined;
  if (specific !== undefined && specific !== "") logsEndpoint = specific;
  else if (base !== undefined && base !== "") {
    try {
      // The spec appends the signal path to the base, keeping any path the base already has.
      logsEndpoint = new URL(OTLP_LOGS_PATH, base.endsWith("/") ? base : `${base}/`).toString();
    } catch {
      throw new TelemetryError(
        TelemetryErrorCode.BadEnv,
        `OTEL_EXPORTER_OTLP_ENDPOINT="${base}" is not a URL; use e.g. http://127.0.0.1:4318`,
      );
    }
  }
  return Object.freeze({
    logsEndpoint,
    headers: Object.freeze({
      ...keyValueList("OTEL_EXPORTER_OTLP_HEADERS", env["OTEL_EXPORTER_OTLP_HEADERS"]),
      ...keyValueList("OTEL_EXPORTER_OTLP_LOGS_HEADERS", env["OTEL_EXPORTER_OTLP_LOGS_HEADERS"]),
    }),
    serviceName: env["OTEL_SERVICE_NAME"],
    resourceAttributes: Object.freeze(
      keyValueList("OTEL_RESOURCE_ATTRIBUTES", env["OTEL_RESOURCE_ATTRIBUTES"]),
    ),
    scheduledDelayMs: positiveInt(env, "OTEL_BLRP_SCHEDULE_DELAY"),
    maxQueueSize: positiveInt(env, "OTEL_BLRP_MAX_QUEUE_SIZE"),
    maxBatchSize: positiveInt(env, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"),
    timeoutMs:
      positiveInt(env, "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT") ?? positiveInt(env, "OTEL_EXPORTER_OTLP_TIMEOUT"),
  });
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
  return Object.freeze({
    trace: Object.freeze(trace),
    logLevel: level,
    home: env["AMBIT_HOME"],
  });
}
