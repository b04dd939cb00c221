/**
 * TLS pieces both HBONE directions share: the TLS 1.3 profile, secure-context caching and
 * turning a peer certificate into a verified SPIFFE identity (or a coded error).
 */
import { createHash, type X509Certificate } from "node:crypto";
import tls from "node:tls";
import { identityFromCertificate, type SpiffeId } from "../identity/spiffe.js";
import { certificateErrorCode, HboneError, HboneErrorCode } from "./errors.js";

/**
 * AES-128-GCM first: measured 21 vs 18.5 Gbit/s per core against AES-256-GCM on this machine
 * class (DESIGN.md §2). All three TLS 1.3 suites stay enabled so any peer can connect.
 */
export const DEFAULT_CIPHER_SUITES =
  "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

export const ALPN_H2 = "h2";

/**
 * What HBONE needs of a workload credential: structurally the identity area's
 * `WorkloadCredential` (cert-store.ts), declared here so this library depends on its shape only.
 */
export interface WorkloadCredential {
  readonly identity: SpiffeId;
  readonly keyPem: string;
  /** Leaf first, then intermediates. */
  readonly certChainPem: string;
  /** The trust bundle: every root this workload accepts. */
  readonly rootsPem: string;
  /** Changes on every re-issue: the pool keys sessions by it so rotation opens new sessions. */
  readonly serial: unknown;
  /** Revoked serials (the identity area's `RevocationList`): peers whose chain holds one are refused. */
  readonly revoked?: RevocationCheck;
}

/** What HBONE needs of a revocation list: a lookup, and a version that rises on every change. */
export interface RevocationCheck {
  readonly version: number;
  firstRevoked(chain: readonly string[]): string | undefined;
}

/**
 * Serials of the certificates a TLS peer sent, leaf first (as `getPeerCertificate(true)` links them).
 * Measured on Node 20: on a server socket, once `getPeerX509Certificate()` has been called,
 * `getPeerCertificate(true)` no longer links the intermediates the client sent; read this first.
 */
export function chainSerials(cert: tls.DetailedPeerCertificate | tls.PeerCertificate | undefined): string[] {
  const serials: string[] = [];
  const seen = new Set<object>();
  let c: tls.PeerCertificate | undefined = cert;
  // A self-signed root links to itself; stop there (and never loop on a malformed chain).
  while (c !== undefined && c.serialNumber !== undefined && !seen.has(c)) {
    seen.add(c);
    serials.push(c.serialNumber);
    const next: tls.PeerCertificate | undefined = (c as tls.DetailedPeerCertificate).issuerCertificate;
    if (next === undefined || next === c || next.fingerprint256 === c.fingerprint256) break;
    c = next;
  }
  return serials;
}

/** A CERT_REVOKED error when `chain` (leaf first) holds a serial `revoked` lists, else undefined. */
export function revokedPeer(
  revoked: RevocationCheck | undefined,
  chain: readonly string[],
  role: "client" | "server",
): HboneError | undefined {
  const serial = revoked?.firstRevoked(chain);
  if (serial === undefined) return undefined;
  const which = serial === chain[0] ? "certificate" : "issuing CA certificate";
  return new HboneError(
    HboneErrorCode.CERT_REVOKED,
    `the ${role}'s ${which} (serial ${serial}) is revoked (\`ambit ca revoked\`); the peer must get a new certificate`,
  );
}

/** A PEM bundle's fingerprint, so a context cache notices a new trust bundle without comparing megabytes. */
export function bundleKey(rootsPem: string): string {
  return createHash("sha256").update(rootsPem).digest("hex").slice(0, 16);
}

export interface TlsProfile {
  cipherSuites: string;
}

/**
 * Building a context costs ~2 ms of CPU (PLATFORM-NOTES): cache one per (certificate serial,
 * trust bundle). Old entries are dropped when the same identity gets a new serial.
 */
export class SecureContextCache {
  readonly #profile: TlsProfile;
  readonly #byKey = new Map<string, tls.SecureContext>();
  readonly #keyByIdentity = new Map<string, string>();

  constructor(profile: TlsProfile) {
    this.#profile = profile;
  }

  get(credential: WorkloadCredential, rootsPem: string = credential.rootsPem): tls.SecureContext {
    const key = `${credential.identity.toString()}|${String(credential.serial)}|${bundleKey(rootsPem)}`;
    const cached = this.#byKey.get(key);
    if (cached !== undefined) return cached;
    const ctx = tls.createSecureContext(contextOptions(credential, rootsPem, this.#profile));
    const id = credential.identity.toString();
    const previous = this.#keyByIdentity.get(id);
    if (previous !== undefined) this.#byKey.delete(previous);
    this.#keyByIdentity.set(id, key);
    this.#byKey.set(key, ctx);
    return ctx;
  }

  get size(): number {
    return this.#byKey.size;
  }
}

export function contextOptions(
  credential: WorkloadCredential,
  rootsPem: string,
  profile: TlsProfile,
): tls.SecureContextOptions {
  return {
    key: credential.keyPem,
    cert: credential.certChainPem,
    ca: rootsPem,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ciphers: profile.cipherSuites,
  };
}

export type PeerCheck = { ok: true; identity: SpiffeId } | { ok: false; error: HboneError };

/**
 * The identity a TLS peer proved: the chain verified against the bundle (OpenSSL's verdict in
 * `authorizationError`) and then its single SPIFFE URI SAN in an accepted trust domain.
 * Never a header, never an address (DESIGN.md §10).
 */
export function verifyPeer(
  socket: tls.TLSSocket,
  acceptedTrustDomains: readonly string[] | undefined,
  role: "client" | "server",
  revoked?: RevocationCheck,
  chain: readonly string[] = chainSerials(socket.getPeerCertificate(true)),
): PeerCheck {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) {
    return fail(
      HboneErrorCode.NO_PEER_CERT,
      `the ${role} presented no certificate; HBONE requires mutual TLS with a workload certificate`,
    );
  }
  if (!socket.authorized) {
    const reason = String(socket.authorizationError ?? "unknown verification error");
    const code = certificateErrorCode(reason);
    // The handshake itself succeeded: whatever OpenSSL disliked, the chain is not trusted.
    return fail(
      code === HboneErrorCode.HANDSHAKE ? HboneErrorCode.UNTRUSTED_PEER : code,
      `the ${role}'s certificate (serial ${cert.serialNumber}, valid ${cert.validFrom} – ${cert.validTo}) was rejected: ${reason}; check it is issued by a root in the trust bundle and within its validity period`,
    );
  }
  const refused = revokedPeer(revoked, chain, role);
  if (refused !== undefined) return { ok: false, error: refused };
  return identityOf(cert, acceptedTrustDomains, role);
}

export function identityOf(
  cert: X509Certificate,
  acceptedTrustDomains: readonly string[] | undefined,
  role: "client" | "server",
): PeerCheck {
  if (cert.ca) return fail(HboneErrorCode.NOT_LEAF, notLeafMessage(role, cert.serialNumber));
  let identity: SpiffeId;
  try {
    identity = identityFromCertificate(cert);
  } catch (e) {
    return fail(
      HboneErrorCode.BAD_SAN,
      `the ${role}'s certificate (serial ${cert.serialNumber}) does not carry exactly one valid SPIFFE URI SAN (${cert.subjectAltName ?? "no SAN"}); issue it from the mesh CA`,
      e,
    );
  }
  if (acceptedTrustDomains !== undefined && !acceptedTrustDomains.includes(identity.trustDomain)) {
    return fail(
      HboneErrorCode.TRUST_DOMAIN,
      `the ${role}'s identity ${identity.toString()} is in trust domain "${identity.trustDomain}", accepted: ${acceptedTrustDomains.join(", ")}; configure trustDomains or federate the domain`,
    );
  }
  return { ok: true, identity };
}

/** SPIFFE X509-SVID §4.1: a leaf SVID must have cA=false; a CA certificate names no workload. */
export function notLeafMessage(role: "client" | "server", serial: string): string {
  return `the ${role}'s certificate (serial ${serial}) is a CA certificate (basicConstraints cA=true); a workload certificate (X509-SVID leaf) must not be a CA`;
}

function fail(code: HboneErrorCode, message: string, cause?: unknown): PeerCheck {
  return { ok: false, error: new HboneError(code, message, cause === undefined ? undefined : { cause }) };
}
