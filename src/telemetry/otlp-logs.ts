/**
 * Access records as OpenTelemetry logs: an OTLP/HTTP JSON exporter (`POST <endpoint>` with an
 * `ExportLogsServiceRequest`, as in opentelemetry-proto `collector/logs/v1`) behind a batch
 * processor with the semantics of OpenTelemetry's BatchLogRecordProcessor: a bounded queue, export
 * when a batch is full or the schedule delay passes, one export in flight, records dropped (and
 * counted) when the queue is full. The data path only ever appends to the queue: a slow or dead
 * collector costs dropped records, never a blocked connection.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { TelemetryError, TelemetryErrorCode } from "./errors.js";

/** OTLP/HTTP answers worth retrying (OTLP specification, "Retryable Response Codes"). */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** OpenTelemetry SeverityNumber of each pino level name (logs data model, "Severity Fields"). */
const SEVERITY: Readonly<Record<string, { number: number; text: string }>> = Object.freeze({
  trace: { number: 1, text: "TRACE" },
  debug: { number: 5, text: "DEBUG" },
  info: { number: 9, text: "INFO" },
  warn: { number: 13, text: "WARN" },
  error: { number: 17, text: "ERROR" },
  fatal: { number: 21, text: "FATAL" },
});

export type AttributeValue = string | number | boolean;

/** One log record before encoding. */
export interface LogRecordInput {
  /** Milliseconds since the epoch. */
  readonly timeMs: number;
  readonly severity: keyof typeof SEVERITY | string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** W3C trace context of the request, when one came with it (32 and 16 hex digits). */
  readonly traceId?: string;
  readonly spanId?: string;
}

export interface OtlpLogsOptions {
  /** Full URL of the logs endpoint, e.g. `http://collector:4318/v1/logs`. */
  readonly endpoint: string;
  /** Resource attributes; `service.name` at least. */
  readonly resource: Readonly<Record<string, AttributeValue>>;
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** OTEL_BLRP_MAX_QUEUE_SIZE; default 2048. */
  readonly maxQueueSize?: number;
  /** OTEL_BLRP_MAX_EXPORT_BATCH_SIZE; default 512. */
  readonly maxBatchSize?: number;
  /** OTEL_BLRP_SCHEDULE_DELAY; default 1000 ms. */
  readonly scheduledDelayMs?: number;
  /** OTEL_EXPORTER_OTLP_TIMEOUT; default 10 000 ms per request. */
  readonly timeoutMs?: number;
  /** Attempts per batch on retryable answers and network errors; default 5. */
  readonly maxAttempts?: number;
  /** First retry delay, doubled per attempt (with jitter) unless the collector sends Retry-After. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Instrumentation scope of the records. */
  readonly scope?: { readonly name: string; readonly version?: string };
  /** Told about each dropped or exported record count (metrics). */
  readonly onDropped?: (count: number, reason: "queue_full" | "export_failed") => void;
  readonly onExported?: (count: number) => void;
  /** Injected for tests: jitter source in [0, 1). */
  readonly random?: () => number;
}

export interface OtlpLogsConfig {
  readonly endpoint: URL;
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxQueueSize: number;
  readonly maxBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly scope: { readonly name: string; readonly version?: string };
}

export function otlpLogsConfig(o: OtlpLogsOptions): OtlpLogsConfig {
  let endpoint: URL;
  try {
    endpoint = new URL(o.endpoint);
  } catch {
    throw new TelemetryError(
      TelemetryErrorCode.BadOtlpConfig,
      `OTLP logs endpoint "${o.endpoint}" is not a URL; use e.g. http://127.0.0.1:4318/v1/logs`,
    );
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    throw new TelemetryError(
      TelemetryErrorCode.BadOtlpConfig,
      `OTLP logs endpoint "${o.endpoint}" must be http:// or https:// (OTLP/HTTP)`,
    );
  }
  const positive = (name: string, v: number | undefined, dflt: number): number => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n <= 0)
      throw new TelemetryError(
        TelemetryErrorCode.BadOtlpConfig,
        `OTLP ${name}=${String(n)} must be a positive integer`,
      );
    return n;
  };
  const maxQueueSize = positive("max queue size", o.maxQueueSize, 2048);
  // As in the OTel SDKs: a batch larger than the queue could never fill.
  const maxBatchSize = Math.min(positive("max export batch size", o.maxBatchSize, 512), maxQueueSize);
  return Object.freeze({
    endpoint,
    resource: Object.freeze({ ...o.resource }),
    headers: Object.freeze({ ...o.headers }),
    maxQueueSize,
    maxBatchSize,
    scheduledDelayMs: positive("schedule delay", o.scheduledDelayMs, 1000),
    timeoutMs: positive("timeout", o.timeoutMs, 10_000),
    maxAttempts: positive("max attempts", o.maxAttempts, 5),
    initialBackoffMs: positive("initial backoff", o.initialBackoffMs, 500),
    maxBackoffMs: positive("max backoff", o.maxBackoffMs, 30_000),
    scope: o.scope ?? { name: "ambit" },
  });
}

type ExporterState =
  | { readonly state: "idle" }
  | { readonly state: "exporting"; readonly since: number }
  | { readonly state: "shutdown" };

export class OtlpLogExporter {
  readonly config: OtlpLogsConfig;
  readonly #queue: LogRecordInput[] = [];
  readonly #onDropped: NonNullable<OtlpLogsOptions["onDropped"]>;
  readonly #onExported: NonNullable<OtlpLogsOptions["onExported"]>;
  readonly #random: () => number;
  #state: ExporterState = { state: "idle" };
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #dropped = 0;
  #exported = 0;

  constructor(options: OtlpLogsOptions) {
    this.config = otlpLogsConfig(options);
    this.#onDropped = options.onDropped ?? (() => {});
    this.#onExported = options.onExported ?? (() => {});
    this.#random = options.random ?? Math.random;
  }

  /** Records dropped so far: queue full, or a batch that failed every attempt. */
  get dropped(): number {
    return this.#dropped;
  }

  get exported(): number {
    return this.#exported;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Never blocks and never throws: a full queue drops the record. */
  emit(record: LogRecordInput): void {
    if (this.#state.state === "shutdown") return;
    if (this.#queue.length >= this.config.maxQueueSize) {
      this.#drop(1, "queue_full");
      return;
    }
    this.#queue.push(record);
    if (this.#queue.length >= this.config.maxBatchSize) this.#kick();
    else this.#schedule();
  }

  /** Exports everything queued (bounded by the request timeout and the retries). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inflight !== undefined) {
      if (this.#inflight === undefined) this.#kick();
      await this.#inflight;
    }
  }

  /** Flushes, then refuses new records and clears the timer, so the process can exit. */
  async shutdown(): Promise<void> {
    await this.flush();
    this.#state = { state: "shutdown" };
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#inflight !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.config.scheduledDelayMs);
    // A pending export must not keep a daemon alive that was asked to stop.
    this.#timer.unref();
  }

  #kick(): void {
    if (this.#inflight !== undefined || this.#queue.length === 0) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.config.maxBatchSize);
    this.#state = { state: "exporting", since: Date.now() };
    this.#inflight = this.#exportWithRetry(batch).finally(() => {
      this.#inflight = undefined;
      if (this.#state.state === "exporting") this.#state = { state: "idle" };
      if (this.#queue.length >= this.config.maxBatchSize) this.#kick();
      else if (this.#queue.length > 0) this.#schedule();
    });
  }

  async #exportWithRetry(batch: LogRecordInput[]): Promise<void> {
    const body = JSON.stringify(encodeLogsRequest(batch, this.config.resource, this.config.scope));
    let backoff = this.config.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#post(body);
      if (outcome.kind === "ok") {
        this.#exported += batch.length;
        this.#onExported(batch.length);
        return;
      }
      if (outcome.kind === "fatal" || attempt >= this.config.maxAttempts) {
        this.#drop(batch.length, "export_failed");
        return;
      }
      const jittered = backoff * (0.5 + this.#random() / 2);
      const wait = Math.min(outcome.retryAfterMs ?? jittered, this.config.maxBackoffMs);
      await new Promise((r) => setTimeout(r, wait).unref());
      backoff = Math.min(backoff * 2, this.config.maxBackoffMs);
    }
  }

  #drop(count: number, reason: "queue_full" | "export_failed"): void {
    this.#dropped += count;
    this.#onDropped(count, reason);
  }

  #post(
    body: string,
  ): Promise<{ kind: "ok" } | { kind: "retry"; retryAfterMs: number | undefined } | { kind: "fatal" }> {
    const url = this.config.endpoint;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = send(
        url,
        {
          method: "POST",
          timeout: this.config.timeoutMs,
          headers: {
            ...this.config.headers,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res: IncomingMessage) => {
          res.resume();
          res.on("error", () => {});
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ kind: "ok" });
          else if (RETRYABLE_STATUS.has(status)) resolve({ kind: "retry", retryAfterMs: retryAfter(res) });
          else resolve({ kind: "fatal" });
        },
      );
      req.on("timeout", () => req.destroy(new Error("OTLP export timed out")));
      // Connection refused or reset: the collector may come back, as with a 503.
      req.on("error", () => resolve({ kind: "retry", retryAfterMs: undefined }));
      req.end(body);
    });
  }
}

/** `Retry-After` in seconds (the HTTP-date form is rare from collectors and treated as absent). */
function retryAfter(res: IncomingMessage): number | undefined {
  const v = res.headers["retry-after"];
  const s = typeof v === "string" ? Number(v) : Number.NaN;
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean };

function anyValue(v: AttributeValue): AnyValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  // OTLP/JSON writes 64-bit integers as decimal strings (proto3 JSON mapping).
  return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

function keyValues(attrs: Readonly<Record<string, AttributeValue>>): { key: string; value: AnyValue }[] {
  return Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));
}

/** Milliseconds (possibly fractional) → nanoseconds as the decimal string OTLP/JSON expects. */
function unixNano(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.round((ms - whole) * 1000);
  return (BigInt(whole) * 1_000_000n + BigInt(micros) * 1000n).toString();
}

/** The OTLP/JSON `ExportLogsServiceRequest` of one batch (trace ids as hex, as OTLP/JSON requires). */
export function encodeLogsRequest(
  batch: readonly LogRecordInput[],
  resource: Readonly<Record<string, AttributeValue>>,
  scope: { readonly name: string; readonly version?: string },
): unknown {
  const observed = unixNano(Date.now());
  return {
    resourceLogs: [
      {
        resource: { attributes: keyValues(resource) },
        scopeLogs: [
          {
            scope: { name: scope.name, ...(scope.version !== undefined ? { version: scope.version } : {}) },
            logRecords: batch.map((r) => {
              const sev = SEVERITY[r.severity] ?? { number: 0, text: r.severity.toUpperCase() };
              return {
                timeUnixNano: unixNano(r.timeMs),
                observedTimeUnixNano: observed,
                severityNumber: sev.number,
                severityText: sev.text,
                body: { stringValue: r.body },
                attributes: keyValues(r.attributes),
                ...(r.traceId !== undefined ? { traceId: r.traceId } : {}),
                ...(r.spanId !== undefined ? { spanId: r.spanId } : {}),
              };
            }),
          },
        ],
      },
    ],
  };
}
