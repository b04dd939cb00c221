/**
 * Hostile certificates and TLS handshakes, both directions of HBONE:
 * - `15008-tls`: a client presents the certificate to the real ztunnel's HBONE listener; the
 *   server must refuse the session (GOAWAY INADEQUATE_SECURITY carrying the code) or fail the
 *   handshake, and count it in `ambit_hbone_handshake_errors_total{direction="inbound"}`.
 * - `hbone-client-tls`: a hostile server presents it to the real `HbonePool`, which must fail the
 *   connect with the code (and count a handshake error).
 * Certificates are recipes, made per run by openssl (test/security/forge.ts) or the mesh CA.
 */
import type { HboneErrorCode } from "../../../src/hbone/errors.js";

export type Issuer =
  /** The mesh CA (the root every ztunnel trusts). */
  | "mesh"
  /** Self-signed: an attacker's own certificate. */
  | "self"
  /** A root the mesh does not trust, with the same subject as the mesh's (`O=cluster.local`). */
  | "look-alike-root"
  /** An intermediate of the mesh root, sent in the chain. */
  | "mesh-intermediate"
  /** An intermediate of the mesh root, NOT sent (the peer cannot build the path). */
  | "unsent-intermediate"
  /** A mesh-issued leaf (CA:FALSE) used as an issuer, sent in the chain. */
  | "leaf-as-issuer";

export type CertRecipe =
  /** A correct mesh certificate from the CA's own code path, optionally out of its validity window. */
  | { readonly kind: "issued"; readonly identity: string; readonly validity?: "expired" | "not-yet-valid" }
  /** Anything openssl will sign. */
  | {
      readonly kind: "forged";
      readonly issuer: Issuer;
      readonly sans: readonly string[];
      readonly ca?: boolean;
      readonly keyUsage?: string;
      readonly extendedKeyUsage?: string;
      /** Also send the look-alike root in the chain. */
      readonly sendRoot?: boolean;
    }
  /** A correct mesh certificate whose serial (or whose intermediate's) is then revoked over xDS. */
  | { readonly kind: "revoked"; readonly identity: string; readonly which: "leaf" | "intermediate" }
  /** No certificate at all (client side only). */
  | { readonly kind: "none" };

export type TlsOutcome =
  /** The handshake completed and the peer was refused with this code. */
  | { readonly refused: HboneErrorCode }
  /** The TLS handshake itself failed: the error code the connecting side saw. */
  | { readonly tlsError: string }
  /** Accepted: the CONNECT to the echo pod is answered 200 (a control case). */
  | { readonly served: 200 };

export interface TlsCase {
  readonly name: string;
  readonly target: "15008-tls" | "hbone-client-tls";
  readonly present: CertRecipe;
  /** Client-side handshake variations (15008 only). */
  readonly client?: { readonly maxVersion?: "TLSv1.2"; readonly alpn?: readonly string[] };
  /** Server-side variations (hbone-client-tls only). */
  readonly server?: { readonly maxVersion?: "TLSv1.2"; readonly alpn?: readonly string[] };
  readonly expect: TlsOutcome;
  /** The counter the ztunnel (15008) must raise; default the `refused` code. */
  readonly counted?: HboneErrorCode;
  readonly why?: string;
}

const TD = "spiffe://cluster.local";
const CLIENT = `${TD}/ns/default/sa/client`;
const SERVER = `${TD}/ns/default/sa/server`;
const URI = (id: string): string => `URI:${id}`;

/** Every way a certificate can be wrong, presented by whoever `who` names. */
function certificateCases(target: TlsCase["target"], who: string): TlsCase[] {
  const forged = (
    issuer: Issuer,
    sans: readonly string[],
    extra: Partial<Extract<CertRecipe, { kind: "forged" }>> = {},
  ): CertRecipe => ({ kind: "forged", issuer, sans, ...extra });
  const server = target === "hbone-client-tls";
  return [
    {
      name: "forged: self-signed leaf with a valid-looking SPIFFE SAN",
      target,
      present: forged("self", [URI(who)]),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
    },
    {
      name: "signed by an unknown CA named like the mesh CA (O=cluster.local)",
      target,
      present: forged("look-alike-root", [URI(who)]),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
    },
    {
      name: "signed by an unknown CA, the look-alike root sent in the chain",
      target,
      present: forged("look-alike-root", [URI(who)], { sendRoot: true }),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
    },
    {
      name: "expired (notAfter an hour ago)",
      target,
      present: { kind: "issued", identity: who, validity: "expired" },
      expect: { refused: "HBONE_ERR_CERT_EXPIRED" },
    },
    {
      name: "not yet valid (notBefore in an hour)",
      target,
      present: { kind: "issued", identity: who, validity: "not-yet-valid" },
      expect: { refused: "HBONE_ERR_CERT_NOT_YET_VALID" },
    },
    {
      name: "wrong trust domain, signed by the mesh CA",
      target,
      present: forged("mesh", [URI(who.replace("cluster.local", "evil.example"))]),
      // The client pins the expected identities, so another domain is simply another identity.
      expect: { refused: server ? "HBONE_ERR_IDENTITY_MISMATCH" : "HBONE_ERR_TRUST_DOMAIN" },
    },
    {
      name: "no subjectAltName at all",
      target,
      present: forged("mesh", []),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "DNS-only SAN",
      target,
      present: forged("mesh", ["DNS:client.default.svc.cluster.local"]),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "two URI SANs (two identities in one certificate)",
      target,
      present: forged("mesh", [URI(who), URI(`${TD}/ns/kube-system/sa/admin`)]),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "non-spiffe URI SAN",
      target,
      present: forged("mesh", ["URI:https://client.default.svc"]),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "spiffe URI without the /ns/<ns>/sa/<sa> path",
      target,
      present: forged("mesh", [`URI:${TD}/client`]),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "spiffe URI with a query string",
      target,
      present: forged("mesh", [URI(`${who}?admin=true`)]),
      expect: { refused: "HBONE_ERR_BAD_SAN" },
    },
    {
      name: "leaf with CA:TRUE",
      target,
      present: forged("mesh", [URI(who)], { ca: true, keyUsage: "digitalSignature,keyCertSign" }),
      expect: { refused: "HBONE_ERR_NOT_LEAF" },
      why: "an X509-SVID leaf must have cA=false (SPIFFE X509-SVID §4.1); found by this corpus",
    },
    {
      name: server
        ? "extended key usage clientAuth only (not valid for a server)"
        : "extended key usage serverAuth only (not valid for a client)",
      target,
      present: forged("mesh", [URI(who)], { extendedKeyUsage: server ? "clientAuth" : "serverAuth" }),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
      why: "OpenSSL's purpose check (X509_V_ERR_INVALID_PURPOSE)",
    },
    {
      name: "key usage keyCertSign only (no digitalSignature)",
      target,
      present: forged("mesh", [URI(who)], { keyUsage: "keyCertSign" }),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
      why: "OpenSSL's purpose check rejects a TLS peer whose key usage forbids signing",
    },
    {
      name: "signed by a mesh intermediate that is not sent",
      target,
      present: forged("unsent-intermediate", [URI(who)]),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
    },
    {
      name: "signed by a mesh leaf posing as an intermediate (CA:FALSE issuer)",
      target,
      present: forged("leaf-as-issuer", [URI(who)]),
      expect: { refused: "HBONE_ERR_UNTRUSTED_PEER" },
    },
    {
      name: "revoked leaf (serial pushed in the trust bundle)",
      target,
      present: { kind: "revoked", identity: who, which: "leaf" },
      expect: { refused: "HBONE_ERR_CERT_REVOKED" },
    },
    {
      name: "valid leaf under a revoked intermediate",
      target,
      present: { kind: "revoked", identity: who, which: "intermediate" },
      expect: { refused: "HBONE_ERR_CERT_REVOKED" },
    },
  ];
}

/** Controls: certificates that are odd but right must be served, so the refusals above mean something. */
const CONTROLS: TlsCase[] = [
  {
    name: "control: a mesh certificate with an extra DNS SAN is served",
    target: "15008-tls",
    present: { kind: "forged", issuer: "mesh", sans: [URI(CLIENT), "DNS:client.default"] },
    expect: { served: 200 },
  },
  {
    name: "control: a leaf of a mesh intermediate, chain sent, is served",
    target: "15008-tls",
    present: { kind: "forged", issuer: "mesh-intermediate", sans: [URI(CLIENT)] },
    expect: { served: 200 },
  },
  {
    name: "control: a certificate issued by the mesh CA's own code path is served",
    target: "15008-tls",
    present: { kind: "issued", identity: CLIENT },
    expect: { served: 200 },
  },
];

const HANDSHAKES: TlsCase[] = [
  {
    name: "no client certificate",
    target: "15008-tls",
    present: { kind: "none" },
    expect: { refused: "HBONE_ERR_NO_PEER_CERT" },
  },
  {
    name: "TLS 1.2-only client",
    target: "15008-tls",
    present: { kind: "issued", identity: CLIENT },
    client: { maxVersion: "TLSv1.2" },
    expect: { tlsError: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" },
    counted: "HBONE_ERR_HANDSHAKE",
    why: "HBONE is TLS 1.3 only: the server answers a protocol_version alert",
  },
  {
    name: "client offers ALPN http/1.1 only",
    target: "15008-tls",
    present: { kind: "issued", identity: CLIENT },
    client: { alpn: ["http/1.1"] },
    expect: { tlsError: "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL" },
    counted: "HBONE_ERR_HANDSHAKE",
  },
  {
    name: "hostile server: TLS 1.2 only",
    target: "hbone-client-tls",
    present: { kind: "issued", identity: SERVER },
    server: { maxVersion: "TLSv1.2" },
    expect: { refused: "HBONE_ERR_HANDSHAKE" },
  },
  {
    name: "hostile server: no ALPN h2",
    target: "hbone-client-tls",
    present: { kind: "issued", identity: SERVER },
    server: { alpn: ["http/1.1"] },
    expect: { refused: "HBONE_ERR_HANDSHAKE" },
  },
  {
    name: "hostile server: another mesh identity than expected",
    target: "hbone-client-tls",
    present: { kind: "issued", identity: `${TD}/ns/default/sa/intruder` },
    expect: { refused: "HBONE_ERR_IDENTITY_MISMATCH" },
  },
];

export const TLS_CASES: readonly TlsCase[] = [
  ...certificateCases("15008-tls", CLIENT),
  ...CONTROLS,
  ...certificateCases("hbone-client-tls", SERVER),
  ...HANDSHAKES,
];
