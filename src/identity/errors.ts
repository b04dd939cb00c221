import { AmbitError } from "../errors.js";

/**
 * The identity area's error catalogue. Codes are stable: tests, the CLI and the CA service map on
 * `code`, never on message text. docs/identity.md lists every code with its likely fix.
 */
export const IdentityErrorCode = {
  /** A string is not a SPIFFE id of Istio's form `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  BAD_SPIFFE_ID: "ID_ERR_BAD_SPIFFE_ID",
  /** A certificate carries no URI SAN, so it names no workload. */
  NO_URI_SAN: "ID_ERR_NO_URI_SAN",
  /** A certificate carries more than one URI SAN; ambit accepts exactly one identity per certificate. */
  MULTIPLE_URI_SANS: "ID_ERR_MULTIPLE_URI_SANS",
  /** DER bytes (certificate, CSR, key) are malformed or truncated. */
  BAD_DER: "ID_ERR_BAD_DER",
  /** A PEM block is missing or of the wrong type. */
  BAD_PEM: "ID_ERR_BAD_PEM",
  /** A CSR is malformed, uses an unsupported algorithm, or its self-signature does not verify. */
  BAD_CSR: "ID_ERR_BAD_CSR",
  /** The CSR asks for an identity other than the one the caller is entitled to. */
  CSR_IDENTITY_MISMATCH: "ID_ERR_CSR_IDENTITY_MISMATCH",
  /** The identity's trust domain is not the CA's. */
  TRUST_DOMAIN_MISMATCH: "ID_ERR_TRUST_DOMAIN_MISMATCH",
  /** A requested certificate lifetime is out of the allowed range. */
  BAD_TTL: "ID_ERR_BAD_TTL",
  /** Explicit validity bounds are inverted or invalid. */
  BAD_VALIDITY: "ID_ERR_BAD_VALIDITY",
  /** CA certificate/key files are missing, unreadable, inconsistent or not a CA. */
  BAD_CA_MATERIAL: "ID_ERR_BAD_CA_MATERIAL",
  /** A key type the CA cannot sign with or certify (ambit issues ECDSA P-256). */
  UNSUPPORTED_KEY: "ID_ERR_UNSUPPORTED_KEY",
  /** The CA (remote or local) failed to issue a certificate. */
  CA_REQUEST_FAILED: "ID_ERR_CA_REQUEST_FAILED",
  /** The CA answered with a certificate that does not match the request (wrong key or identity). */
  BAD_ISSUED_CERT: "ID_ERR_BAD_ISSUED_CERT",
  /** No trust roots are known for a credential. */
  NO_TRUST_ROOTS: "ID_ERR_NO_TRUST_ROOTS",
  /** The certificate store was closed. */
  STORE_CLOSED: "ID_ERR_STORE_CLOSED",
  /** A certificate serial (for revocation) is not hex, or longer than RFC 5280's 20 octets. */
  BAD_SERIAL: "ID_ERR_BAD_SERIAL",
  /** Invalid options passed to an identity component. */
  BAD_OPTIONS: "ID_ERR_BAD_OPTIONS",
} as const;

export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];

export class IdentityError extends AmbitError {
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "IdentityError";
  }
}
