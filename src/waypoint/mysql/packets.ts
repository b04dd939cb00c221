/**
 * MySQL packet framing (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html):
 * every packet is a 3-byte little-endian payload length, a 1-byte sequence id, then the payload. A
 * payload of 2^24-1 bytes or more is split into frames of exactly 0xFFFFFF bytes followed by a shorter
 * one (possibly empty); the frames together are one logical packet.
 *
 * Two readers: `PacketFramer` buffers whole logical packets (the client side, whose commands must be
 * read before they are judged) under a size limit; `PacketScanner` keeps only the first bytes of each
 * logical packet (the server side, relayed byte for byte, where only headers decide when a response ends).
 */
import { MysqlError, MysqlErrorCode } from "./errors.js";

export const MAX_FRAME_PAYLOAD = 0xffffff;
const HEADER_BYTES = 4;

/** Capability flags this relay reads or changes (mysql_com.h). */
export const Capability = {
  CONNECT_WITH_DB: 0x8,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  MULTI_STATEMENTS: 0x1_0000,
  DEPRECATE_EOF: 0x100_0000,
} as const;

/** Server status flags carried in OK and EOF packets. */
export const ServerStatus = {
  CURSOR_EXISTS: 0x40,
  MORE_RESULTS_EXISTS: 0x8,
} as const;

/** One logical packet as the client sent it. */
export interface Packet {
  /** Sequence id of the first frame. */
  readonly seq: number;
  /** Sequence id of the last frame (differs from `seq` only for packets of 16 MiB or more). */
  readonly lastSeq: number;
  readonly payload: Buffer;
  /** The frames exactly as received, to forward without re-encoding. */
  readonly raw: Buffer;
}

/** What `PacketScanner` reports: the start of a logical packet and its total length. */
export interface PacketHead {
  readonly seq: number;
  /** Total payload length over all frames. */
  readonly length: number;
  /** The first `min(length, headBytes)` payload bytes. */
  readonly head: Buffer;
}

export interface PacketFramerOptions {
  /** Largest logical payload accepted; larger fails with WP_ERR_MYSQL_PACKET_TOO_LARGE. */
  maxPacketBytes: number;
}

/** Buffers bytes and yields whole logical packets; throws MysqlError on an oversize packet. */
export class PacketFramer {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  // Frames of the logical packet being assembled (continuation chain).
  #frames: Buffer[] = [];
  #rawFrames: Buffer[] = [];
  #frameBytes = 0;
  #firstSeq = -1;

  constructor(options: PacketFramerOptions) {
    this.#max = options.maxPacketBytes;
  }

  /** Bytes received but not yet part of a yielded packet. */
  get bufferedBytes(): number {
    return this.#buffered + this.#frameBytes;
  }

  /** Hands back the bytes not yet framed (when the reader switches to another mode). */
  drain(): Buffer {
    const rest = Buffer.concat([...this.#rawFrames, ...this.#chunks]);
    this.#chunks = [];
    this.#buffered = 0;
    this.#frames = [];
    this.#rawFrames = [];
    this.#frameBytes = 0;
    this.#firstSeq = -1;
    return rest;
  }

  push(chunk: Buffer): Packet[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: Packet[] = [];
    for (;;) {
      if (this.#buffered < HEADER_BYTES) return out;
      const header = this.#peek(HEADER_BYTES);
      const length = header.readUIntLE(0, 3);
      const seq = header[3] ?? 0;
      if (this.#frameBytes + length > this.#max) {
        throw new MysqlError(
          MysqlErrorCode.PACKET_TOO_LARGE,
          `a packet of ${this.#frameBytes + length} bytes or more exceeds the relay's limit of ${this.#max} bytes; raise maxPacketBytes if the application really sends such statements`,
        );
      }
      if (this.#buffered < HEADER_BYTES + length) return out;
      const raw = this.#take(HEADER_BYTES + length);
      if (this.#firstSeq === -1) this.#firstSeq = seq;
      this.#frames.push(raw.subarray(HEADER_BYTES));
      this.#rawFrames.push(raw);
      this.#frameBytes += length;
      if (length === MAX_FRAME_PAYLOAD) continue;
      const payload = this.#frames.length === 1 ? (this.#frames[0] as Buffer) : Buffer.concat(this.#frames);
      const rawAll = this.#rawFrames.length === 1 ? raw : Buffer.concat(this.#rawFrames);
      out.push({ seq: this.#firstSeq, lastSeq: seq, payload, raw: rawAll });
      this.#frames = [];
      this.#rawFrames = [];
      this.#frameBytes = 0;
      this.#firstSeq = -1;
    }
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#chunks).subarray(0, n);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#buffered -= n;
    return out;
  }
}

/**
 * Follows a byte stream it does not keep: reports each logical packet's sequence id, length and first
 * `headBytes` bytes once the packet has fully passed. Memory stays O(headBytes) whatever the row sizes.
 */
export class PacketScanner {
  readonly #headBytes: number;
  #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #remaining = 0;
  #frameLength = 0;
  #inPayload = false;
  #seq = -1;
  #length = 0;
  #head: Buffer[] = [];
  #headFill = 0;

  constructor(headBytes = 64) {
    this.#headBytes = headBytes;
  }

  push(chunk: Buffer): PacketHead[] {
    const out: PacketHead[] = [];
    let i = 0;
    while (i < chunk.length || (this.#inPayload && this.#remaining === 0)) {
      if (!this.#inPayload) {
        const n = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - i);
        chunk.copy(this.#header, this.#headerFill, i, i + n);
        this.#headerFill += n;
        i += n;
        if (this.#headerFill < HEADER_BYTES) break;
        this.#headerFill = 0;
        this.#frameLength = this.#header.readUIntLE(0, 3);
        this.#remaining = this.#frameLength;
        if (this.#seq === -1) this.#seq = this.#header[3] ?? 0;
        this.#inPayload = true;
        continue;
      }
      const n = Math.min(this.#remaining, chunk.length - i);
      const want = Math.min(n, this.#headBytes - this.#headFill);
      if (want > 0) {
        this.#head.push(Buffer.from(chunk.subarray(i, i + want)));
        this.#headFill += want;
      }
      i += n;
      this.#remaining -= n;
      this.#length += n;
      if (this.#remaining > 0) break;
      this.#inPayload = false;
      if (this.#frameLength === MAX_FRAME_PAYLOAD) continue;
      out.push({ seq: this.#seq, length: this.#length, head: Buffer.concat(this.#head) });
      this.#seq = -1;
      this.#length = 0;
      this.#head = [];
      this.#headFill = 0;
    }
    return out;
  }
}

/** Frames `payload` as one logical packet starting at sequence id `seq`. */
export function encodePacket(payload: Buffer, seq: number): Buffer {
  const frames: Buffer[] = [];
  let off = 0;
  let s = seq & 0xff;
  for (;;) {
    const len = Math.min(MAX_FRAME_PAYLOAD, payload.length - off);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUIntLE(len, 0, 3);
    header[3] = s;
    frames.push(header, payload.subarray(off, off + len));
    off += len;
    s = (s + 1) & 0xff;
    if (len < MAX_FRAME_PAYLOAD) break;
  }
  return Buffer.concat(frames);
}

/** An ERR packet (protocol 4.1 form, with the `#` SQLSTATE marker) at sequence id `seq`. */
export function errPacket(seq: number, code: number, sqlState: string, message: string): Buffer {
  const msg = Buffer.from(message, "utf8");
  const payload = Buffer.alloc(1 + 2 + 1 + 5 + msg.length);
  payload[0] = 0xff;
  payload.writeUInt16LE(code, 1);
  payload.write("#", 3, "latin1");
  payload.write(sqlState.padEnd(5, "0").slice(0, 5), 4, "latin1");
  msg.copy(payload, 9);
  return encodePacket(payload, seq);
}

/** An OK packet with no affected rows, at sequence id `seq`. */
export function okPacket(seq: number, status = 0x2): Buffer {
  const payload = Buffer.from([0x00, 0x00, 0x00, status & 0xff, (status >> 8) & 0xff, 0x00, 0x00]);
  return encodePacket(payload, seq);
}

/** A length-encoded integer at `off`: the value and the offset after it, or null when truncated or invalid. */
export function readLenEnc(buf: Buffer, off: number): { value: number; next: number } | null {
  const first = buf[off];
  if (first === undefined) return null;
  if (first < 0xfb) return { value: first, next: off + 1 };
  if (first === 0xfc)
    return off + 3 <= buf.length ? { value: buf.readUInt16LE(off + 1), next: off + 3 } : null;
  if (first === 0xfd)
    return off + 4 <= buf.length ? { value: buf.readUIntLE(off + 1, 3), next: off + 4 } : null;
  if (first === 0xfe) {
    if (off + 9 > buf.length) return null;
    const v = buf.readBigUInt64LE(off + 1);
    return {
      value: v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v),
      next: off + 9,
    };
  }
  return null;
}

/** The server status flags of an OK packet (header 0x00 or 0xFE), or 0 when the head is too short. */
export function okStatus(head: Buffer): number {
  const rows = readLenEnc(head, 1);
  if (rows === null) return 0;
  const id = readLenEnc(head, rows.next);
  if (id === null || id.next + 2 > head.length) return 0;
  return head.readUInt16LE(id.next);
}

/** The server status flags of a classic EOF packet (0xFE, warnings u16, status u16). */
export function eofStatus(head: Buffer): number {
  return head.length >= 5 ? head.readUInt16LE(3) : 0;
}

/** Error code and message of an ERR packet, for logs and tests. */
export function parseErr(payload: Buffer): { code: number; sqlState: string; message: string } | null {
  if (payload[0] !== 0xff || payload.length < 3) return null;
  const code = payload.readUInt16LE(1);
  if (payload[3] === 0x23 && payload.length >= 9) {
    return { code, sqlState: payload.toString("latin1", 4, 9), message: payload.toString("utf8", 9) };
  }
  return { code, sqlState: "HY000", message: payload.toString("utf8", 3) };
}
