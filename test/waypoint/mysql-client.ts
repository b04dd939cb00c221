/**
 * A minimal MySQL client for tests: handshake with mysql_native_password (auth switch included),
 * COM_QUERY with text result sets (several results for multi-statements), COM_STMT_PREPARE and
 * COM_STMT_EXECUTE with integer parameters, and raw packet sending for malformed-input tests.
 */
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import {
  Capability,
  encodePacket,
  type Packet,
  PacketFramer,
  parseErr,
  readLenEnc,
} from "../../src/waypoint/mysql/packets.js";

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x8_0000;
const MORE_RESULTS = 0x8;

export type Result =
  | { readonly kind: "ok" }
  | { readonly kind: "err"; readonly code: number; readonly sqlState: string; readonly message: string }
  | { readonly kind: "rows"; readonly rows: readonly (readonly (string | null)[])[] };

export interface ConnectOptions {
  port: number;
  user: string;
  password: string;
  database?: string;
  multiStatements?: boolean;
  deprecateEof?: boolean;
  /** Ask for TLS (CLIENT_SSL): the relay must refuse. */
  ssl?: boolean;
  /** A COM_QUERY sent right behind the handshake response, before the server has accepted the login. */
  pipelinedQuery?: string;
}

function scramble(password: string, nonce: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const sha1 = (b: Buffer | string) => createHash("sha1").update(b).digest();
  const h1 = sha1(password);
  const h2 = sha1(Buffer.concat([nonce, sha1(h1)]));
  return Buffer.from(h1.map((b, i) => b ^ (h2[i] ?? 0)));
}

export class MiniClient {
  readonly socket: Socket;
  readonly #framer = new PacketFramer({ maxPacketBytes: 64 * 1024 * 1024 });
  readonly #queue: Packet[] = [];
  #waiter: (() => void) | null = null;
  #closed = false;
  /** Capability flags the greeting advertised (after the relay's rewrite). */
  serverCaps = 0;
  #deprecateEof = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#queue.push(...this.#framer.push(c));
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#closed = true;
        this.#wake();
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async read(): Promise<Packet> {
    for (;;) {
      const p = this.#queue.shift();
      if (p !== undefined) return p;
      if (this.#closed) throw new Error("connection closed");
      await new Promise<void>((r) => {
        this.#waiter = r;
      });
    }
  }

  /** Connects and authenticates; rejects with the server's (or relay's) ERR message on failure. */
  static async connect(o: ConnectOptions): Promise<MiniClient> {
    const socket = connect(o.port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new MiniClient(socket);
    const greeting = await c.read();
    const g = greeting.payload;
    const nul = g.indexOf(0, 1);
    let off = nul + 1 + 4;
    const nonce1 = g.subarray(off, off + 8);
    off += 9;
    const lower = g.readUInt16LE(off);
    const upper = g.readUInt16LE(off + 5);
    c.serverCaps = lower | (upper << 16);
    const nonce2 = g.subarray(off + 2 + 1 + 2 + 2 + 1 + 10, off + 2 + 1 + 2 + 2 + 1 + 10 + 12);
    const nonce = Buffer.concat([nonce1, nonce2]);
    let caps = CLIENT_LONG_PASSWORD | Capability.PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
    if (o.database !== undefined) caps |= Capability.CONNECT_WITH_DB;
    if (o.multiStatements === true) caps |= Capability.MULTI_STATEMENTS;
    if (o.deprecateEof === true) caps |= Capability.DEPRECATE_EOF;
    if (o.ssl === true) caps |= Capability.SSL;
    const head = Buffer.alloc(32);
    head.writeUInt32LE(caps >>> 0, 0);
    head.writeUInt32LE(16 * 1024 * 1024, 4);
    head[8] = 45; // utf8mb4_general_ci
    if (o.ssl === true) {
      socket.write(encodePacket(head, greeting.seq + 1));
    } else {
      const auth = scramble(o.password, nonce);
      const parts = [
        head,
        Buffer.from(`${o.user}\0`),
        Buffer.from([auth.length]),
        auth,
        ...(o.database !== undefined ? [Buffer.from(`${o.database}\0`)] : []),
        Buffer.from("mysql_native_password\0"),
      ];
      const response = encodePacket(Buffer.concat(parts), greeting.seq + 1);
      const pipelined =
        o.pipelinedQuery === undefined
          ? []
          : [encodePacket(Buffer.concat([Buffer.from([0x03]), Buffer.from(o.pipelinedQuery)]), 0)];
      socket.write(Buffer.concat([response, ...pipelined]));
    }
    c.#deprecateEof = o.deprecateEof === true;
    for (;;) {
      const p = await c.read();
      const b = p.payload[0];
      if (b === 0x00) return c;
      if (b === 0xff) {
        socket.destroy();
        throw new Error(parseErr(p.payload)?.message ?? "auth failed");
      }
      if (b === 0xfe) {
        // Auth switch: plugin name NUL, then the new nonce.
        const pn = p.payload.indexOf(0, 1);
        const newNonce = p.payload.subarray(pn + 1, pn + 1 + 20);
        socket.write(encodePacket(scramble(o.password, newNonce), p.seq + 1));
        continue;
      }
      throw new Error(`unexpected auth packet 0x${b?.toString(16)}`);
    }
  }

  /** Sends `payload` as a command (sequence id 0). */
  command(payload: Buffer): void {
    this.socket.write(encodePacket(payload, 0));
  }

  async query(sql: string): Promise<Result[]> {
    this.command(Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "utf8")]));
    return this.#results(false);
  }

  /** Reads the reply to a command sent earlier (a pipelined one). */
  results(): Promise<Result[]> {
    return this.#results(false);
  }

  /** COM_STMT_PREPARE: the statement id, or the ERR. */
  async prepare(sql: string): Promise<{ id: number; params: number } | Extract<Result, { kind: "err" }>> {
    this.command(Buffer.concat([Buffer.from([0x16]), Buffer.from(sql, "utf8")]));
    const p = await this.read();
    const e = parseErr(p.payload);
    if (e !== null) return { kind: "err", ...e };
    const id = p.payload.readUInt32LE(1);
    const columns = p.payload.readUInt16LE(5);
    const params = p.payload.readUInt16LE(7);
    const eofs = this.#deprecateEof ? 0 : (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0);
    for (let i = 0; i < params + columns + eofs; i++) await this.read();
    return { id, params };
  }

  /** COM_STMT_EXECUTE with INT parameters; rows hold the first column only (binary protocol). */
  async execute(id: number, ints: readonly number[]): Promise<Result[]> {
    const parts = [Buffer.from([0x17]), Buffer.alloc(4), Buffer.from([0]), Buffer.from([1, 0, 0, 0])];
    (parts[1] as Buffer).writeUInt32LE(id >>> 0, 0);
    if (ints.length > 0) {
      parts.push(Buffer.alloc((ints.length + 7) >> 3), Buffer.from([1]));
      for (const _ of ints) parts.push(Buffer.from([0x03, 0x00]));
      for (const v of ints) {
        const b = Buffer.alloc(4);
        b.writeInt32LE(v, 0);
        parts.push(b);
      }
    }
    this.command(Buffer.concat(parts));
    return this.#results(true);
  }

  async #results(binary: boolean): Promise<Result[]> {
    const out: Result[] = [];
    for (;;) {
      const first = await this.read();
      const b = first.payload[0];
      if (b === 0xff) {
        const e = parseErr(first.payload);
        out.push({ kind: "err", code: e?.code ?? 0, sqlState: e?.sqlState ?? "", message: e?.message ?? "" });
        return out;
      }
      if (b === 0x00) {
        out.push({ kind: "ok" });
        if ((okStatusOf(first.payload) & MORE_RESULTS) === 0) return out;
        continue;
      }
      const count = readLenEnc(first.payload, 0)?.value ?? 0;
      for (let i = 0; i < count; i++) await this.read();
      if (!this.#deprecateEof) await this.read();
      const rows: (string | null)[][] = [];
      let status = 0;
      for (;;) {
        const p = await this.read();
        if (p.payload[0] === 0xfe && p.payload.length < 0xffffff) {
          status = this.#deprecateEof ? okStatusOf(p.payload) : p.payload.readUInt16LE(3);
          break;
        }
        if (p.payload[0] === 0xff) {
          const e = parseErr(p.payload);
          out.push({
            kind: "err",
            code: e?.code ?? 0,
            sqlState: e?.sqlState ?? "",
            message: e?.message ?? "",
          });
          return out;
        }
        rows.push(binary ? [firstBinaryString(p.payload, count)] : textRow(p.payload, count));
      }
      out.push({ kind: "rows", rows });
      if ((status & MORE_RESULTS) === 0) return out;
    }
  }

  async quit(): Promise<void> {
    this.command(Buffer.from([0x01]));
    this.socket.end();
    await this.closed;
  }
}

function okStatusOf(payload: Buffer): number {
  const a = readLenEnc(payload, 1);
  const b = a === null ? null : readLenEnc(payload, a.next);
  return b === null ? 0 : payload.readUInt16LE(b.next);
}

function textRow(payload: Buffer, count: number): (string | null)[] {
  const row: (string | null)[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (payload[off] === 0xfb) {
      row.push(null);
      off++;
      continue;
    }
    const len = readLenEnc(payload, off);
    if (len === null) break;
    row.push(payload.toString("utf8", len.next, len.next + len.value));
    off = len.next + len.value;
  }
  return row;
}

/** The first column of a binary row when it is a string (0x00 header, NULL bitmap with 2 reserved bits). */
function firstBinaryString(payload: Buffer, count: number): string | null {
  const bitmap = (count + 7 + 2) >> 3;
  if (((payload[1] ?? 0) & 0b100) !== 0) return null;
  const len = readLenEnc(payload, 1 + bitmap);
  return len === null ? null : payload.toString("utf8", len.next, len.next + len.value);
}
