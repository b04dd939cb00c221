import { X509Certificate } from "node:crypto";
import { IdentityError } from "./errors.js";
import { uriSansOfCertificate } from "./x509.js";

export const DEFAULT_TRUST_DOMAIN = "cluster.local";

const PREFIX = "spiffe://";
// SPIFFE-ID spec §2.1/§2.2: trust domain is lowercase letters, digits, '.', '-', '_'; path segments are
// letters, digits, '.', '-', '_' (no percent-encoding), never empty, "." or "..".
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
// SPIFFE-ID spec §2.3: an id is at most 2048 bytes; a trust domain at most 255.
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const EXPECTED = "expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>";

function bad(value: string, why: string): IdentityError {
  return new IdentityError(
    "ID_ERR_BAD_SPIFFE_ID",
    `invalid SPIFFE id ${JSON.stringify(value)}: ${why}; ${EXPECTED} (e.g. spiffe://cluster.local/ns/default/sa/default)`,
  );
}

function checkTrustDomain(td: string, value: string): void {
  if (td.length === 0) throw bad(value, "the trust domain is empty");
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) {
    throw bad(value, `the trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  }
  if (td.includes(":")) throw bad(value, "the trust domain must not carry a port or user info");
  if (td.includes("@")) throw bad(value, "the trust domain must not carry user info");
  if (!TRUST_DOMAIN.test(td)) {
    throw bad(value, `trust domain "${td}" may hold only lowercase letters, digits, '.', '-' and '_'`);
  }
}

function checkSegment(segment: string, role: string, value: string): void {
  if (segment.length === 0) throw bad(value, `the ${role} is empty`);
  if (segment === "." || segment === "..") throw bad(value, `the ${role} must not be "." or ".."`);
  if (!SEGMENT.test(segment)) {
    throw bad(value, `${role} "${segment}" may hold only letters, digits, '.', '-' and '_'`);
  }
}

/**
 * A workload identity in Istio's SPIFFE form, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
 * Immutable; compare with `equals` or by `toString()`.
 */
export class SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly #uri: string;

  private constructor(trustDomain: string, namespace: string, serviceAccount: string) {
    this.trustDomain = trustDomain;
    this.namespace = namespace;
    this.serviceAccount = serviceAccount;
    this.#uri = `${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
    Object.freeze(this);
  }

  static parse(uri: string): SpiffeId {
    if (typeof uri !== "string") throw bad(String(uri), "not a string");
    if (uri.length > MAX_ID_LENGTH) throw bad(`${uri.slice(0, 64)}…`, `longer than ${MAX_ID_LENGTH} bytes`);
    if (!uri.startsWith(PREFIX)) {
      const lower = uri.toLowerCase();
      throw bad(
        uri,
        lower.startsWith(PREFIX) ? "the scheme must be lowercase" : "missing the spiffe:// scheme",
      );
    }
    if (uri.includes("?")) throw bad(uri, "a query is not allowed");
    if (uri.includes("#")) throw bad(uri, "a fragment is not allowed");
    if (uri.includes("%")) throw bad(uri, "percent-encoding is not allowed");
    const rest = uri.slice(PREFIX.length);
    const slash = rest.indexOf("/");
    const td = slash === -1 ? rest : rest.slice(0, slash);
    checkTrustDomain(td, uri);
    if (slash === -1 || slash === rest.length - 1)
      throw bad(uri, "the path /ns/<namespace>/sa/<service-account> is missing");
    const segments = rest.slice(slash + 1).split("/");
    if (segments.length !== 4 || segments[0] !== "ns" || segments[2] !== "sa") {
      if (segments.at(-1) === "") throw bad(uri, "a trailing '/' is not allowed");
      throw bad(uri, `the path "/${segments.join("/")}" is not /ns/<namespace>/sa/<service-account>`);
    }
    const ns = segments[1] as string;
    const sa = segments[3] as string;
    checkSegment(ns, "namespace", uri);
    checkSegment(sa, "service account", uri);
    return new SpiffeId(td, ns, sa);
  }

  static of(namespace: string, serviceAccount: string, trustDomain: string = DEFAULT_TRUST_DOMAIN): SpiffeId {
    const shown = `${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
    checkTrustDomain(trustDomain, shown);
    checkSegment(namespace, "namespace", shown);
    checkSegment(serviceAccount, "service account", shown);
    return new SpiffeId(trustDomain, namespace, serviceAccount);
  }

  /** Accepts either a SpiffeId or its URI form. */
  static from(id: SpiffeId | string): SpiffeId {
    return typeof id === "string" ? SpiffeId.parse(id) : id;
  }

  toString(): string {
    return this.#uri;
  }

  toJSON(): string {
    return this.#uri;
  }

  /** The AuthorizationPolicy `principals` form: the id without its `spiffe://` scheme. */
  get principal(): string {
    return this.#uri.slice(PREFIX.length);
  }

  equals(other: SpiffeId): boolean {
    return this.#uri === other.toString();
  }
}

/** What `tls.TLSSocket#getPeerCertificate()` returns (only the DER is needed). */
export interface PeerCertificateLike {
  readonly raw: Buffer;
}

/**
 * The workload identity a certificate proves: its single URI SAN. Throws ID_ERR_NO_URI_SAN,
 * ID_ERR_MULTIPLE_URI_SANS or ID_ERR_BAD_SPIFFE_ID. Reads the SAN extension from the DER, so quoting
 * rules of OpenSSL's text rendering never matter.
 */
export function identityFromCertificate(cert: X509Certificate | PeerCertificateLike): SpiffeId {
  const der = cert.raw;
  if (!Buffer.isBuffer(der) || der.length === 0) {
    throw new IdentityError("ID_ERR_NO_URI_SAN", "the peer presented no certificate (empty DER)");
  }
  const uris = uriSansOfCertificate(der);
  if (uris.length === 0) {
    const subject = cert instanceof X509Certificate ? cert.subject : "";
    throw new IdentityError(
      "ID_ERR_NO_URI_SAN",
      `certificate ${subject ? `"${subject}" ` : ""}has no URI SAN: workload certificates must carry their SPIFFE id as a URI SAN`,
    );
  }
  if (uris.length > 1) {
    throw new IdentityError(
      "ID_ERR_MULTIPLE_URI_SANS",
      `certificate has ${uris.length} URI SANs (${uris.join(", ")}); a workload certificate must name exactly one identity`,
    );
  }
  return SpiffeId.parse(uris[0] as string);
}
