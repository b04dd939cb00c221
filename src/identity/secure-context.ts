import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import type { WorkloadCredential } from "./credential.js";

// Building a context costs ~2 ms of CPU (PLATFORM-NOTES.md), far more than a handshake's share, so each
// credential's context is built once. Bounded so a long-lived daemon rotating for years stays small.
const MAX_CACHED = 4096;
const cache = new Map<string, { rootsPem: string; context: SecureContext }>();

/**
 * A TLS context presenting `cred` and trusting its roots, memoised by serial (and `extra`, if given).
 * A rotated credential has a new serial, so it gets a new context; contexts already in use by open
 * connections are untouched.
 */
export function secureContextFor(cred: WorkloadCredential, extra?: SecureContextOptions): SecureContext {
  const key = extra === undefined ? cred.serial : `${cred.serial}|${JSON.stringify(extra)}`;
  const hit = cache.get(key);
  if (hit !== undefined && hit.rootsPem === cred.rootsPem) return hit.context;
  const context = createSecureContext({
    ...extra,
    key: cred.keyPem,
    cert: cred.certChainPem,
    ca: cred.rootsPem,
  });
  if (hit !== undefined) cache.delete(key);
  cache.set(key, { rootsPem: cred.rootsPem, context });
  if (cache.size > MAX_CACHED) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return context;
}

/** Drops memoised contexts (after `CertStore#forget`, or in tests). */
export function clearSecureContextCache(serial?: string): void {
  if (serial === undefined) {
    cache.clear();
    return;
  }
  for (const key of [...cache.keys()]) if (key === serial || key.startsWith(`${serial}|`)) cache.delete(key);
}

/**
 * The plain options presenting `cred`, for servers that build their own context:
 * `tls.createServer({ ...tlsOptionsFor(cred), requestCert: true })`, and on rotation
 * `server.setSecureContext(tlsOptionsFor(next))`, which only affects handshakes that start afterwards.
 */
export function tlsOptionsFor(cred: WorkloadCredential): { key: string; cert: string; ca: string } {
  return { key: cred.keyPem, cert: cred.certChainPem, ca: cred.rootsPem };
}
