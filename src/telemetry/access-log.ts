/**
 * Access records: exactly one per proxied connection (or HTTP request), opened when the proxy accepts
 * it and finished in the `finally` of its handler. Field names follow ztunnel's access log
 * (`src.addr`, `dst.workload`, `bytes.sent`…); they are flat dotted keys so log pipelines can index
 * them without unnesting.
 */
import type { Logger } from "pino";

export type Direction = "inbound" | "outbound";

export interface AccessFields {
  "conn.id"?: string;
  direction?: Direction;
  /** Listener that accepted: "capture" (15001), "socks5" (15080), "hbone" (15008), "plaintext" (15006). */
  entry?: string;
  "src.addr"?: string;
  "src.workload"?: string;
  "src.namespace"?: string;
  "src.identity"?: string;
  "dst.addr"?: string;
  "dst.hbone_addr"?: string;
  "dst.workload"?: string;
  "dst.namespace"?: string;
  "dst.service"?: string;
  "dst.identity"?: string;
  "dst.waypoint"?: string;
  /** "hbone" (mTLS tunnel), "passthrough" (unchanged), "monitor" (observed, unchanged), "deny". */
  route?: string;
  authz?: "allow" | "deny" | "would_deny";
  "authz.policy"?: string;
  "authz.rule"?: string;
  security?: "mutual_tls" | "none";
  "bytes.sent"?: number;
  "bytes.received"?: number;
  duration_ms?: number;
  reason?: string;
  "error.code"?: string;
  /** W3C trace context of the request, when it carried one; OTLP export turns it into trace ids. */
  traceparent?: string;
}

export type AccessFieldsInput = { [K in keyof AccessFields]?: AccessFields[K] | undefined };

export interface AccessLogOptions {
  readonly logger: Logger;
  readonly now?: () => number;
}

export class AccessLog {
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(options: AccessLogOptions) {
    this.#logger = options.logger;
    this.#now = options.now ?? (() => performance.now());
  }

  open(fields: AccessFieldsInput): AccessRecord {
    return new AccessRecord(this.#logger, this.#now, fields);
  }
}

export class AccessRecord {
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #start: number;
  readonly #fields: AccessFields;
  #done = false;

  constructor(logger: Logger, now: () => number, fields: AccessFieldsInput) {
    this.#logger = logger;
    this.#now = now;
    this.#start = now();
    this.#fields = {};
    this.set(fields);
  }

  /** Merges fields; `undefined` values are skipped so callers can pass optional facts as they are. */
  set(fields: AccessFieldsInput): this {
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) (this.#fields as Record<string, unknown>)[k] = v;
    }
    return this;
  }

  get fields(): Readonly<AccessFields> {
    return this.#fields;
  }

  get finished(): boolean {
    return this.#done;
  }

  /** Writes the record once; later calls are ignored so a handler may call it from every exit path. */
  finish(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    const f = this.#fields;
    f.duration_ms = Math.round((this.#now() - this.#start) * 1000) / 1000;
    if (error !== undefined && error !== null) {
      if (f.reason === undefined) f.reason = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && f["error.code"] === undefined) f["error.code"] = code;
    }
    const level =
      f.reason !== undefined && f.authz !== "deny" && f["error.code"] !== undefined ? "warn" : "info";
    this.#logger[level]({ access: true, ...f }, "access");
  }
}
