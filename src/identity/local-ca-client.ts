import type { CertificateAuthority } from "./ca.js";
import type { CaClient, CaResponse } from "./cert-store.js";
import { IdentityError } from "./errors.js";
import type { SpiffeId } from "./spiffe.js";
import type { TrustBundle } from "./trust-bundle.js";

export interface LocalCaClientOptions {
  /** Roots to hand out; defaults to the CA's own root. During root rotation, a bundle with old and new. */
  trustBundle?: TrustBundle;
  /** Decides whether this caller may hold `identity` (the control plane checks node scheduling here). */
  authorize?: (identity: SpiffeId) => boolean;
}

/** A CaClient backed by an in-process CA: for the control plane's own use and for tests. */
export function localCaClient(ca: CertificateAuthority, opts: LocalCaClientOptions = {}): CaClient {
  return {
    async requestCertificate(identity: SpiffeId, csrPem: string, ttlSeconds: number): Promise<CaResponse> {
      if (opts.authorize !== undefined && !opts.authorize(identity)) {
        throw new IdentityError(
          "ID_ERR_CSR_IDENTITY_MISMATCH",
          `this caller may not obtain a certificate for ${identity}`,
        );
      }
      const issued = ca.signCsr(csrPem, { identity, ttlSeconds });
      return {
        certChainPem: [issued.certPem, ...issued.chainPem],
        rootsPem:
          opts.trustBundle !== undefined ? opts.trustBundle.list().map((r) => r.pem) : [issued.rootPem],
      };
    },
  };
}
