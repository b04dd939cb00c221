import { CertificateAuthority } from "./ca.js";
import { credentialFromIssued, type WorkloadCredential } from "./credential.js";
import { generateKeyPair } from "./keys.js";
import { SpiffeId } from "./spiffe.js";

export interface TestIssueOptions {
  ttlSeconds?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Another CA (an intermediate from `pki.ca.createIntermediate()`, or a second root) to sign with. */
  ca?: CertificateAuthority;
}

export interface TestPki {
  readonly ca: CertificateAuthority;
  /** The root of `ca`, PEM: give it to peers as their trust bundle. */
  readonly rootsPem: string;
  /** A fresh key and certificate for `identity` ("spiffe://…" or a SpiffeId), in ~1 ms. */
  issue(identity: string | SpiffeId, opts?: TestIssueOptions): WorkloadCredential;
}

/**
 * A throw-away PKI for tests of other areas: a self-signed root in memory (nothing on disk) that accepts
 * TTLs down to 1 second. Certificates are real: OpenSSL and Node verify them like production ones.
 */
export function createTestPki(opts: { trustDomain?: string; ca?: CertificateAuthority } = {}): TestPki {
  // A given CA (e.g. one whose key a test also holds, to forge odd certificates with openssl).
  const ca =
    opts.ca ??
    CertificateAuthority.createSelfSigned({
      ...(opts.trustDomain !== undefined ? { trustDomain: opts.trustDomain } : {}),
      minTtlSeconds: 1,
    });
  return {
    ca,
    rootsPem: ca.rootPem(),
    issue(identity, issueOpts = {}) {
      const id = SpiffeId.from(identity);
      const signer = issueOpts.ca ?? ca;
      const { privateKey, publicKey } = generateKeyPair();
      const issued = signer.sign(publicKey, {
        identity: id,
        ...(issueOpts.ttlSeconds !== undefined ? { ttlSeconds: issueOpts.ttlSeconds } : {}),
        ...(issueOpts.notBefore !== undefined ? { notBefore: issueOpts.notBefore } : {}),
        ...(issueOpts.notAfter !== undefined ? { notAfter: issueOpts.notAfter } : {}),
      });
      return credentialFromIssued(id, privateKey, issued);
    },
  };
}
