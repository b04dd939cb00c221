/**
 * A hand-built HTTP/2 client for frame-level attacks (RFC 9113): it writes exactly the bytes a
 * corpus case asks for — malformed frames included, which node:http2 would refuse to send — and
 * records every frame the server answers with. Header blocks use HPACK "literal without indexing,
 * new name" (RFC 7541 §6.2.2) so any name/value, legal or not, goes out verbatim.
 */
import { once } from "node:events";
import tls from "node:tls";

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** RFC 9113 §7 error codes, by number. */
export const ERROR_NAMES = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
] as const;
export type H2ErrorName = (typeof ERROR_NAMES)[number];

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, payload]);
}

/** A frame header announcing `length` bytes, followed by `actual` bytes (a lie when they differ). */
export function frameWithLength(
  type: number,
  flags: number,
  stream: number,
  length: number,
  actual: Buffer,
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([head, actual]);
}

export function settings(entries: [number, number][] = [], ack = false): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, p);
}

export function ping(data: Buffer = Buffer.alloc(8), ack = false, stream = 0): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, stream, data);
}

export function windowUpdate(stream: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(FrameType.WINDOW_UPDATE, 0, stream, p);
}

export function rstStream(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code >>> 0);
  return frame(FrameType.RST_STREAM, 0, stream, p);
}

export function goaway(lastStream: number, code: number, debug: Buffer = Buffer.alloc(0)): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStream >>> 0, 0);
  p.writeUInt32BE(code >>> 0, 4);
  return frame(FrameType.GOAWAY, 0, 0, Buffer.concat([p, debug]));
}

export function priority(stream: number, dependsOn: number, weight = 16, exclusive = false): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dependsOn) >>> 0, 0);
  p[4] = weight - 1;
  return frame(FrameType.PRIORITY, 0, stream, p);
}

export function data(stream: number, body: Buffer, endStream = false): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, stream, body);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
export function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  return Buffer.concat([hpackInt(b.length, 7), b]);
}

/** A header block of literal-without-indexing fields, in the given order (pseudo-headers first is the caller's job). */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), hpackString(n), hpackString(v)]));
}

export function headers(
  stream: number,
  block: Buffer,
  opts: { endStream?: boolean; endHeaders?: boolean } = {},
): Buffer {
  const flags = (opts.endStream ? Flag.END_STREAM : 0) | (opts.endHeaders === false ? 0 : Flag.END_HEADERS);
  return frame(FrameType.HEADERS, flags, stream, block);
}

export function continuation(stream: number, block: Buffer, endHeaders: boolean): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, stream, block);
}

/** A well-formed HBONE CONNECT header block for `authority`. */
export function connectBlock(authority: string, extra: readonly (readonly [string, string])[] = []): Buffer {
  return headerBlock([[":method", "CONNECT"], [":authority", authority], ...extra]);
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/**
 * `:status` of a response HEADERS frame that opens the connection's first header block: the
 * dynamic table is still empty, so nghttp2 sends it as a static index or a literal whose value may
 * be Huffman-coded; status codes are digits, whose Huffman codes (RFC 7541 Appendix B) are 5 bits
 * for 0-2 and 6 bits (0x19 + d - 3) for 3-9.
 */
export function firstStatus(block: Buffer): number | undefined {
  const b0 = block[0];
  if (b0 === undefined) return undefined;
  const STATIC: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
  if (b0 & 0x80) return STATIC[b0 & 0x7f];
  // Literal with (0x40, 6-bit index), without (0x00) or never (0x10) indexing, 4-bit index; name index 8..14 = :status.
  const nameIndex = b0 & 0x40 ? b0 & 0x3f : b0 & 0x0f;
  if (nameIndex < 8 || nameIndex > 14) return undefined;
  const lenByte = block[1];
  if (lenByte === undefined) return undefined;
  const value = block.subarray(2, 2 + (lenByte & 0x7f));
  if ((lenByte & 0x80) === 0) return Number(value.toString("latin1"));
  let bits = "";
  for (const byte of value) bits += byte.toString(2).padStart(8, "0");
  let digits = "";
  let i = 0;
  while (digits.length < 3 && i + 5 <= bits.length) {
    const five = Number.parseInt(bits.slice(i, i + 5), 2);
    if (five <= 2) {
      digits += String(five);
      i += 5;
      continue;
    }
    const six = Number.parseInt(bits.slice(i, i + 6), 2);
    if (six < 0x19 || six > 0x1f) return undefined;
    digits += String(six - 0x19 + 3);
    i += 6;
  }
  return digits.length === 3 ? Number(digits) : undefined;
}

export interface RawExchange {
  readonly frames: ReceivedFrame[];
  /** The TLS connection ended (either side); `closedByPeer` when the server ended it. */
  closedByPeer: boolean;
  /** Bytes that did not parse as frames (never expected from a correct server). */
  garbage: number;
}

export interface RawClientOptions {
  host: string;
  port: number;
  tls: Pick<tls.ConnectionOptions, "cert" | "key" | "ca">;
  /** Send the client preface and an empty SETTINGS first (default true). */
  preface?: boolean;
}

/**
 * One TLS connection speaking raw HTTP/2. The client ACKs the server's SETTINGS like any client
 * would, so an attack is not confused with a settings timeout.
 */
export class RawH2Client {
  readonly socket: tls.TLSSocket;
  readonly exchange: RawExchange = { frames: [], closedByPeer: false, garbage: 0 };
  readonly closed: Promise<void>;
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.exchange.closedByPeer = true;
        this.#wake();
        resolve();
      }),
    );
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  static async connect(opts: RawClientOptions): Promise<RawH2Client> {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...opts.tls,
      ALPNProtocols: ["h2"],
      // The server proves a SPIFFE identity, not a host name; the corpus is about the server's parser.
      checkServerIdentity: () => undefined,
    });
    const client = new RawH2Client(socket);
    await once(socket, "secureConnect");
    if (opts.preface !== false) socket.write(Buffer.concat([PREFACE, settings()]));
    return client;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Resolves when `pred` holds on what was received, or the connection closed, or `ms` passed (then false). */
  async until(pred: (ex: RawExchange) => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred(this.exchange)) {
      if (this.socket.destroyed && this.#buf.length === 0) return pred(this.exchange);
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  #onData(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      const f: ReceivedFrame = {
        type: this.#buf[3] ?? 0,
        flags: this.#buf[4] ?? 0,
        stream: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.#buf.subarray(9, 9 + len)),
      };
      this.#buf = this.#buf.subarray(9 + len);
      this.exchange.frames.push(f);
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) this.write(settings([], true));
    }
    this.#wake();
  }
}

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}
