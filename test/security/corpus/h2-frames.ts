/**
 * Frame-level attacks on the HBONE listener (15008), after a real mTLS handshake with a valid
 * workload certificate: what a compromised or buggy peer in the mesh can send. Expected outcomes
 * follow RFC 9113 (connection errors → GOAWAY, stream errors → RST_STREAM) as nghttp2 enforces them,
 * plus the HBONE server's own refusals (`:status 400` for anything but CONNECT).
 */
import {
  connectBlock,
  continuation,
  data,
  Flag,
  FrameType,
  frame,
  frameWithLength,
  goaway,
  headerBlock,
  headers,
  hpackInt,
  PREFACE,
  ping,
  priority,
  rstStream,
  settings,
  windowUpdate,
} from "../h2-wire.js";
import { type H2Case, type MeshAddresses, seededBytes } from "./types.js";

const SETTINGS_HEADER_TABLE_SIZE = 1;
const SETTINGS_ENABLE_PUSH = 2;
const SETTINGS_INITIAL_WINDOW_SIZE = 4;
const SETTINGS_MAX_FRAME_SIZE = 5;
const SETTINGS_ENABLE_CONNECT_PROTOCOL = 8;

const open = (m: MeshAddresses, stream = 1): Buffer => headers(stream, connectBlock(m.good));
const req = (fields: [string, string][], stream = 1): Buffer => headers(stream, headerBlock(fields));
const many = (n: number, f: (i: number) => Buffer): Buffer =>
  Buffer.concat(Array.from({ length: n }, (_, i) => f(i)));

export const H2_FRAME_CASES: readonly H2Case[] = [
  // ---------------------------------------------------------------- preface and SETTINGS
  {
    name: "HTTP/1.1 request instead of the client preface",
    target: "15008-h2",
    preface: false,
    input: () => Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "truncated preface followed by garbage",
    target: "15008-h2",
    preface: false,
    input: () => Buffer.concat([PREFACE.subarray(0, 10), seededBytes(1, 64)]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "random bytes instead of the preface",
    target: "15008-h2",
    preface: false,
    input: () => seededBytes(2, 4096),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "preface then PING before SETTINGS",
    target: "15008-h2",
    preface: false,
    input: () => Buffer.concat([PREFACE, ping()]),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "RFC 9113 §3.4: the preface must be followed by SETTINGS",
  },
  {
    name: "SETTINGS on stream 1",
    target: "15008-h2",
    input: () => frame(FrameType.SETTINGS, 0, 1),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "SETTINGS payload not a multiple of 6",
    target: "15008-h2",
    input: () => frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "SETTINGS ACK with a payload",
    target: "15008-h2",
    input: () => frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "SETTINGS_ENABLE_PUSH = 2",
    target: "15008-h2",
    input: () => settings([[SETTINGS_ENABLE_PUSH, 2]]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "SETTINGS_INITIAL_WINDOW_SIZE = 2^31",
    target: "15008-h2",
    input: () => settings([[SETTINGS_INITIAL_WINDOW_SIZE, 2 ** 31]]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "SETTINGS_MAX_FRAME_SIZE below 16384",
    target: "15008-h2",
    input: () => settings([[SETTINGS_MAX_FRAME_SIZE, 100]]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "SETTINGS_MAX_FRAME_SIZE above 2^24-1",
    target: "15008-h2",
    input: () => settings([[SETTINGS_MAX_FRAME_SIZE, 2 ** 24]]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "SETTINGS_ENABLE_CONNECT_PROTOCOL = 2",
    target: "15008-h2",
    input: () => settings([[SETTINGS_ENABLE_CONNECT_PROTOCOL, 2]]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "unknown setting identifier 0xffff is ignored",
    target: "15008-h2",
    input: () => settings([[0xffff, 12345]]),
    expect: { alive: true },
    why: "RFC 9113 §6.5.2: unknown settings MUST be ignored",
  },
  {
    name: "SETTINGS_HEADER_TABLE_SIZE = 2^32-1 is accepted",
    target: "15008-h2",
    input: () => settings([[SETTINGS_HEADER_TABLE_SIZE, 2 ** 32 - 1]]),
    expect: { alive: true },
  },
  {
    name: "one SETTINGS frame with 1,000 entries",
    target: "15008-h2",
    input: () => settings(Array.from({ length: 1000 }, (_, i) => [0x100 + i, i] as [number, number])),
    expect: { goaway: "ENHANCE_YOUR_CALM" },
    why: "nghttp2 caps entries per SETTINGS (CVE-2019-9515 class)",
  },
  {
    name: "SETTINGS flood: 20,000 frames in one write",
    target: "15008-h2",
    input: () => many(20_000, () => settings()),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "each SETTINGS owes an ACK; the ACK queue floods (CVE-2019-9515) and the session is destroyed",
  },
  // ---------------------------------------------------------------- PING
  {
    name: "PING of 7 bytes",
    target: "15008-h2",
    input: () => frame(FrameType.PING, 0, 0, Buffer.alloc(7)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "PING of 9 bytes",
    target: "15008-h2",
    input: () => frame(FrameType.PING, 0, 0, Buffer.alloc(9)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "PING on stream 1",
    target: "15008-h2",
    input: () => ping(Buffer.alloc(8), false, 1),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "unsolicited PING ACK",
    target: "15008-h2",
    input: () => ping(Buffer.from("unasked!"), true),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "node:http2 treats an unsolicited PING ACK as a connection error (stricter than RFC 9113 §6.7)",
  },
  {
    name: "PING flood: 20,000 PINGs in one write",
    target: "15008-h2",
    input: () => many(20_000, (i) => ping(Buffer.from(String(i).padStart(8, "0")))),
    expect: { closed: true },
    why: "CVE-2019-9512: the ACK queue floods; nghttp2 drops the connection",
  },
  // ---------------------------------------------------------------- WINDOW_UPDATE
  {
    name: "WINDOW_UPDATE of 0 on the connection",
    target: "15008-h2",
    input: () => windowUpdate(0, 0),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "WINDOW_UPDATE of 0 on an open stream",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), windowUpdate(1, 0)]),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "connection window overflow (increment 2^31-1)",
    target: "15008-h2",
    input: () => windowUpdate(0, 2 ** 31 - 1),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "stream window overflow (increment 2^31-1 on an open stream)",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), windowUpdate(1, 2 ** 31 - 1)]),
    expect: { rst: "FLOW_CONTROL_ERROR" },
  },
  {
    name: "WINDOW_UPDATE of 3 bytes",
    target: "15008-h2",
    input: () => frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "WINDOW_UPDATE on an idle stream",
    target: "15008-h2",
    input: () => windowUpdate(7, 100),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "WINDOW_UPDATE flood: 20,000 small increments",
    target: "15008-h2",
    input: () => many(20_000, () => windowUpdate(0, 1)),
    expect: { alive: true },
    why: "legal; nothing is owed in return, so nothing queues",
  },
  // ---------------------------------------------------------------- RST_STREAM and rapid reset
  {
    name: "RST_STREAM on stream 0",
    target: "15008-h2",
    input: () => rstStream(0, 8),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "RST_STREAM on an idle stream",
    target: "15008-h2",
    input: () => rstStream(5, 8),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "RST_STREAM of 3 bytes",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3))]),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "rapid reset: 2,000 CONNECT + RST_STREAM pairs (CVE-2023-44487)",
    target: "15008-h2",
    input: (m) => many(2_000, (i) => Buffer.concat([open(m, 2 * i + 1), rstStream(2 * i + 1, 8)])),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "node:http2 ends a session whose client resets streams faster than the limit (nghttp2 ≥ 1.57 reset rate)",
  },
  {
    name: "rapid reset with GET requests instead of CONNECT",
    target: "15008-h2",
    input: () =>
      many(2_000, (i) =>
        Buffer.concat([
          req(
            [
              [":method", "GET"],
              [":scheme", "https"],
              [":path", "/"],
              [":authority", "x"],
            ],
            2 * i + 1,
          ),
          rstStream(2 * i + 1, 8),
        ]),
      ),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  // ---------------------------------------------------------------- PRIORITY
  {
    name: "PRIORITY on stream 0",
    target: "15008-h2",
    input: () => priority(0, 1),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "PRIORITY self-dependency",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), priority(1, 1)]),
    expect: { goaway: "PROTOCOL_ERROR" },
    why: "nghttp2 treats self-dependency as a connection error",
  },
  {
    name: "PRIORITY of 4 bytes",
    target: "15008-h2",
    input: () => frame(FrameType.PRIORITY, 0, 3, Buffer.alloc(4)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "HEADERS whose priority depends on itself",
    target: "15008-h2",
    input: (m) => {
      const dep = Buffer.alloc(5);
      dep.writeUInt32BE(1, 0);
      dep[4] = 15;
      return frame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.PRIORITY,
        1,
        Buffer.concat([dep, connectBlock(m.good)]),
      );
    },
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "PRIORITY flood on 10,000 idle streams",
    target: "15008-h2",
    input: () => many(10_000, (i) => priority(2 * i + 3, 1)),
    expect: { alive: true },
    why: "legal; nghttp2 bounds the idle-stream priority tree it keeps (CVE-2019-9513)",
  },
  // ---------------------------------------------------------------- stream identifiers
  {
    name: "HEADERS on stream 0",
    target: "15008-h2",
    input: (m) => headers(0, connectBlock(m.good)),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "HEADERS on an even (server-initiated) stream",
    target: "15008-h2",
    input: (m) => headers(2, connectBlock(m.good)),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "stream id going backwards (3, then 1)",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m, 3), open(m, 1)]),
    expect: { status: 200 },
    why: "stream 1 is implicitly closed once 3 opens; nghttp2 ignores the late HEADERS and serves stream 3",
  },
  {
    name: "HEADERS on a stream the client already reset",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m, 1), rstStream(1, 8), open(m, 1)]),
    expect: { alive: true },
    why: "nghttp2 ignores frames on a stream it saw closed recently (RFC 9113 §5.1 allows it)",
  },
  {
    name: "stream id 2^31-1 is legal (the last one)",
    target: "15008-h2",
    input: (m) => open(m, 2 ** 31 - 1),
    expect: { status: 200 },
  },
  {
    name: "DATA on stream 0",
    target: "15008-h2",
    input: () => data(0, Buffer.from("x")),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "DATA on an idle stream",
    target: "15008-h2",
    input: () => data(9, Buffer.from("x")),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "PUSH_PROMISE from the client",
    target: "15008-h2",
    input: () => frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.alloc(4)),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "100 CONNECTs at once (the stream limit) to a forbidden target",
    target: "15008-h2",
    input: (m) => many(100, (i) => headers(2 * i + 1, connectBlock(`${m.nodeIp}:${m.nodeAdminPort}`))),
    expect: { status: 403 },
  },
  // ---------------------------------------------------------------- sizes
  {
    name: "a frame announcing 16 MiB (over SETTINGS_MAX_FRAME_SIZE)",
    target: "15008-h2",
    input: () => frameWithLength(FrameType.DATA, 0, 1, 2 ** 24 - 1, Buffer.alloc(16)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "HEADERS frame over SETTINGS_MAX_FRAME_SIZE",
    target: "15008-h2",
    input: () => frameWithLength(FrameType.HEADERS, Flag.END_HEADERS, 1, 2 ** 24 - 1, Buffer.alloc(16)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "one 100 KiB header field",
    target: "15008-h2",
    input: (m) => headers(1, connectBlock(m.good, [["baggage", "x".repeat(100 * 1024)]])),
    expect: { goaway: "COMPRESSION_ERROR" },
    why: "one field over nghttp2's 64 KiB field bound fails HPACK decoding: a connection error",
  },
  {
    name: "header list over 64 KiB (ten 8 KiB fields)",
    target: "15008-h2",
    input: (m) =>
      headers(
        1,
        connectBlock(
          m.good,
          Array.from({ length: 10 }, (_, i) => [`x-big${i}`, "z".repeat(8192)] as [string, string]),
        ),
      ),
    expect: { rst: "ENHANCE_YOUR_CALM" },
    why: "over SETTINGS_MAX_HEADER_LIST_SIZE: refused before authorization",
  },
  {
    name: "200 header fields (over the 64-pair limit)",
    target: "15008-h2",
    input: (m) =>
      headers(
        1,
        connectBlock(
          m.good,
          Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "v"] as [string, string]),
        ),
      ),
    expect: { rst: "ENHANCE_YOUR_CALM" },
  },
  {
    name: "CONTINUATION flood: 10,000 frames of 1 KiB headers (CVE-2024-27983 class)",
    target: "15008-h2",
    input: (m) =>
      Buffer.concat([
        headers(1, connectBlock(m.good), { endHeaders: false }),
        many(10_000, (i) => continuation(1, headerBlock([[`x-c${i}`, "y".repeat(1000)]]), false)),
      ]),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "the header block passes the session memory cap; node:http2 destroys the session",
  },
  {
    name: "CONTINUATION flood: 100,000 empty frames",
    target: "15008-h2",
    input: (m) =>
      Buffer.concat([
        headers(1, connectBlock(m.good), { endHeaders: false }),
        many(100_000, () => continuation(1, Buffer.alloc(0), false)),
      ]),
    expect: { goaway: "INTERNAL_ERROR" },
    why: "nghttp2 caps CONTINUATION frames per header block (CVE-2024-28182)",
  },
  {
    name: "HEADERS without END_HEADERS, then DATA",
    target: "15008-h2",
    input: (m) =>
      Buffer.concat([headers(1, connectBlock(m.good), { endHeaders: false }), data(1, Buffer.from("x"))]),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "HEADERS without END_HEADERS, then CONTINUATION on another stream",
    target: "15008-h2",
    input: (m) =>
      Buffer.concat([
        headers(1, connectBlock(m.good), { endHeaders: false }),
        continuation(3, Buffer.alloc(0), true),
      ]),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "CONTINUATION without a HEADERS",
    target: "15008-h2",
    input: () => continuation(1, Buffer.alloc(0), true),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "HEADERS with a pad length beyond the payload",
    target: "15008-h2",
    input: () => frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.from([200, 0x82])),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  // ---------------------------------------------------------------- HPACK
  {
    name: "HPACK indexed field 0",
    target: "15008-h2",
    input: () => headers(1, Buffer.from([0x80])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "HPACK index beyond the tables",
    target: "15008-h2",
    input: () => headers(1, Buffer.concat([hpackInt(5000, 7, 0x80)])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "HPACK string longer than the block",
    target: "15008-h2",
    input: () => headers(1, Buffer.from([0x00, 0x7f, 0x20, 0x61])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "HPACK integer overflow (10 continuation bytes)",
    target: "15008-h2",
    input: () => headers(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "HPACK dynamic table size update above the advertised size",
    target: "15008-h2",
    input: (m) => headers(1, Buffer.concat([hpackInt(1 << 20, 5, 0x20), connectBlock(m.good)])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "HPACK invalid Huffman code (EOS in a string)",
    target: "15008-h2",
    input: () => headers(1, Buffer.from([0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x81, 0x61])),
    expect: { goaway: "COMPRESSION_ERROR" },
  },
  {
    name: "an empty header block",
    target: "15008-h2",
    input: () => headers(1, Buffer.alloc(0)),
    expect: { rst: "PROTOCOL_ERROR" },
  },
  // ---------------------------------------------------------------- other frames
  {
    name: "unknown frame type 0xfa is ignored",
    target: "15008-h2",
    input: () => frame(0xfa, 0xff, 0, seededBytes(3, 100)),
    expect: { alive: true },
    why: "RFC 9113 §4.1: unknown frame types MUST be ignored",
  },
  {
    name: "unknown frame type on a stream, 16 KiB payload",
    target: "15008-h2",
    input: () => frame(0x20, 0, 11, seededBytes(4, 16 * 1024)),
    expect: { alive: true },
  },
  {
    name: "GOAWAY of 4 bytes",
    target: "15008-h2",
    input: () => frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(4)),
    expect: { goaway: "FRAME_SIZE_ERROR" },
  },
  {
    name: "GOAWAY on stream 1",
    target: "15008-h2",
    input: () => frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8)),
    expect: { goaway: "INTERNAL_ERROR" },
  },
  {
    name: "client GOAWAY with an unknown error code and 1 KiB of debug data",
    target: "15008-h2",
    input: () => goaway(0, 0xdeadbeef, seededBytes(5, 1024)),
    expect: { goaway: "NO_ERROR" },
    why: "the server ends the session gracefully in return",
  },
  {
    name: "DATA with a pad length beyond the payload",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([10, 0x61]))]),
    expect: { goaway: "PROTOCOL_ERROR" },
  },
  {
    name: "DATA after END_STREAM",
    target: "15008-h2",
    input: (m) => Buffer.concat([open(m), data(1, Buffer.from("a"), true), data(1, Buffer.from("b"))]),
    expect: { goaway: "STREAM_CLOSED" },
  },
];
