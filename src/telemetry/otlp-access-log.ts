/**
 * The bridge from access records to OTLP logs: a pino destination that picks the access records
 * (`"access":true`) out of a daemon's JSON log lines and hands them to the OTLP exporter. Going
 * through the logger keeps the data path unchanged: the record is built once, by `AccessLog`, and
 * the exporter sees exactly what the log file sees.
 */
import type { DestinationStream } from "pino";
import { Counter, type Registry } from "prom-client";
import type { OtelEnv } from "./env.js";
import { otlpLogsUrl } from "./env.js";
import { type AttributeValue, type LogRecordInput, OtlpLogExporter } from "./otlp-logs.js";

/** pino's numeric levels → OpenTelemetry severity names. */
const PINO_LEVELS: Readonly<Record<number, string>> = Object.freeze({
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
});

/** Log-line bookkeeping that is not part of the access record itself. */
const NOT_ATTRIBUTES = new Set(["level", "time", "msg", "access", "pid", "hostname", "traceparent"]);

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** One parsed access line → one OTLP log record: body "access", the fields as attributes. */
export function accessLogRecord(line: Readonly<Record<string, unknown>>): LogRecordInput {
  const attributes: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(line)) {
    if (NOT_ATTRIBUTES.has(k)) continue;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") attributes[k] = v;
  }
  const time = typeof line["time"] === "string" ? Date.parse(line["time"]) : Number(line["time"]);
  const level = typeof line["level"] === "number" ? (PINO_LEVELS[line["level"]] ?? "info") : "info";
  const trace = typeof line["traceparent"] === "string" ? TRACEPARENT.exec(line["traceparent"]) : null;
  return {
    timeMs: Number.isFinite(time) ? time : Date.now(),
    severity: level,
    body: typeof line["msg"] === "string" ? line["msg"] : "access",
    attributes,
    ...(trace?.[1] !== undefined && trace[2] !== undefined ? { traceId: trace[1], spanId: trace[2] } : {}),
  };
}

export class OtlpAccessLogDestination implements DestinationStream {
  readonly #exporter: OtlpLogExporter;

  constructor(exporter: OtlpLogExporter) {
    this.#exporter = exporter;
  }

  write(chunk: string): void {
    for (const line of chunk.split("\n")) {
      // Cheap filter first: most lines of a busy proxy are access records, the rest are not parsed.
      if (!line.includes('"access":true')) continue;
      try {
        this.#exporter.emit(accessLogRecord(JSON.parse(line) as Record<string, unknown>));
      } catch {
        // A line pino wrote is JSON; anything else is not an access record.
      }
    }
  }
}

export interface OtlpAccessLogsOptions {
  readonly otel: OtelEnv;
  /** `--otlp-endpoint`: a base URL (`/v1/logs` appended) or the full logs URL; beats the env. */
  readonly endpoint: string | undefined;
  /** Default `service.name` (`OTEL_SERVICE_NAME` overrides it). */
  readonly serviceName: string;
  /** Resource attributes the daemon knows (node, pod, namespace); `OTEL_RESOURCE_ATTRIBUTES` adds. */
  readonly resource: Readonly<Record<string, string>>;
  /** Registry for `ambit_otlp_log_records_{exported,dropped}_total`. */
  readonly registry: Registry;
  readonly version?: string;
}

/** The exporter and its log destination, or undefined when no endpoint is configured. */
export function otlpAccessLogs(
  o: OtlpAccessLogsOptions,
): { exporter: OtlpLogExporter; destination: OtlpAccessLogDestination } | undefined {
  const endpoint = o.endpoint !== undefined ? otlpLogsUrl(o.endpoint) : o.otel.logsEndpoint;
  if (endpoint === undefined) return undefined;
  const registers = [o.registry];
  const exported = new Counter({
    name: "ambit_otlp_log_records_exported_total",
    help: "Access records accepted by the OTLP logs collector.",
    registers,
  });
  const dropped = new Counter({
    name: "ambit_otlp_log_records_dropped_total",
    help: "Access records not exported, by reason (queue_full: the collector is slower than traffic; export_failed: retries exhausted).",
    labelNames: ["reason"],
    registers,
  });
  const exporter = new OtlpLogExporter({
    endpoint,
    resource: {
      ...o.resource,
      ...o.otel.resourceAttributes,
      "service.name": o.otel.serviceName ?? o.otel.resourceAttributes["service.name"] ?? o.serviceName,
    },
    headers: o.otel.headers,
    scope: { name: "ambit.access", ...(o.version !== undefined ? { version: o.version } : {}) },
    ...(o.otel.maxQueueSize !== undefined ? { maxQueueSize: o.otel.maxQueueSize } : {}),
    ...(o.otel.maxBatchSize !== undefined ? { maxBatchSize: o.otel.maxBatchSize } : {}),
    ...(o.otel.scheduledDelayMs !== undefined ? { scheduledDelayMs: o.otel.scheduledDelayMs } : {}),
    ...(o.otel.timeoutMs !== undefined ? { timeoutMs: o.otel.timeoutMs } : {}),
    onExported: (n) => exported.inc(n),
    onDropped: (n, reason) => dropped.inc({ reason }, n),
  });
  return { exporter, destination: new OtlpAccessLogDestination(exporter) };
}
