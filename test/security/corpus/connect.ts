/**
 * CONNECT requests on the HBONE listener (15008): malformed request headers (RFC 9113 §8.3, §8.5)
 * and hostile targets. ztunnel is never an open relay: a CONNECT may only lead to the workload
 * whose address the client dialled, on this node, enrolled, on a port other than 15008
 * (Istio ambient, `docs/ztunnel.md`). Each case opens a fresh TLS connection to the server pod's
 * address, so the target it names is judged against that one workload.
 */
import { headerBlock, headers } from "../h2-wire.js";
import type { H2Case, H2Outcome, MeshAddresses } from "./types.js";

const one = (fields: [string, string][]): ((m: MeshAddresses) => Buffer) => {
  return () => headers(1, headerBlock(fields));
};
const withGood = (f: (m: MeshAddresses) => [string, string][]): ((m: MeshAddresses) => Buffer) => {
  return (m) => headers(1, headerBlock(f(m)));
};
const connectTo = (authority: (m: MeshAddresses) => string, extra: [string, string][] = []) =>
  withGood((m) => [[":method", "CONNECT"], [":authority", authority(m)], ...extra]);

const FORBIDDEN: H2Outcome = { status: 403 };
const MALFORMED: H2Outcome = { status: 400 };
const PROTOCOL: H2Outcome = { rst: "PROTOCOL_ERROR" };

function target(
  name: string,
  authority: (m: MeshAddresses) => string,
  expect: H2Outcome,
  why?: string,
): H2Case {
  return {
    name: `CONNECT ${name}`,
    target: "15008-connect",
    input: connectTo(authority),
    expect,
    ...(why !== undefined ? { why } : {}),
  };
}

export const CONNECT_CASES: readonly H2Case[] = [
  // ---------------------------------------------------------------- the control
  target("to the dialled pod's port (honest)", (m) => m.good, { status: 200 }),
  // ---------------------------------------------------------------- SSRF-style targets
  target("to 127.0.0.1 (node loopback)", (m) => `127.0.0.1:${m.echoPort}`, FORBIDDEN),
  target("to 127.0.0.1:22", () => "127.0.0.1:22", FORBIDDEN),
  target("to 0.0.0.0", (m) => `0.0.0.0:${m.echoPort}`, FORBIDDEN),
  target("to 169.254.169.254:80 (cloud metadata)", () => "169.254.169.254:80", FORBIDDEN),
  target("to 169.254.0.1 (link-local)", () => "169.254.0.1:80", FORBIDDEN),
  target("to [::1] (IPv6 loopback)", (m) => `[::1]:${m.echoPort}`, FORBIDDEN),
  target("to [::] (IPv6 unspecified)", () => "[::]:80", FORBIDDEN),
  target("to [fe80::1] (IPv6 link-local)", () => "[fe80::1]:80", FORBIDDEN),
  target("to [fe80::1%eth0] (zone id)", () => "[fe80::1%eth0]:80", MALFORMED),
  target("to [::ffff:169.254.169.254] (v4-mapped metadata)", () => "[::ffff:169.254.169.254]:80", FORBIDDEN),
  target("to [::ffff:127.0.0.1] (v4-mapped loopback)", (m) => `[::ffff:127.0.0.1]:${m.echoPort}`, FORBIDDEN),
  target(
    "to the dialled pod as a v4-mapped IPv6 address",
    (m) => `[::ffff:${m.serverIp}]:${m.echoPort}`,
    { status: 200 },
    "the same address in another spelling: canonicalised, it is the dialled workload",
  ),
  target("to localhost", (m) => `localhost:${m.echoPort}`, FORBIDDEN),
  target("to a service hostname", () => "echo.default.svc.cluster.local:80", FORBIDDEN),
  target("to kubernetes.default.svc:443", () => "kubernetes.default.svc:443", FORBIDDEN),
  target(
    "to the service VIP",
    () => "10.96.0.10:80",
    FORBIDDEN,
    "inbound serves workload addresses; VIPs are resolved by the sender",
  ),
  target("to a pod on another node", (m) => `127.0.0.21:${m.echoPort}`, FORBIDDEN),
  target("to a local pod not enrolled in the mesh", (m) => `127.0.0.22:${m.echoPort}`, FORBIDDEN),
  target("to another local enrolled pod than the dialled one", (m) => `127.0.0.23:${m.echoPort}`, FORBIDDEN),
  target("to an address with no workload", (m) => `127.0.0.50:${m.echoPort}`, FORBIDDEN),
  target("to the node's own address (admin port)", (m) => `${m.nodeIp}:${m.nodeAdminPort}`, FORBIDDEN),
  target("to the pod's port 15008 (loop)", (m) => `${m.serverIp}:15008`, FORBIDDEN),
  target("to the control plane's port 15012 on loopback", () => "127.0.0.1:15012", FORBIDDEN),
  target("to the decimal spelling of 127.0.0.20", (m) => `2130706452:${m.echoPort}`, FORBIDDEN),
  target("to the hex spelling of 127.0.0.20", (m) => `0x7f000014:${m.echoPort}`, FORBIDDEN),
  target("to the short spelling 127.20", (m) => `127.20:${m.echoPort}`, FORBIDDEN),
  target("to a zero-padded 127.000.000.020", (m) => `127.000.000.020:${m.echoPort}`, FORBIDDEN),
  target("to 255.255.255.255 (broadcast)", () => "255.255.255.255:80", FORBIDDEN),
  target("to 224.0.0.1 (multicast)", () => "224.0.0.1:80", FORBIDDEN),
  // ---------------------------------------------------------------- malformed authorities
  target("with port 0", (m) => `${m.serverIp}:0`, MALFORMED),
  target("with port 65536", (m) => `${m.serverIp}:65536`, MALFORMED),
  target("with a negative port", (m) => `${m.serverIp}:-1`, MALFORMED),
  target("with a non-numeric port", (m) => `${m.serverIp}:http`, MALFORMED),
  target("with an empty port", (m) => `${m.serverIp}:`, MALFORMED),
  target("without a port", (m) => m.serverIp, MALFORMED),
  target("with only a port", () => ":80", MALFORMED),
  target("with a six-digit port", (m) => `${m.serverIp}:000080`, MALFORMED),
  target("with a path after the port", (m) => `${m.good}/admin`, PROTOCOL),
  target("with userinfo", (m) => `admin@${m.good}`, MALFORMED),
  target("with two ports", (m) => `${m.good}:${m.echoPort}`, MALFORMED),
  target("with an IPv4 address in brackets", (m) => `[${m.serverIp}]:${m.echoPort}`, MALFORMED),
  target("with an IPv6 address missing the colon before the port", () => "[::1]80", MALFORMED),
  target("with an unclosed IPv6 bracket", () => "[::1:80", MALFORMED),
  target("with a 301-character host name", () => `${"a".repeat(297)}:80`, MALFORMED),
  target("with a host name of invalid characters", () => "exa_mple!:80", MALFORMED),
  target("with a leading-zero port to a closed port", (m) => `${m.serverIp}:01`, { status: 503 }),
  target("to a closed port on the dialled pod", (m) => `${m.serverIp}:1`, { status: 503 }),
  // ---------------------------------------------------------------- identity and spoofing
  {
    name: "CONNECT from an identity the destination's policy does not allow",
    target: "15008-connect",
    as: "intruder",
    input: connectTo((m) => m.good),
    expect: FORBIDDEN,
  },
  {
    name: "CONNECT spoofing `forwarded: for=<allowed client>` with a denied identity",
    target: "15008-connect",
    as: "intruder",
    input: connectTo((m) => m.good, [["forwarded", "for=127.0.0.10"]]),
    expect: FORBIDDEN,
    why: "the peer identity comes from the certificate only; a header never grants anything",
  },
  {
    name: "CONNECT with baggage claiming another workload, denied identity",
    target: "15008-connect",
    as: "intruder",
    input: connectTo((m) => m.good, [["baggage", "k8s.namespace.name=default,k8s.deployment.name=client"]]),
    expect: FORBIDDEN,
  },
  {
    name: "CONNECT with a malformed traceparent is served",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["traceparent", "zz-not-a-trace-!!"]]),
    expect: { status: 200 },
  },
  {
    name: "CONNECT with a malformed forwarded header is served",
    target: "15008-connect",
    input: connectTo(
      (m) => m.good,
      [
        ["forwarded", 'for="[::1'],
        ["forwarded", "for=;;;"],
      ],
    ),
    expect: { status: 200 },
  },
  {
    name: "CONNECT with an x-forwarded-client-cert header claiming another identity",
    target: "15008-connect",
    as: "intruder",
    input: connectTo(
      (m) => m.good,
      [["x-forwarded-client-cert", "URI=spiffe://cluster.local/ns/default/sa/client"]],
    ),
    expect: FORBIDDEN,
  },
  // ---------------------------------------------------------------- pseudo-header misuse
  {
    name: "CONNECT without :authority",
    target: "15008-connect",
    input: one([[":method", "CONNECT"]]),
    expect: PROTOCOL,
  },
  {
    name: "CONNECT with :path",
    target: "15008-connect",
    input: connectTo((m) => m.good, [[":path", "/"]]),
    expect: PROTOCOL,
  },
  {
    name: "CONNECT with :scheme",
    target: "15008-connect",
    input: connectTo((m) => m.good, [[":scheme", "https"]]),
    expect: PROTOCOL,
  },
  {
    name: "extended CONNECT (:protocol websocket) without the server's SETTINGS_ENABLE_CONNECT_PROTOCOL",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "https"],
      [":path", "/"],
      [":authority", m.good],
    ]),
    expect: PROTOCOL,
  },
  {
    name: "two :authority fields",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "CONNECT"],
      [":authority", m.good],
      [":authority", "169.254.169.254:80"],
    ]),
    expect: PROTOCOL,
  },
  {
    name: "two :method fields",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "CONNECT"],
      [":method", "GET"],
      [":authority", m.good],
    ]),
    expect: PROTOCOL,
  },
  {
    name: "no :method",
    target: "15008-connect",
    input: withGood((m) => [[":authority", m.good]]),
    expect: PROTOCOL,
  },
  {
    name: "a pseudo-header after a regular header",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "CONNECT"],
      ["baggage", "a=b"],
      [":authority", m.good],
    ]),
    expect: PROTOCOL,
  },
  {
    name: "an unknown pseudo-header :tunnel",
    target: "15008-connect",
    input: connectTo((m) => m.good, [[":tunnel", "yes"]]),
    expect: PROTOCOL,
  },
  {
    name: "the response pseudo-header :status in a request",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "CONNECT"],
      [":authority", m.good],
      [":status", "200"],
    ]),
    expect: PROTOCOL,
  },
  {
    name: "an upper-case header name",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["Baggage", "a=b"]]),
    expect: PROTOCOL,
  },
  {
    name: "a connection-specific header (connection: keep-alive)",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["connection", "keep-alive"]]),
    expect: PROTOCOL,
  },
  {
    name: "te: gzip",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["te", "gzip"]]),
    expect: PROTOCOL,
  },
  {
    name: "transfer-encoding: chunked",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["transfer-encoding", "chunked"]]),
    expect: PROTOCOL,
  },
  {
    name: "a header name with a space",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["bad name", "v"]]),
    expect: { status: 200 },
    why: "nghttp2 drops an invalid regular header field before node:http2 sees it; the rest of the CONNECT is served",
  },
  {
    name: "an empty header name",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["", "v"]]),
    expect: { status: 200 },
    why: "nghttp2 drops an invalid regular header field before node:http2 sees it; the rest of the CONNECT is served",
  },
  {
    name: "a header value with CR LF (response splitting)",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["baggage", "a=b\r\nx-injected: 1"]]),
    expect: { status: 200 },
    why: "nghttp2 drops an invalid regular header field before node:http2 sees it; the rest of the CONNECT is served",
  },
  {
    name: "a header value with NUL",
    target: "15008-connect",
    input: connectTo((m) => m.good, [["baggage", "a=\u0000b"]]),
    expect: { status: 200 },
    why: "nghttp2 drops an invalid regular header field before node:http2 sees it; the rest of the CONNECT is served",
  },
  {
    name: ":authority with NUL",
    target: "15008-connect",
    input: connectTo((m) => `${m.serverIp}\u0000:${m.echoPort}`),
    expect: PROTOCOL,
  },
  {
    name: ":authority with a space",
    target: "15008-connect",
    input: connectTo((m) => `${m.serverIp} :${m.echoPort}`),
    expect: PROTOCOL,
  },
  {
    name: "an empty :authority",
    target: "15008-connect",
    input: connectTo(() => ""),
    expect: PROTOCOL,
  },
  {
    name: "lower-case method `connect` (not CONNECT) without :path",
    target: "15008-connect",
    input: withGood((m) => [
      [":method", "connect"],
      [":authority", m.good],
    ]),
    expect: PROTOCOL,
  },
  // ---------------------------------------------------------------- well-formed, but not CONNECT
  ...(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "PRI", "connect"] as const).map(
    (method): H2Case => ({
      name: `${method} request with :scheme and :path (not a CONNECT)`,
      target: "15008-connect",
      input: withGood((m) => [
        [":method", method],
        [":scheme", "https"],
        [":path", "/"],
        [":authority", m.good],
      ]),
      expect: MALFORMED,
    }),
  ),
  {
    name: "GET with an absolute-form :path to the metadata service",
    target: "15008-connect",
    input: one([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "http://169.254.169.254/latest/meta-data/"],
      [":authority", "169.254.169.254"],
    ]),
    expect: PROTOCOL,
    why: "nghttp2: a non-OPTIONS :path must start with /",
  },
  {
    name: "POST with END_STREAM and a body-less request",
    target: "15008-connect",
    input: (m) =>
      headers(
        1,
        headerBlock([
          [":method", "POST"],
          [":scheme", "https"],
          [":path", "/"],
          [":authority", m.good],
        ]),
        { endStream: true },
      ),
    expect: MALFORMED,
  },
];
