import { X509Certificate } from "node:crypto";
import { IdentityError } from "./errors.js";
import { splitCertificates } from "./pem.js";

export interface TrustRoot {
  /** SHA-256 fingerprint, colon-separated uppercase hex (as `X509Certificate#fingerprint256`). */
  readonly fingerprint: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly pem: string;
}

/**
 * The set of roots a workload accepts peer certificates from. Root rotation trusts old and new roots at
 * once: the new root is added (and distributed) before it signs anything, the old one removed after every
 * certificate it signed has expired.
 */
export class TrustBundle {
  readonly #roots = new Map<string, TrustRoot>();
  #pem = "";
  #version = 0;

  constructor(pems: string | readonly string[] = []) {
    for (const pem of typeof pems === "string" ? [pems] : pems) this.add(pem);
  }

  /** Adds every certificate in `pem` (one or several); each must be a CA certificate. Returns the new roots. */
  add(pem: string): TrustRoot[] {
    const certs = splitCertificates(pem);
    if (certs.length === 0) {
      throw new IdentityError("ID_ERR_BAD_PEM", "the trust bundle entry holds no PEM CERTIFICATE block");
    }
    const parsed = certs.map((p) => ({ pem: p, cert: new X509Certificate(p) }));
    for (const { cert } of parsed) {
      if (!cert.ca) {
        throw new IdentityError(
          "ID_ERR_BAD_CA_MATERIAL",
          `"${cert.subject ?? "(empty subject)"}" is not a CA certificate and cannot be a trust root`,
        );
      }
    }
    const added: TrustRoot[] = [];
    for (const { pem: p, cert } of parsed) {
      if (this.#roots.has(cert.fingerprint256)) continue;
      const root: TrustRoot = Object.freeze({
        fingerprint: cert.fingerprint256,
        subject: cert.subject ?? "",
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
        pem: p,
      });
      this.#roots.set(root.fingerprint, root);
      added.push(root);
    }
    if (added.length > 0) this.#changed();
    return added;
  }

  /** Removes a root by fingerprint (any case, with or without colons) or by its PEM. */
  remove(fingerprintOrPem: string): boolean {
    const fingerprint = fingerprintOrPem.includes("-----BEGIN")
      ? new X509Certificate(fingerprintOrPem).fingerprint256
      : normaliseFingerprint(fingerprintOrPem);
    const removed = this.#roots.delete(fingerprint);
    if (removed) this.#changed();
    return removed;
  }

  has(fingerprint: string): boolean {
    return this.#roots.has(normaliseFingerprint(fingerprint));
  }

  list(): TrustRoot[] {
    return [...this.#roots.values()];
  }

  get size(): number {
    return this.#roots.size;
  }

  /** Bumped on every change, so holders of derived state (TLS contexts) can tell when to rebuild. */
  get version(): number {
    return this.#version;
  }

  /** All roots, concatenated PEM (what `tls` `ca` takes). */
  pem(): string {
    return this.#pem;
  }

  #changed(): void {
    this.#version++;
    this.#pem = [...this.#roots.values()].map((r) => r.pem).join("");
  }
}

function normaliseFingerprint(s: string): string {
  const hex = s.replace(/:/g, "").toUpperCase();
  return hex.match(/.{1,2}/g)?.join(":") ?? "";
}
