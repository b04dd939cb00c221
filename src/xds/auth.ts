import type { PeerCertificate } from "node:tls";
import type { Metadata } from "@grpc/grpc-js";

/** What the server knows about a caller before trusting it: its gRPC metadata and its TLS peer. */
export interface XdsAuthContext {
  readonly method: string;
  readonly metadata: Metadata;
  /** host:port of the peer, for logs only; never an identity. */
  readonly peer: string;
  /** Present when the client presented a certificate verified against the server's roots. */
  readonly peerCertificate?: PeerCertificate;
}

/**
 * Decides who is calling. Resolves to the caller (a node's ztunnel, a waypoint, …) or null to
 * refuse with UNAUTHENTICATED. Shared by ADS and the CA service.
 */
export type XdsAuthenticator<C> = (ctx: XdsAuthContext) => Promise<C | null>;

/** Minimum a caller must carry so status pages and logs can name it. */
export interface XdsCaller {
  readonly kind: string;
  readonly id: string;
}

interface CallLike {
  readonly metadata: Metadata;
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

export function authContextOf(method: string, call: CallLike): XdsAuthContext {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const base = { method, metadata: call.metadata, peer: call.getPeer() };
  // An unverified/absent client certificate shows up as an empty object.
  return cert !== undefined && Object.keys(cert).length > 0 ? { ...base, peerCertificate: cert } : base;
}

/** The token of an `authorization: Bearer <token>` header, or null. */
export function bearerToken(metadata: Metadata): string | null {
  const values = metadata.get("authorization");
  if (values.length !== 1) return null;
  const v = values[0];
  if (typeof v !== "string") return null;
  const m = /^Bearer ([\x21-\x7e]{1,8192})$/i.exec(v.trim());
  return m?.[1] ?? null;
}
