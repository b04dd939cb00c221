/**
 * SOCKS5 (RFC 1928) CONNECT with no authentication: ztunnel's explicit-proxy entry (port 15080)
 * for machines without network namespaces. Only what ztunnel needs is accepted; everything else is
 * answered with the RFC's reply code and closed. The handshake is bounded in size (a greeting is at
 * most 257 bytes, a request at most 262) and in time.
 */
import type { Socket } from "node:net";
import { canonicalIp } from "./addresses.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";

export const SOCKS_VERSION = 5;
const NO_AUTH = 0x00;
const NO_ACCEPTABLE_METHOD = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6 reply codes. */
export const SocksReply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
export type SocksReply = (typeof SocksReply)[keyof typeof SocksReply];

export type SocksTarget =
  | { readonly kind: "ip"; readonly ip: string; readonly port: number }
  | { readonly kind: "domain"; readonly domain: string; readonly port: number };

export type Parse<T> =
  | { readonly state: "more" }
  | { readonly state: "done"; readonly value: T; readonly used: number }
  | { readonly state: "error"; readonly reply: SocksReply | undefined; readonly reason: string };

const MORE = { state: "more" } as const;

export function parseGreeting(buf: Uint8Array): Parse<{ methods: number[] }> {
  if (buf.length < 2) return MORE;
  if (buf[0] !== SOCKS_VERSION)
    return { state: "error", reply: undefined, reason: `not SOCKS5 (version byte ${buf[0]})` };
  const n = buf[1]!;
  if (n === 0)
    return { state: "error", reply: undefined, reason: "greeting offers no authentication method" };
  if (buf.length < 2 + n) return MORE;
  return { state: "done", value: { methods: [...buf.subarray(2, 2 + n)] }, used: 2 + n };
}

export function parseRequest(buf: Uint8Array): Parse<SocksTarget> {
  if (buf.length < 5) return MORE;
  if (buf[0] !== SOCKS_VERSION)
    return { state: "error", reply: SocksReply.GeneralFailure, reason: `request version byte ${buf[0]}` };
  if (buf[1] !== CMD_CONNECT)
    return {
      state: "error",
      reply: SocksReply.CommandNotSupported,
      reason: `command ${buf[1]} (only CONNECT is supported)`,
    };
  if (buf[2] !== 0)
    return { state: "error", reply: SocksReply.GeneralFailure, reason: "reserved byte is not zero" };
  const atyp = buf[3];
  let addrEnd: number;
  switch (atyp) {
    case ATYP_IPV4:
      addrEnd = 4 + 4;
      break;
    case ATYP_IPV6:
      addrEnd = 4 + 16;
      break;
    case ATYP_DOMAIN: {
      const len = buf[4]!;
      if (len === 0) return { state: "error", reply: SocksReply.GeneralFailure, reason: "empty domain name" };
      addrEnd = 5 + len;
      break;
    }
    default:
      return { state: "error", reply: SocksReply.AddressTypeNotSupported, reason: `address type ${atyp}` };
  }
  if (buf.length < addrEnd + 2) return MORE;
  const port = (buf[addrEnd]! << 8) | buf[addrEnd + 1]!;
  if (port === 0) return { state: "error", reply: SocksReply.GeneralFailure, reason: "port 0" };
  const used = addrEnd + 2;
  if (atyp === ATYP_IPV4) {
    return { state: "done", value: { kind: "ip", ip: [...buf.subarray(4, 8)].join("."), port }, used };
  }
  if (atyp === ATYP_IPV6) {
    const groups: string[] = [];
    for (let i = 4; i < 20; i += 2) groups.push(((buf[i]! << 8) | buf[i + 1]!).toString(16));
    return { state: "done", value: { kind: "ip", ip: canonicalIp(groups.join(":")), port }, used };
  }
  const domain = Buffer.from(buf.subarray(5, addrEnd)).toString("latin1");
  if (!/^[A-Za-z0-9.-]+$/.test(domain))
    return {
      state: "error",
      reply: SocksReply.HostUnreachable,
      reason: `domain ${JSON.stringify(domain)} is not a host name`,
    };
  return { state: "done", value: { kind: "domain", domain: domain.toLowerCase(), port }, used };
}

/** A reply with BND.ADDR 0.0.0.0:0: ztunnel does not disclose its upstream socket. */
export function encodeReply(code: SocksReply): Buffer {
  return Buffer.from([SOCKS_VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}

export interface Socks5Limits {
  /** Whole handshake (greeting + request) must arrive within this time. */
  readonly timeoutMs: number;
  /** Bytes buffered before the request is complete (the protocol needs at most 519). */
  readonly maxBytes: number;
}

export const DEFAULT_SOCKS5_LIMITS: Socks5Limits = Object.freeze({ timeoutMs: 10_000, maxBytes: 1024 });

export interface Socks5Handshake {
  readonly target: SocksTarget;
  /** Sends the final reply; on success the socket then carries the application bytes. */
  reply(code: SocksReply): void;
}

/**
 * Runs the server side of the handshake on `socket`. Resolves once the CONNECT request is read
 * (bytes the client sent after it are put back with `unshift`); rejects with `ZT_ERR_SOCKS5` after
 * answering the client where the protocol allows it.
 */
export function socks5Handshake(
  socket: Socket,
  limits: Socks5Limits = DEFAULT_SOCKS5_LIMITS,
): Promise<Socks5Handshake> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let phase: "greeting" | "request" = "greeting";
    const fail = (reason: string, reply: Buffer | undefined): void => {
      cleanup();
      // destroySoon: the socket is half-open capable, so end() alone would wait for the client.
      if (reply !== undefined && socket.writable) {
        socket.write(reply);
        socket.destroySoon();
      } else socket.destroy();
      reject(
        new ZtunnelError(
          ZtunnelErrorCode.Socks5,
          `SOCKS5 handshake from ${socket.remoteAddress ?? "?"} failed: ${reason}`,
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`no complete request within ${limits.timeoutMs} ms`, undefined),
      limits.timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > limits.maxBytes) {
        fail(`handshake larger than ${limits.maxBytes} bytes`, undefined);
        return;
      }
      if (phase === "greeting") {
        const g = parseGreeting(buf);
        if (g.state === "more") return;
        if (g.state === "error") {
          fail(g.reason, undefined);
          return;
        }
        if (!g.value.methods.includes(NO_AUTH)) {
          fail(
            "client requires authentication; ztunnel offers none",
            Buffer.from([SOCKS_VERSION, NO_ACCEPTABLE_METHOD]),
          );
          return;
        }
        socket.write(Buffer.from([SOCKS_VERSION, NO_AUTH]));
        buf = buf.subarray(g.used);
        phase = "request";
      }
      const r = parseRequest(buf);
      if (r.state === "more") return;
      if (r.state === "error") {
        fail(r.reason, r.reply === undefined ? undefined : encodeReply(r.reply));
        return;
      }
      cleanup();
      socket.pause();
      const rest = buf.subarray(r.used);
      if (rest.length > 0) socket.unshift(rest);
      resolve({
        target: r.value,
        reply(code) {
          if (code === SocksReply.Succeeded) socket.write(encodeReply(code));
          else if (socket.writable) {
            socket.write(encodeReply(code));
            socket.destroySoon();
          } else socket.destroy();
        },
      });
    };
    const onEnd = (): void => fail("client closed during the handshake", undefined);
    const onError = (e: Error): void => fail(e.message, undefined);
    function cleanup(): void {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("end", onEnd);
      socket.removeListener("error", onError);
    }
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onError);
  });
}
