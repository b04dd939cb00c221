import type { KeyObject } from "node:crypto";
import type { IssuedCertificate } from "./ca.js";
import { privateKeyPem } from "./keys.js";
import type { RevocationList } from "./revocation.js";
import type { SpiffeId } from "./spiffe.js";

/** Everything a workload needs to do mTLS as `identity`. Immutable; a rotation makes a new one. */
export interface WorkloadCredential {
  readonly identity: SpiffeId;
  /** PKCS#8 PEM. Never log or dump it. */
  readonly keyPem: string;
  /** The leaf then its intermediates, concatenated PEM: what `tls` `cert` takes. */
  readonly certChainPem: string;
  /** The trust bundle: every root this workload accepts peers from, concatenated PEM. */
  readonly rootsPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial of the leaf, uppercase hex as `X509Certificate#serialNumber`. */
  readonly serial: string;
  /** The mesh's revoked serials (pushed with the trust bundle), shared live by a store's credentials. */
  readonly revoked?: RevocationList;
}

export function credentialFromIssued(
  identity: SpiffeId,
  privateKey: KeyObject,
  issued: IssuedCertificate,
  rootsPem: string = issued.rootPem,
): WorkloadCredential {
  return Object.freeze({
    identity,
    keyPem: privateKeyPem(privateKey),
    certChainPem: [issued.certPem, ...issued.chainPem].join(""),
    rootsPem,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    serial: issued.serial,
  });
}
