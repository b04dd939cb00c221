/**
 * Garbage on the capture listeners (15001 outbound, 15006 inbound plaintext) and raw bytes instead
 * of a ClientHello on 15008. ztunnel never parses captured bytes: on 15001 whatever arrives is
 * forwarded as opaque TCP to the original destination (through HBONE when it is a mesh workload);
 * on 15006 it is forwarded or, when policy refuses plaintext, the connection is closed before a
 * byte goes anywhere. On 15008 anything but a TLS 1.3 ClientHello ends the connection.
 */
import { seededBytes } from "./types.js";

export type PortOutcome =
  /** The echo pod received exactly the input and its reply came back (`input` + `<EOF SEEN>`). */
  | { readonly forwarded: true }
  /** Closed without a byte forwarded or answered. */
  | { readonly closed: "silent" }
  /** Closed after a TLS alert record (15008: OpenSSL names what it disliked). */
  | { readonly closed: "alert" }
  /** The client reset the connection itself; asserted: nothing else broke, nothing leaked. */
  | { readonly reset: true };

export type PortTarget = "15001" | "15006" | "15008-raw";

export interface PortCase {
  readonly name: string;
  readonly target: PortTarget;
  /** Where the captured connection was going (15001 / 15006); 15008 is dialled at the server pod. */
  readonly to?: "server" | "strict" | "outsider" | "permissive";
  readonly input: () => Buffer;
  /** After writing: half-close and read the answer (default), or reset at once. */
  readonly after?: "end" | "reset";
  readonly expect: PortOutcome;
  /** 15008: the ztunnel's inbound handshake-error counter rises by one with this code. */
  readonly counted?: "HBONE_ERR_HANDSHAKE";
  readonly why?: string;
}

/** A TLS 1.3 ClientHello as Node sends it (captured once from a real handshake), for truncation. */
export function clientHelloLike(): Buffer {
  // Record header (handshake, TLS 1.0 legacy version, length) + ClientHello header + random +
  // session id + one cipher suite + compression + a supported_versions extension (TLS 1.3).
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    seededBytes(7, 32),
    Buffer.from([0x20]),
    seededBytes(8, 32),
    Buffer.from([0x00, 0x02, 0x13, 0x01, 0x01, 0x00]),
    Buffer.from([0x00, 0x07, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, hs.length >> 8, hs.length & 0xff]), hs]);
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const MIB = 1024 * 1024;

/** The same opaque payloads on both capture ports. */
function payloads(): Array<{ name: string; input: () => Buffer }> {
  return [
    { name: "one random byte", input: () => seededBytes(1, 1) },
    { name: "64 KiB of random bytes", input: () => seededBytes(2, 64 * 1024) },
    { name: "a huge write (4 MiB random)", input: () => seededBytes(3, 4 * MIB) },
    { name: "half a TLS ClientHello", input: () => clientHelloLike().subarray(0, 40) },
    { name: "a whole TLS ClientHello (not terminated: opaque)", input: clientHelloLike },
    {
      name: "the HTTP/2 preface and a SETTINGS frame",
      input: () => Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]),
    },
    {
      name: "an HBONE CONNECT in cleartext",
      input: () => Buffer.from("CONNECT 10.0.0.1:80 HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n"),
    },
    {
      name: "a PROXY protocol v1 header (never interpreted)",
      input: () => Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhi"),
    },
    {
      name: "a PROXY protocol v2 header (never interpreted)",
      input: () =>
        Buffer.concat([Buffer.from("0d0a0d0a000d0a515549540a2111000c", "hex"), seededBytes(4, 12)]),
    },
    { name: "a SOCKS5 greeting", input: () => Buffer.from([5, 1, 0]) },
    { name: "NUL bytes and CR LF", input: () => Buffer.from("\0\0\r\n\r\n\0", "latin1") },
    {
      name: "an HTTP/1.1 request with smuggling headers",
      input: () =>
        Buffer.from(
          "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        ),
    },
  ];
}

const OUTBOUND: PortCase[] = [
  ...payloads().map(
    (p): PortCase => ({
      name: p.name,
      target: "15001",
      to: "server",
      input: p.input,
      expect: { forwarded: true },
    }),
  ),
  {
    name: "random bytes, then an immediate RST",
    target: "15001",
    to: "server",
    input: () => seededBytes(5, 8 * 1024),
    after: "reset",
    expect: { reset: true },
  },
  {
    name: "connect and RST, no byte",
    target: "15001",
    to: "server",
    input: () => Buffer.alloc(0),
    after: "reset",
    expect: { reset: true },
  },
  {
    name: "captured towards an address outside the mesh where nothing listens",
    target: "15001",
    to: "outsider",
    input: () => seededBytes(6, 512),
    expect: { closed: "silent" },
    why: "passthrough: the upstream connect is refused, so the client's connection is closed",
  },
];

const INBOUND_PLAINTEXT: PortCase[] = [
  ...payloads().map(
    (p): PortCase => ({
      name: `${p.name}, to a workload whose ALLOW policy needs a principal`,
      target: "15006",
      to: "server",
      input: p.input,
      expect: { closed: "silent" },
      why: "plaintext has no peer identity, so the only-client ALLOW policy does not match: denied",
    }),
  ),
  ...payloads()
    .filter((p) => /random|preface|ClientHello/.test(p.name))
    .map(
      (p): PortCase => ({
        name: `${p.name}, to a PERMISSIVE workload without policy`,
        target: "15006",
        to: "permissive",
        input: p.input,
        expect: { forwarded: true },
      }),
    ),
  {
    name: "random bytes to a STRICT workload",
    target: "15006",
    to: "strict",
    input: () => seededBytes(9, 4096),
    expect: { closed: "silent" },
  },
  {
    name: "random bytes, then an immediate RST",
    target: "15006",
    to: "server",
    input: () => seededBytes(10, 8 * 1024),
    after: "reset",
    expect: { reset: true },
  },
];

const RAW_15008: PortCase[] = [
  {
    name: "random bytes instead of a ClientHello",
    target: "15008-raw",
    input: () => seededBytes(11, 4096),
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "half a ClientHello, then FIN",
    target: "15008-raw",
    input: () => clientHelloLike().subarray(0, 40),
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "a truncated ClientHello record (header promises more), then FIN",
    target: "15008-raw",
    input: () => clientHelloLike().subarray(0, 5),
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "a garbage ClientHello body in a valid record header",
    target: "15008-raw",
    input: () => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), seededBytes(12, 64)]),
    expect: { closed: "alert" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "a TLS record claiming 16 MiB",
    target: "15008-raw",
    input: () => Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]),
    expect: { closed: "alert" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "the HTTP/2 preface in cleartext",
    target: "15008-raw",
    input: () => H2_PREFACE,
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "an HTTP/1.1 CONNECT in cleartext",
    target: "15008-raw",
    input: () => Buffer.from("CONNECT 127.0.0.20:80 HTTP/1.1\r\n\r\n"),
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "an SSLv2-style ClientHello",
    target: "15008-raw",
    input: () => Buffer.from("802e010002001500000010010080030080070000060000040000050000020000", "hex"),
    expect: { closed: "silent" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "connect and RST, no byte",
    target: "15008-raw",
    input: () => Buffer.alloc(0),
    after: "reset",
    expect: { reset: true },
  },
];

export const PORT_CASES: readonly PortCase[] = [...OUTBOUND, ...INBOUND_PLAINTEXT, ...RAW_15008];
