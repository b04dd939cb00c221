/**
 * The ztunnel's live connections, for the admin endpoint `/connections` (what
 * `istioctl ztunnel-config connections` shows). Every proxied connection already has exactly one
 * access record, opened at accept and finished in its handler's `finally`; the table is the set
 * of records not yet finished, so it cannot drift from what the proxy really holds. Byte counts
 * are read live from the socket that faces the application (its kernel-side counters), never
 * from a copy of the data.
 */
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  type AccessFields,
  type AccessFieldsInput,
  AccessLog,
  type AccessLogOptions,
  AccessRecord,
} from "../telemetry/access-log.js";

/** How a live connection travels: a pooled HBONE session, a plain TCP connection, or an accepted HBONE stream. */
export type ConnectionPath = "pool" | "direct" | "hbone";

export interface LiveConnectionView {
  readonly id: string;
  readonly direction: "inbound" | "outbound";
  /** Listener that accepted it: capture, socks5, hbone, plaintext. */
  readonly entry: string;
  readonly via: ConnectionPath;
  readonly src: {
    readonly address: string;
    readonly workload?: string;
    readonly namespace?: string;
    readonly identity?: string;
  };
  readonly dst: {
    readonly address: string;
    readonly workload?: string;
    readonly namespace?: string;
    readonly service?: string;
    readonly identity?: string;
    readonly waypoint?: string;
    readonly hboneAddress?: string;
  };
  readonly security: "mutual_tls" | "none";
  /** Client → destination (`received`) and destination → client (`sent`), as in the access log. */
  readonly bytes: { readonly received: number; readonly sent: number };
  readonly ageSeconds: number;
}

/** Which end of the connection a socket is: the client's own socket, or the socket to the destination workload. */
export type SocketSide = "client" | "upstream";

class LiveRecord extends AccessRecord {
  readonly startedAt: number;
  probe: { socket: Socket; side: SocketSide } | undefined;
  readonly #onFinish: (r: LiveRecord) => void;

  constructor(
    logger: AccessLogOptions["logger"],
    now: () => number,
    fields: AccessFieldsInput,
    onFinish: (r: LiveRecord) => void,
  ) {
    super(logger, now, fields);
    this.startedAt = now();
    this.#onFinish = onFinish;
  }

  override finish(error?: unknown): void {
    super.finish(error);
    this.#onFinish(this);
  }
}

export class ConnectionTable extends AccessLog {
  readonly #logger: AccessLogOptions["logger"];
  readonly #now: () => number;
  readonly #live = new Set<LiveRecord>();

  constructor(options: AccessLogOptions) {
    super(options);
    this.#logger = options.logger;
    this.#now = options.now ?? (() => performance.now());
  }

  override open(fields: AccessFieldsInput): AccessRecord {
    const r = new LiveRecord(this.#logger, this.#now, fields, (done) => {
      this.#live.delete(done);
    });
    this.#live.add(r);
    return r;
  }

  /** Gives the connection of `record` a live byte count from `socket` (the client's, or the one to the destination). */
  observe(record: AccessRecord, socket: Duplex, side: SocketSide): void {
    // Injected upstream connectors (tests) may hand back other streams: those rows show 0 bytes.
    if (record instanceof LiveRecord && !record.finished && socket instanceof Socket)
      record.probe = { socket, side };
  }

  get size(): number {
    return this.#live.size;
  }

  /** Oldest first. */
  list(): LiveConnectionView[] {
    const now = this.#now();
    return [...this.#live]
      .filter((r) => !r.finished)
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((r) => connectionView(r.fields, now - r.startedAt, bytesOf(r)));
  }
}

function bytesOf(r: LiveRecord): { received: number; sent: number } {
  const p = r.probe;
  if (p === undefined) return { received: 0, sent: 0 };
  // The client's socket reads what it sends; the destination's socket writes what the client sent.
  return p.side === "client"
    ? { received: p.socket.bytesRead, sent: p.socket.bytesWritten }
    : { received: p.socket.bytesWritten, sent: p.socket.bytesRead };
}

function pathOf(f: Readonly<AccessFields>): ConnectionPath {
  if (f.direction === "inbound") return f.entry === "hbone" ? "hbone" : "direct";
  return f.route === "hbone" ? "pool" : "direct";
}

/** Pure: one access record's fields as a connection row. */
export function connectionView(
  f: Readonly<AccessFields>,
  ageMs: number,
  bytes: { received: number; sent: number },
): LiveConnectionView {
  const opt = <K extends string>(k: K, v: string | undefined): { [P in K]?: string } =>
    (v === undefined ? {} : { [k]: v }) as { [P in K]?: string };
  return {
    id: f["conn.id"] ?? "",
    direction: f.direction ?? "outbound",
    entry: f.entry ?? "",
    via: pathOf(f),
    src: {
      address: f["src.addr"] ?? "",
      ...opt("workload", f["src.workload"]),
      ...opt("namespace", f["src.namespace"]),
      ...opt("identity", f["src.identity"]),
    },
    dst: {
      address: f["dst.addr"] ?? "",
      ...opt("workload", f["dst.workload"]),
      ...opt("namespace", f["dst.namespace"]),
      ...opt("service", f["dst.service"]),
      ...opt("identity", f["dst.identity"]),
      ...opt("waypoint", f["dst.waypoint"]),
      ...opt("hboneAddress", f["dst.hbone_addr"]),
    },
    security: f.security ?? (f.route === "hbone" ? "mutual_tls" : "none"),
    bytes,
    ageSeconds: Math.max(0, Math.floor(ageMs / 1000)),
  };
}
