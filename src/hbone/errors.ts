/**
 * The HBONE area's error catalogue. Codes are stable: tests, metrics and access logs match on
 * them, never on message text. docs/hbone.md lists them.
 */
import { AmbitError } from "../errors.js";

export const HboneErrorCode = {
  /** Options given to the server or the pool are invalid (the message names the field). */
  CONFIG: "HBONE_ERR_CONFIG",
  /** TLS or HTTP/2 set-up failed for a reason not listed below (socket reset, bad ALPN, …). */
  HANDSHAKE: "HBONE_ERR_HANDSHAKE",
  /** The peer presented no certificate (a client without a client certificate). */
  NO_PEER_CERT: "HBONE_ERR_NO_PEER_CERT",
  /** The peer's certificate does not chain to any root of the trust bundle. */
  UNTRUSTED_PEER: "HBONE_ERR_UNTRUSTED_PEER",
  /** The peer's certificate is past its notAfter. */
  CERT_EXPIRED: "HBONE_ERR_CERT_EXPIRED",
  /** The peer's certificate is before its notBefore (clock skew, or an early-issued certificate). */
  CERT_NOT_YET_VALID: "HBONE_ERR_CERT_NOT_YET_VALID",
  /**
   * The peer's leaf or one of its chain certificates carries a serial on the mesh's revocation
   * list (`ambit ca revoke`; an ambit extension, Istio has none for workload certificates).
   */
  CERT_REVOKED: "HBONE_ERR_CERT_REVOKED",
  /** The peer's certificate is a CA certificate (cA=true): SPIFFE leaves must not be CAs. */
  NOT_LEAF: "HBONE_ERR_NOT_LEAF",
  /** The peer's certificate has no URI SAN, or it is not a `spiffe://td/ns/x/sa/y` id. */
  BAD_SAN: "HBONE_ERR_BAD_SAN",
  /** The peer's SPIFFE id is in a trust domain this side does not accept. */
  TRUST_DOMAIN: "HBONE_ERR_TRUST_DOMAIN",
  /** The server's SPIFFE id is not one of the identities the client expected for this destination. */
  IDENTITY_MISMATCH: "HBONE_ERR_IDENTITY_MISMATCH",
  /** The server refused the session after the handshake (it sent GOAWAY INADEQUATE_SECURITY with a reason). */
  PEER_REJECTED: "HBONE_ERR_PEER_REJECTED",
  /** The server answered the CONNECT with a status other than 200 (`status` holds it). */
  CONNECT_REFUSED: "HBONE_ERR_CONNECT_REFUSED",
  /** The server could not reach the target (connect refused, unreachable, …). */
  UPSTREAM: "HBONE_ERR_UPSTREAM",
  /** Connect, handshake, response or ping took longer than its limit. */
  TIMEOUT: "HBONE_ERR_TIMEOUT",
  /** The peer broke the HTTP/2 CONNECT contract (non-CONNECT request, bad authority, stream reset, GOAWAY). */
  PROTOCOL: "HBONE_ERR_PROTOCOL",
  /** No local workload owns the destination address of an inbound connection (never an open relay). */
  NO_LOCAL_WORKLOAD: "HBONE_ERR_NO_LOCAL_WORKLOAD",
  /** The pool or server was closed while the operation was pending. */
  CLOSED: "HBONE_ERR_CLOSED",
} as const;
export type HboneErrorCode = (typeof HboneErrorCode)[keyof typeof HboneErrorCode];

export class HboneError extends AmbitError {
  override readonly code: HboneErrorCode;
  /** HTTP status for CONNECT_REFUSED (403, 503, 401, …), else undefined. */
  readonly status: number | undefined;
  constructor(code: HboneErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status;
    this.name = "HboneError";
  }
}

export function isHboneError(e: unknown, code?: HboneErrorCode): e is HboneError {
  return e instanceof HboneError && (code === undefined || e.code === code);
}

/**
 * Maps an OpenSSL verification result (Node's `err.code` / `authorizationError`) to our code.
 * One place, used by both directions, so client and server name the same failure the same way.
 */
export function certificateErrorCode(openSslCode: string | undefined): HboneErrorCode {
  switch (openSslCode) {
    case "CERT_HAS_EXPIRED":
      return HboneErrorCode.CERT_EXPIRED;
    case "CERT_NOT_YET_VALID":
      return HboneErrorCode.CERT_NOT_YET_VALID;
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "CERT_SIGNATURE_FAILURE":
    case "CERT_UNTRUSTED":
    case "CERT_REJECTED":
    case "INVALID_CA":
    // A leaf whose key usage / extended key usage does not allow TLS client or server auth.
    case "INVALID_PURPOSE":
    case "PATH_LENGTH_EXCEEDED":
    case "KEYUSAGE_NO_CERTSIGN":
    // OpenSSL 3 reports an issuer that is not a CA (cA=false) this way.
    case "UNSPECIFIED":
      return HboneErrorCode.UNTRUSTED_PEER;
    default:
      return HboneErrorCode.HANDSHAKE;
  }
}
