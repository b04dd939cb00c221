import { IdentityError } from "./errors.js";

/**
 * A minimal DER (X.690) encoder and reader: just what X.509 certificates and PKCS#10 requests need.
 * ambit builds certificates from pre-encoded templates with these functions instead of a general ASN.1
 * library, which signs only ~100–160 certificates/s on the project's machines (PLATFORM-NOTES.md).
 */

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Encoder

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV with the given identifier octet. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const length = content.length;
  if (length < 0x80) {
    const out = Buffer.allocUnsafe(2 + length);
    out[0] = tag;
    out[1] = length;
    out.set(content, 2);
    return out;
  }
  const header = encodeLength(length);
  const out = Buffer.allocUnsafe(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  out.set(content, 1 + header.length);
  return out;
}

export function sequence(...children: Uint8Array[]): Buffer {
  return tlv(Tag.SEQUENCE, Buffer.concat(children));
}

/** A SET OF; DER requires the encodings sorted in ascending byte order. */
export function set(...children: Uint8Array[]): Buffer {
  const sorted = [...children].sort((a, b) => Buffer.compare(a, b));
  return tlv(Tag.SET, Buffer.concat(sorted));
}

/** A non-negative INTEGER from its big-endian magnitude (leading zeros stripped, a 0x00 added if needed). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return tlv(Tag.INTEGER, Buffer.from([0]));
  if ((trimmed[0] as number) & 0x80) return tlv(Tag.INTEGER, Buffer.concat([Buffer.from([0]), trimmed]));
  return tlv(Tag.INTEGER, trimmed);
}

export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`smallInteger takes a non-negative safe integer, got ${value}`);
  }
  const bytes: number[] = [];
  let n = value;
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return unsignedInteger(Uint8Array.from(bytes));
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return Buffer.from([Tag.NULL, 0]);
}

/** An OBJECT IDENTIFIER from dotted notation, e.g. "2.5.29.17". */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID arc "${s}" in "${dotted}"`);
    return Number(s);
  });
  const first = arcs[0];
  const second = arcs[1];
  if (arcs.length < 2 || first === undefined || second === undefined || first > 2) {
    throw new RangeError(`bad OID "${dotted}": needs at least two arcs, the first 0, 1 or 2`);
  }
  const bytes: number[] = [];
  const pushArc = (arc: number): void => {
    const groups: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift(0x80 | (n & 0x7f));
    bytes.push(...groups);
  };
  pushArc(first * 40 + second);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return tlv(Tag.OID, Uint8Array.from(bytes));
}

/** A BIT STRING whose content is whole bytes (unused bits = 0 unless given). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  const content = Buffer.allocUnsafe(bytes.length + 1);
  content[0] = unusedBits;
  content.set(bytes, 1);
  return tlv(Tag.BIT_STRING, content);
}

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte. DER drops trailing
 * zero bits, and says how many bits of the last byte are unused.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.OCTET_STRING, bytes);
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.UTF8_STRING, Buffer.from(value, "utf8"));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** PrintableString when the value allows it (as Go's encoding/asn1 chooses), else UTF8String. */
export function directoryString(value: string): Buffer {
  return PRINTABLE.test(value) ? tlv(Tag.PRINTABLE_STRING, Buffer.from(value, "latin1")) : utf8String(value);
}

export function ia5String(value: string): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is 7-bit ASCII, control characters included
  if (!/^[\x00-\x7f]*$/.test(value))
    throw new RangeError(`IA5String takes ASCII only, got ${JSON.stringify(value)}`);
  return tlv(Tag.IA5_STRING, Buffer.from(value, "latin1"));
}

/** Context-specific tag [n]; constructed for EXPLICIT tagging or IMPLICIT tagging of a constructed type. */
export function contextTag(tagNumber: number, content: Uint8Array, constructed: boolean): Buffer {
  if (tagNumber > 30) throw new RangeError(`context tag [${tagNumber}] needs the long form, not supported`);
  return tlv(0x80 | (constructed ? 0x20 : 0) | tagNumber, content);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * RFC 5280 §4.1.2.5: validity dates through 2049 MUST be UTCTime, 2050 and later GeneralizedTime, both in
 * UTC with seconds and no fractions.
 */
export function time(date: Date): Buffer {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError("time() got an invalid Date");
  const y = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    "Z";
  if (y >= 1950 && y < 2050) return tlv(Tag.UTC_TIME, Buffer.from(pad2(y % 100) + rest, "latin1"));
  if (y < 0 || y > 9999) throw new RangeError(`year ${y} cannot be encoded as an ASN.1 time`);
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, "0") + rest, "latin1"));
}

// ---------------------------------------------------------------------------------------------------------
// Reader

/** One decoded TLV. `value` is the content; `raw` the whole encoding (header included), both views. */
export interface DerNode {
  readonly tag: number;
  readonly value: Buffer;
  readonly raw: Buffer;
}

function malformed(what: string): IdentityError {
  return new IdentityError("ID_ERR_BAD_DER", `malformed DER: ${what}`);
}

/** Reads one TLV at `offset`. Only single-byte tags and definite lengths (all DER allows for X.509). */
export function readNode(buf: Buffer, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw malformed(`truncated header at byte ${offset}`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw malformed(`multi-byte tag at byte ${offset}`);
  let length = buf[offset + 1] as number;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw malformed(`indefinite length at byte ${offset} (not DER)`);
    if (count > 4) throw malformed(`length of ${count} bytes at byte ${offset}`);
    if (offset + 2 + count > buf.length) throw malformed(`truncated length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
    if (length < 0x80 || (count > 1 && buf[offset + 2] === 0)) {
      throw malformed(`non-minimal length at byte ${offset}`);
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw malformed(`content of ${length} bytes at byte ${offset} runs past the end`);
  return { tag, value: buf.subarray(offset + header, end), raw: buf.subarray(offset, end) };
}

/** Reads a buffer that must hold exactly one TLV. */
export function readSingle(buf: Buffer): DerNode {
  const node = readNode(buf, 0);
  if (node.raw.length !== buf.length) throw malformed(`${buf.length - node.raw.length} trailing bytes`);
  return node;
}

/** The children of a constructed node's content. */
export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let offset = 0;
  while (offset < node.value.length) {
    const child = readNode(node.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

/** Reads a constructed node of the expected tag and returns its children. */
export function expectChildren(node: DerNode | undefined, tag: number, what: string): DerNode[] {
  return children(expect(node, tag, what));
}

export function expect(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined) throw malformed(`${what} is missing`);
  if (node.tag !== tag) {
    throw malformed(`${what} has tag 0x${node.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  return node;
}

export function decodeOid(node: DerNode): string {
  if (node.tag !== Tag.OID || node.value.length === 0) throw malformed("expected an OBJECT IDENTIFIER");
  const arcs: number[] = [];
  let acc = 0;
  for (const byte of node.value) {
    acc = acc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(acc);
      acc = 0;
    }
  }
  if ((node.value[node.value.length - 1] as number) & 0x80) throw malformed("truncated OID arc");
  const first = arcs[0] as number;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** The bytes of a BIT STRING whose bit count is a multiple of 8 (keys, signatures). */
export function bitStringBytes(node: DerNode): Buffer {
  if (node.tag !== Tag.BIT_STRING || node.value.length === 0) throw malformed("expected a BIT STRING");
  if (node.value[0] !== 0) throw malformed("BIT STRING with unused bits where whole bytes are expected");
  return node.value.subarray(1);
}

/** Decodes a UTCTime or GeneralizedTime of the RFC 5280 profile (`…Z`, seconds, no fractions). */
export function decodeTime(node: DerNode): Date {
  const s = node.value.toString("latin1");
  let year: number;
  let rest: string;
  if (node.tag === Tag.UTC_TIME && /^\d{12}Z$/.test(s)) {
    const yy = Number(s.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = s.slice(2);
  } else if (node.tag === Tag.GENERALIZED_TIME && /^\d{14}Z$/.test(s)) {
    year = Number(s.slice(0, 4));
    rest = s.slice(4);
  } else {
    throw malformed(`time value ${JSON.stringify(s)} is not RFC 5280 UTCTime/GeneralizedTime`);
  }
  const field = (i: number): number => Number(rest.slice(i, i + 2));
  return new Date(Date.UTC(year, field(0) - 1, field(2), field(4), field(6), field(8)));
}
