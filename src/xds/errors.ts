import { AmbitError } from "../errors.js";

/**
 * The xDS / CA transport error catalogue. Codes are stable (tests and operators match on them);
 * messages name the offending value and a likely fix.
 */
export const XdsErrorCode = {
  /** Options given to a server or client are invalid. */
  Config: "XDS_ERR_CONFIG",
  /** The gRPC server could not bind its address (port in use, bad host). */
  Bind: "XDS_ERR_BIND",
  /** A certificate, key or roots PEM was rejected when building TLS credentials. */
  Tls: "XDS_ERR_TLS",
  /** A resource's Any type URL does not match the type it was published or received under. */
  TypeUrlMismatch: "XDS_ERR_TYPE_URL_MISMATCH",
  /** No message schema is registered for a type URL. */
  UnknownType: "XDS_ERR_UNKNOWN_TYPE",
  /** A request on the ADS stream broke the protocol or its limits. */
  Protocol: "XDS_ERR_PROTOCOL",
  /** The server or client was used after close(). */
  Closed: "XDS_ERR_CLOSED",
  /** The CA rejected the caller's credential (gRPC UNAUTHENTICATED). */
  CaUnauthenticated: "XDS_ERR_CA_UNAUTHENTICATED",
  /** The CA refused to sign for this identity (gRPC PERMISSION_DENIED). */
  CaDenied: "XDS_ERR_CA_DENIED",
  /** The CA found the request malformed: bad CSR, bad TTL (gRPC INVALID_ARGUMENT). */
  CaInvalidRequest: "XDS_ERR_CA_INVALID_REQUEST",
  /** The CA could not be reached or timed out; retry with backoff (gRPC UNAVAILABLE, DEADLINE_EXCEEDED). */
  CaUnavailable: "XDS_ERR_CA_UNAVAILABLE",
  /** The CA answered with an error it did not classify (gRPC INTERNAL, UNKNOWN, …). */
  CaFailed: "XDS_ERR_CA_FAILED",
  /** The CA answered, but the certificate chain is empty, unparsable or for another identity. */
  CaBadResponse: "XDS_ERR_CA_BAD_RESPONSE",
} as const;

export type XdsErrorCode = (typeof XdsErrorCode)[keyof typeof XdsErrorCode];

export class XdsError extends AmbitError {
  constructor(code: XdsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "XdsError";
  }
}
