/**
 * A MySQL-aware relay between one client stream and one server stream (any `Duplex`: a TCP socket in
 * tests, an HBONE stream in the waypoint). It judges every command before the server sees it.
 *
 * Design: server bytes are relayed untouched as they arrive (after the greeting) and only scanned for
 * packet heads; client bytes are framed into whole packets and consumed only when the protocol says it
 * is the client's turn — its HandshakeResponse, an auth reply the server asked for, a LOCAL INFILE
 * upload, or a new command once the previous reply is complete. MySQL is strictly one command, one
 * reply, so this loses nothing, and it is what makes the relay safe: a pipelined command is never
 * mistaken for auth or file data, and a denial's ERR packet never lands inside a server reply.
 *
 * TLS: the tunnel is already mutual TLS, so the relay clears CLIENT_SSL in the server greeting (clients
 * then do not ask) and refuses a client that asks anyway. It also clears MariaDB's extended capability
 * bytes (progress reports, metadata cache, bulk execute), so the stream is the plain MySQL protocol the
 * response tracker follows.
 */
import type { Duplex } from "node:stream";
import { Command, type CommandSpec, commandSpec } from "./commands.js";
import { MysqlError, MysqlErrorCode } from "./errors.js";
import {
  Capability,
  encodePacket,
  errPacket,
  type Packet,
  PacketFramer,
  type PacketHead,
  PacketScanner,
} from "./packets.js";
import { ResponseTracker } from "./response.js";
import { classifyStatements, type StatementKind } from "./statement.js";

export type AuthorizeResult =
  | { readonly allow: true }
  | { readonly allow: false; readonly reason: string; readonly policy: string | null };

/** What the relay knows about a command when it asks for a decision. */
export interface StatementInfo {
  /** `COM_QUERY`, `COM_STMT_EXECUTE`, … */
  readonly command: string;
  /** Every statement kind the command carries (several for a multi-statement COM_QUERY). */
  readonly kinds: readonly StatementKind[];
  /** The prepared statement id of COM_STMT_EXECUTE. */
  readonly statementId?: number;
}

/** Decides one statement kind; the relay asks once per distinct kind of a command and needs every one allowed. */
export type Authorize = (method: StatementKind, info: StatementInfo) => AuthorizeResult;

/** One judged command, for metrics and access logs. */
export interface StatementEvent {
  readonly command: string;
  /** The kinds joined by `,` (what a metric label shows). */
  readonly method: string;
  readonly decision: "allow" | "deny";
  /** The deciding policy of a denial, when one decided. */
  readonly policy: string | null;
  readonly reason: string;
  /** From reading the command to the end of the server's reply (or to the denial), in ms. */
  readonly durationMs: number;
}

export type SessionEndReason =
  | "client-closed"
  | "server-closed"
  | "protocol-error"
  | "handshake-refused"
  | "stream-error";

export interface SessionEnd {
  readonly reason: SessionEndReason;
  readonly error: Error | null;
  readonly allowed: number;
  readonly denied: number;
}

export interface MysqlRelayOptions {
  authorize: Authorize;
  /** Largest client packet (a statement) accepted, in bytes. Default 16 MiB (MariaDB's max_allowed_packet). */
  maxPacketBytes?: number;
  onStatement?: (event: StatementEvent) => void;
  /** Called once when both streams are closed, with why the session ended. */
  onEnd?: (end: SessionEnd) => void;
  now?: () => number;
}

export interface MysqlRelayConfig {
  readonly authorize: Authorize;
  readonly maxPacketBytes: number;
  readonly onStatement: (event: StatementEvent) => void;
  readonly onEnd: (end: SessionEnd) => void;
  readonly now: () => number;
}

export const DEFAULT_MAX_PACKET_BYTES = 16 * 1024 * 1024;

export function mysqlRelayConfig(options: MysqlRelayOptions): MysqlRelayConfig {
  const max = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (!Number.isInteger(max) || max < 1024 || max > 1024 * 1024 * 1024) {
    throw new MysqlError(
      MysqlErrorCode.BAD_CONFIG,
      `maxPacketBytes ${max} is out of range; use an integer from 1024 to 1073741824`,
    );
  }
  return Object.freeze({
    authorize: options.authorize,
    maxPacketBytes: max,
    onStatement: options.onStatement ?? (() => {}),
    onEnd: options.onEnd ?? (() => {}),
    now: options.now ?? (() => performance.now()),
  });
}

/** MySQL's ER_TABLEACCESS_DENIED_ERROR: what clients already show as "command denied". */
export const DENIED_ERROR_CODE = 1142;
export const DENIED_SQLSTATE = "42000";
const ER_UNKNOWN_COM_ERROR = 1047;
const ER_HANDSHAKE_ERROR = 1043;
const ER_NET_PACKET_TOO_LARGE = 1153;

interface Pending {
  readonly spec: CommandSpec;
  readonly kinds: readonly StatementKind[];
  readonly start: number;
}

type Phase =
  | { readonly phase: "greeting" }
  | { readonly phase: "handshake" }
  /** `clientTurn`: the server asked for an auth reply, so the next client packet is one. */
  | { readonly phase: "auth"; readonly clientTurn: boolean }
  | { readonly phase: "idle" }
  | { readonly phase: "busy"; readonly tracker: ResponseTracker; readonly pending: Pending }
  | { readonly phase: "closed" };

const MARIADB_EXT_CAPS_OFFSET_IN_RESPONSE = 28;

export class MysqlSession {
  readonly #client: Duplex;
  readonly #server: Duplex;
  readonly #config: MysqlRelayConfig;
  readonly #clientFramer: PacketFramer;
  readonly #greetingFramer: PacketFramer;
  readonly #scanner = new PacketScanner();
  readonly #queue: Packet[] = [];
  readonly #prepared = new Map<number, readonly StatementKind[]>();
  #lastPrepared: number | null = null;
  #phase: Phase = { phase: "greeting" };
  #serverCaps = 0;
  #multiStatements = false;
  #deprecateEof = false;
  #allowed = 0;
  #denied = 0;
  #end: { reason: SessionEndReason; error: Error | null } | null = null;
  #openStreams = 2;
  readonly ended: Promise<SessionEnd>;
  #resolveEnded: (end: SessionEnd) => void = () => {};

  constructor(client: Duplex, server: Duplex, config: MysqlRelayConfig) {
    this.#client = client;
    this.#server = server;
    this.#config = config;
    this.#clientFramer = new PacketFramer({ maxPacketBytes: config.maxPacketBytes });
    this.#greetingFramer = new PacketFramer({ maxPacketBytes: 64 * 1024 });
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
    client.on("error", (err) => this.#close("stream-error", err));
    server.on("error", (err) => this.#close("stream-error", err));
    client.on("close", () => this.#streamClosed("client-closed"));
    server.on("close", () => this.#streamClosed("server-closed"));
    client.on("end", () => {
      this.#recordEnd("client-closed", null);
      if (!server.destroyed) server.end();
    });
    server.on("end", () => {
      this.#recordEnd("server-closed", null);
      if (!client.destroyed) client.end();
    });
    client.on("drain", () => this.#updateFlow());
    server.on("drain", () => this.#updateFlow());
    client.on("data", (chunk: Buffer) => this.#onClientData(chunk));
    server.on("data", (chunk: Buffer) => this.#onServerData(chunk));
  }

  get phase(): Phase["phase"] {
    return this.#phase.phase;
  }

  // ------------------------------------------------------------------ server → client

  #onServerData(chunk: Buffer): void {
    if (this.#phase.phase === "closed") return;
    if (this.#phase.phase === "greeting") {
      let packets: Packet[];
      try {
        packets = this.#greetingFramer.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      const greeting = packets[0];
      if (greeting === undefined) return;
      this.#client.write(encodePacket(this.#rewriteGreeting(greeting.payload), greeting.seq));
      this.#phase =
        greeting.payload[0] === 0xff ? { phase: "auth", clientTurn: false } : { phase: "handshake" };
      const rest = Buffer.concat([...packets.slice(1).map((p) => p.raw), this.#greetingFramer.drain()]);
      if (rest.length > 0) this.#relayServer(rest);
      this.#pump();
      return;
    }
    this.#relayServer(chunk);
  }

  #relayServer(chunk: Buffer): void {
    this.#client.write(chunk);
    for (const head of this.#scanner.push(chunk)) this.#onServerPacket(head);
    this.#pump();
    this.#updateFlow();
  }

  /** Clears CLIENT_SSL and MariaDB's extended capabilities in the Protocol::HandshakeV10 packet. */
  #rewriteGreeting(payload: Buffer): Buffer {
    if (payload[0] !== 10) return payload;
    const nul = payload.indexOf(0, 1);
    const capsLower = nul + 1 + 4 + 8 + 1;
    if (nul === -1 || payload.length < capsLower + 2) return payload;
    const out = Buffer.from(payload);
    const lower = out.readUInt16LE(capsLower) & ~Capability.SSL;
    out.writeUInt16LE(lower, capsLower);
    let upper = 0;
    if (out.length >= capsLower + 7) upper = out.readUInt16LE(capsLower + 5);
    this.#serverCaps = lower | (upper << 16);
    // charset(1) status(2) caps-upper(2) auth-data-len(1) reserved(6) then MariaDB's 4 extended bytes.
    const ext = capsLower + 2 + 1 + 2 + 2 + 1 + 6;
    if (out.length >= ext + 4) out.fill(0, ext, ext + 4);
    return out;
  }

  #onServerPacket(head: PacketHead): void {
    const ph = this.#phase;
    if (ph.phase === "auth") {
      const b = head.head[0];
      if (b === 0x00) this.#phase = { phase: "idle" };
      else if (b === 0xff) this.#phase = { phase: "auth", clientTurn: false };
      // 0x01 0x03 is caching_sha2's "fast auth succeeded": an OK follows without a client reply.
      else if (b === 0x01 && head.length === 2 && head.head[1] === 0x03)
        this.#phase = { phase: "auth", clientTurn: false };
      else this.#phase = { phase: "auth", clientTurn: true };
      return;
    }
    if (ph.phase !== "busy") return;
    ph.tracker.feed(head);
    if (ph.tracker.done) this.#complete(ph.tracker, ph.pending);
  }

  #complete(tracker: ResponseTracker, pending: Pending): void {
    if (pending.spec.code === Command.STMT_PREPARE && tracker.preparedId !== null) {
      this.#prepared.set(tracker.preparedId, pending.kinds);
      this.#lastPrepared = tracker.preparedId;
    }
    this.#phase = { phase: "idle" };
    this.#emit(pending, "allow", null, "allowed");
  }

  // ------------------------------------------------------------------ client → server

  #onClientData(chunk: Buffer): void {
    if (this.#phase.phase === "closed") return;
    try {
      this.#queue.push(...this.#clientFramer.push(chunk));
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    this.#pump();
    this.#updateFlow();
  }

  #pump(): void {
    for (;;) {
      const ph = this.#phase;
      const p = this.#queue[0];
      if (p === undefined) return;
      switch (ph.phase) {
        case "closed":
        case "greeting":
          return;
        case "handshake":
          this.#queue.shift();
          this.#onHandshakeResponse(p);
          break;
        case "auth":
          if (!ph.clientTurn) return;
          this.#queue.shift();
          this.#server.write(p.raw);
          this.#phase = { phase: "auth", clientTurn: false };
          break;
        case "idle":
          this.#queue.shift();
          this.#onCommand(p);
          break;
        case "busy":
          if (ph.tracker.state.state !== "infile") return;
          this.#queue.shift();
          this.#server.write(p.raw);
          if (p.payload.length === 0) ph.tracker.clientDataEnded();
          break;
      }
    }
  }

  #onHandshakeResponse(p: Packet): void {
    const payload = p.payload;
    if (payload.length < 4) {
      this.#fail(
        new MysqlError(
          MysqlErrorCode.MALFORMED_PACKET,
          `handshake response of ${payload.length} bytes is truncated`,
        ),
      );
      return;
    }
    const caps = payload.readUInt32LE(0);
    if ((caps & Capability.SSL) !== 0) {
      this.#refuseHandshake(
        p,
        "ambit: TLS inside the mesh tunnel is not supported: the connection is already mutual TLS between workloads; connect without --ssl (ssl-mode=DISABLED)",
      );
      return;
    }
    if ((caps & Capability.PROTOCOL_41) === 0) {
      this.#refuseHandshake(p, "ambit: clients without CLIENT_PROTOCOL_41 (pre-4.1) are not supported");
      return;
    }
    const negotiated = caps & (this.#serverCaps === 0 ? caps : this.#serverCaps);
    this.#multiStatements = (negotiated & Capability.MULTI_STATEMENTS) !== 0;
    this.#deprecateEof = (negotiated & Capability.DEPRECATE_EOF) !== 0;
    let forward = p.raw;
    if (
      payload.length >= MARIADB_EXT_CAPS_OFFSET_IN_RESPONSE + 4 &&
      payload.readUInt32LE(MARIADB_EXT_CAPS_OFFSET_IN_RESPONSE) !== 0
    ) {
      const copy = Buffer.from(payload);
      copy.fill(0, MARIADB_EXT_CAPS_OFFSET_IN_RESPONSE, MARIADB_EXT_CAPS_OFFSET_IN_RESPONSE + 4);
      forward = encodePacket(copy, p.seq);
    }
    this.#server.write(forward);
    this.#phase = { phase: "auth", clientTurn: false };
  }

  #refuseHandshake(p: Packet, message: string): void {
    const err = new MysqlError(MysqlErrorCode.UNSUPPORTED_HANDSHAKE, message);
    this.#recordEnd("handshake-refused", err);
    this.#phase = { phase: "closed" };
    this.#client.end(errPacket((p.lastSeq + 1) & 0xff, ER_HANDSHAKE_ERROR, "08S01", message));
    this.#server.destroy();
  }

  #onCommand(p: Packet): void {
    const start = this.#config.now();
    const payload = p.payload;
    if (p.seq !== 0) {
      this.#fail(
        new MysqlError(
          MysqlErrorCode.MALFORMED_PACKET,
          `command packet with sequence id ${p.seq}; a command starts at 0`,
        ),
      );
      return;
    }
    const code = payload[0];
    if (code === undefined) {
      this.#fail(new MysqlError(MysqlErrorCode.MALFORMED_PACKET, "empty command packet"));
      return;
    }
    const spec = commandSpec(code);
    if (spec === undefined) {
      this.#fail(
        new MysqlError(
          MysqlErrorCode.UNKNOWN_COMMAND,
          `command byte 0x${code.toString(16).padStart(2, "0")} is no MySQL command`,
        ),
      );
      return;
    }
    const h = spec.handling;
    let kinds: readonly StatementKind[];
    let statementId: number | undefined;
    switch (h.kind) {
      case "plumbing":
        this.#plumbing(spec, payload);
        this.#forward(p, { spec, kinds: [], start });
        return;
      case "unsupported": {
        const reason = `${spec.name} is not supported through ambit's MySQL waypoint`;
        this.#client.write(
          errPacket((p.lastSeq + 1) & 0xff, ER_UNKNOWN_COM_ERROR, "08S01", `ambit: ${reason}`),
        );
        this.#emit({ spec, kinds: ["UNKNOWN"], start }, "deny", null, reason);
        return;
      }
      case "fixed":
        kinds = [h.statement];
        break;
      case "query":
        kinds = classifyStatements(payload.toString("latin1", 1), { multiStatements: this.#multiStatements });
        break;
      case "prepare":
        // The server prepares one statement only; judging every `;`-part is the conservative reading.
        kinds = classifyStatements(payload.toString("latin1", 1), { multiStatements: true });
        break;
      case "execute": {
        if (payload.length < 5) {
          this.#fail(
            new MysqlError(MysqlErrorCode.MALFORMED_PACKET, "COM_STMT_EXECUTE without a statement id"),
          );
          return;
        }
        const raw = payload.readUInt32LE(1);
        // MariaDB: id 0xFFFFFFFF means "the statement prepared last" (pipelined prepare + execute).
        statementId = raw === 0xffffffff && this.#lastPrepared !== null ? this.#lastPrepared : raw;
        kinds = this.#prepared.get(statementId) ?? ["UNKNOWN"];
        break;
      }
    }
    const info: StatementInfo =
      statementId === undefined ? { command: spec.name, kinds } : { command: spec.name, kinds, statementId };
    for (const kind of new Set(kinds)) {
      let decision: AuthorizeResult;
      try {
        decision = this.#config.authorize(kind, info);
      } catch (err) {
        decision = { allow: false, reason: `authorization failed: ${(err as Error).message}`, policy: null };
      }
      if (!decision.allow) {
        const by =
          decision.policy === null
            ? "by the mesh's authorization policy"
            : `by AuthorizationPolicy ${decision.policy}`;
        const message = `ambit: ${kind} statement denied ${by}: ${decision.reason}`;
        this.#client.write(errPacket((p.lastSeq + 1) & 0xff, DENIED_ERROR_CODE, DENIED_SQLSTATE, message));
        this.#emit({ spec, kinds, start }, "deny", decision.policy, decision.reason);
        return;
      }
    }
    this.#forward(p, { spec, kinds, start });
  }

  #plumbing(spec: CommandSpec, payload: Buffer): void {
    if (spec.code === Command.SET_OPTION) {
      // MYSQL_OPTION_MULTI_STATEMENTS_ON = 0. Never switched back off: judging every statement is
      // always safe, while believing "off" after a failed OFF would let a second statement through.
      if (payload.length >= 3 && payload.readUInt16LE(1) === 0) this.#multiStatements = true;
    } else if (spec.code === Command.STMT_CLOSE && payload.length >= 5) {
      this.#prepared.delete(payload.readUInt32LE(1));
    } else if (spec.code === Command.RESET_CONNECTION) {
      this.#prepared.clear();
      this.#lastPrepared = null;
    }
  }

  #forward(p: Packet, pending: Pending): void {
    this.#server.write(p.raw);
    const shape = pending.spec.response;
    if (shape === "none") {
      this.#emit(pending, "allow", null, "allowed");
      return;
    }
    this.#phase = {
      phase: "busy",
      tracker: new ResponseTracker(shape, { deprecateEof: this.#deprecateEof }),
      pending,
    };
  }

  #emit(pending: Pending, decision: "allow" | "deny", policy: string | null, reason: string): void {
    if (decision === "allow") this.#allowed++;
    else this.#denied++;
    // Plumbing carries no statement: it is counted but not reported as a judged statement.
    if (pending.kinds.length === 0) return;
    this.#config.onStatement({
      command: pending.spec.name,
      method: [...new Set(pending.kinds)].join(","),
      decision,
      policy,
      reason,
      durationMs: this.#config.now() - pending.start,
    });
  }

  // ------------------------------------------------------------------ flow control and ending

  /** The client is read only when nothing waits in the queue and the server keeps up, and vice versa. */
  #updateFlow(): void {
    if (this.#phase.phase === "closed") return;
    if (this.#queue.length === 0 && !this.#server.writableNeedDrain) this.#client.resume();
    else this.#client.pause();
    if (this.#client.writableNeedDrain) this.#server.pause();
    else this.#server.resume();
  }

  #fail(err: Error): void {
    if (this.#phase.phase === "closed") return;
    const wasIdle = this.#phase.phase === "idle";
    this.#recordEnd("protocol-error", err);
    this.#phase = { phase: "closed" };
    if (wasIdle) {
      const tooLarge = err instanceof MysqlError && err.code === MysqlErrorCode.PACKET_TOO_LARGE;
      const client = this.#client;
      client.end(
        errPacket(
          1,
          tooLarge ? ER_NET_PACKET_TOO_LARGE : ER_UNKNOWN_COM_ERROR,
          "08S01",
          `ambit: ${err.message}`,
        ),
        () => client.destroy(),
      );
    } else {
      this.#client.destroy();
    }
    this.#server.destroy();
  }

  #close(reason: SessionEndReason, err: Error): void {
    this.#recordEnd(reason, err);
    this.#phase = { phase: "closed" };
    this.#client.destroy();
    this.#server.destroy();
  }

  #recordEnd(reason: SessionEndReason, error: Error | null): void {
    if (this.#end === null) this.#end = { reason, error };
  }

  #streamClosed(reason: SessionEndReason): void {
    this.#recordEnd(reason, null);
    if (this.#phase.phase !== "closed") {
      this.#phase = { phase: "closed" };
      // One side is gone: the other has nothing left to talk to.
      if (reason === "client-closed") this.#server.destroy();
      else this.#client.end();
    }
    this.#openStreams--;
    if (this.#openStreams === 0) {
      const end = this.#end ?? { reason, error: null };
      const result: SessionEnd = { ...end, allowed: this.#allowed, denied: this.#denied };
      this.#config.onEnd(result);
      this.#resolveEnded(result);
    }
  }
}

/** Starts relaying between `client` and `server`; `session.ended` resolves when both are closed. */
export function relayMysql(client: Duplex, server: Duplex, options: MysqlRelayOptions): MysqlSession {
  return new MysqlSession(client, server, mysqlRelayConfig(options));
}
