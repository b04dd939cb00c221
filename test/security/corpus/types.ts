/**
 * The shape of a hostile-input case. Every case names its target (the port or parser it attacks),
 * its input as data, and the exact outcome a correct ambit produces; the runners in test/security
 * feed each input to a real process over real sockets and compare.
 */
import type { H2ErrorName } from "../h2-wire.js";

/** What the HBONE server (15008) answers, read off the wire. */
export type H2Outcome =
  /** A GOAWAY with this error code (a connection error, RFC 9113 §5.4.1). */
  | { readonly goaway: H2ErrorName }
  /** An RST_STREAM with this code (a stream error, §5.4.2); the connection lives on. */
  | { readonly rst: H2ErrorName }
  /** A response HEADERS with this `:status` (the CONNECT was understood and refused or served). */
  | { readonly status: number }
  /** The connection closed without an HTTP/2 error frame. */
  | { readonly closed: true }
  /** The input was ignored as the RFC requires: the connection still answers PINGs, nothing was refused. */
  | { readonly alive: true };

export interface MeshAddresses {
  /** `ip:port` of the server pod's echo (the one honest target). */
  readonly good: string;
  readonly serverIp: string;
  readonly echoPort: number;
  readonly hbonePort: number;
  /** node-b's own address (where its admin, metrics and capture listeners are). */
  readonly nodeIp: string;
  readonly nodeAdminPort: number;
}

export interface H2Case {
  readonly name: string;
  readonly target: "15008-h2" | "15008-connect";
  /** Bytes written after the client preface and SETTINGS (unless `preface` is false). */
  readonly input: (m: MeshAddresses) => Buffer;
  readonly expect: H2Outcome;
  readonly preface?: false;
  /** Client certificate to present (default: the `client` workload allowed by policy). */
  readonly as?: "client" | "intruder";
  /** Why this is the right outcome, when it is not obvious (RFC section, Istio semantic). */
  readonly why?: string;
}

/** Deterministic pseudo-random bytes (mulberry32), so a failing case replays byte for byte. */
export function seededBytes(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}
