import assert from "node:assert/strict";
import { test } from "node:test";
import { classify } from "./tcp-proxy.js";

test("classify: protocol detection on the first bytes", () => {
  const cases: [string, boolean, ReturnType<typeof classify>][] = [
    ["GET / HTTP/1.1\r\n", false, "http1"],
    ["POST /a?b=c HTTP/1.0\r\nHost: x\r\n", false, "http1"],
    ["M-SEARCH * HTTP/1.1\n", false, "http1"],
    // Not yet decidable: could still become a request line.
    ["GET /pa", false, undefined],
    ["GE", false, undefined],
    // The stream ended before a full line: opaque.
    ["GET /pa", true, "tcp"],
    // Lower case, binary, TLS ClientHello: opaque at once.
    ["hello", false, "tcp"],
    ["\x16\x03\x01\x02\x00", false, "tcp"],
    // HTTP/2 prior knowledge: the whole 24-byte preface decides; a part of it waits; anything else is opaque.
    ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, "http2"],
    ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04", false, "http2"],
    ["PRI * HTTP/2.0\r\n", false, undefined],
    ["PRI * HTTP/2.0\r\n", true, "tcp"],
    ["PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", false, "tcp"],
    // Malformed but unmistakably HTTP/1: the parser answers 400 instead of relaying bytes.
    ["GET / HTTP/1.1 extra\r\n", false, "http1"],
    ["GET  / HTTP/1.1\r\n", false, "http1"],
    ["G(ET / HTTP/1.1\r\n", false, "http1"],
    ["GET / HTTP/1.2\r\n", false, "http1"],
    // HTTP/0.9 and text protocols without an HTTP version stay opaque.
    ["GET /\r\n", false, "tcp"],
    ["PING\r\n", false, "tcp"],
  ];
  for (const [input, ended, want] of cases) {
    assert.equal(classify(Buffer.from(input, "latin1"), ended), want, JSON.stringify(input));
  }
});

test("classify: a line longer than the sniff limit without a newline is opaque", () => {
  const long = Buffer.from(`GET /${"a".repeat(9000)}`, "latin1");
  assert.equal(classify(long, false), "tcp");
});
