/**
 * `ambit.security.TrustBundle`: the mesh's roots and forced-renewal requests, pushed over delta ADS
 * to every ztunnel and waypoint. Istio's ztunnel learns roots only from CSR answers and a mounted
 * file; ambit pushes them so that each node's ACK tells the control plane which bundle it holds,
 * which root rotation waits for before it switches signing.
 */
import { X509Certificate } from "node:crypto";
import { create, type Message } from "@bufbuild/protobuf";
import type { CertStore } from "../identity/cert-store.js";
import { isSerial, normaliseSerial } from "../identity/revocation.js";
import type { SpiffeId } from "../identity/spiffe.js";
import type { XdsChange } from "./client.js";
import { type TrustBundle, TrustBundleSchema } from "./gen/ambit/security/trust_bundle_pb.js";
import { defineResourceType, type XdsResourceType } from "./resource-types.js";
import { typeUrlOf } from "./type-urls.js";

export const TRUST_BUNDLE_TYPE_URL = typeUrlOf(TrustBundleSchema);
/** The single resource of the type. */
export const TRUST_BUNDLE_RESOURCE = "mesh";

export const TRUST_BUNDLE_LIMITS = {
  roots: 16,
  rootBytes: 16 * 1024,
  rotations: 1024,
  revokedSerials: 16_384,
} as const;

export interface MeshTrustBundle {
  readonly rootsPem: readonly string[];
  /** namespace ("" = all) → generation; a rise asks nodes to renew now. */
  readonly rotations: ReadonlyMap<string, number>;
  /** Revoked certificate serials (normalised hex), still unexpired. */
  readonly revokedSerials?: readonly string[];
}

export function trustBundleMessage(b: MeshTrustBundle): TrustBundle {
  return create(TrustBundleSchema, {
    rootsPem: [...b.rootsPem],
    rotations: [...b.rotations].map(([namespace, generation]) => ({
      namespace,
      generation: BigInt(generation),
    })),
    revokedSerials: [...(b.revokedSerials ?? [])],
  });
}

export function validateTrustBundle(b: TrustBundle, name: string): string | null {
  if (name !== TRUST_BUNDLE_RESOURCE)
    return `name: "${name.slice(0, 64)}", expected "${TRUST_BUNDLE_RESOURCE}"`;
  if (b.rootsPem.length === 0) return "roots_pem: empty; a bundle needs at least one root";
  if (b.rootsPem.length > TRUST_BUNDLE_LIMITS.roots) {
    return `roots_pem: ${b.rootsPem.length} roots, at most ${TRUST_BUNDLE_LIMITS.roots}`;
  }
  for (const [i, pem] of b.rootsPem.entries()) {
    if (pem.length > TRUST_BUNDLE_LIMITS.rootBytes)
      return `roots_pem[${i}]: ${pem.length} bytes, at most ${TRUST_BUNDLE_LIMITS.rootBytes}`;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      return `roots_pem[${i}]: not a PEM certificate`;
    }
    if (!cert.ca) return `roots_pem[${i}]: "${cert.subject}" is not a CA certificate`;
  }
  if (b.rotations.length > TRUST_BUNDLE_LIMITS.rotations) {
    return `rotations: ${b.rotations.length} entries, at most ${TRUST_BUNDLE_LIMITS.rotations}`;
  }
  if (b.revokedSerials.length > TRUST_BUNDLE_LIMITS.revokedSerials) {
    return `revoked_serials: ${b.revokedSerials.length} entries, at most ${TRUST_BUNDLE_LIMITS.revokedSerials}`;
  }
  for (const [i, serial] of b.revokedSerials.entries()) {
    if (!isSerial(serial))
      return `revoked_serials[${i}]: ${JSON.stringify(serial.slice(0, 64))} is not a certificate serial (hex, at most 20 octets)`;
  }
  return null;
}

export const TRUST_BUNDLE_TYPE: XdsResourceType = defineResourceType(TrustBundleSchema, validateTrustBundle);

/** Result of one applied bundle, for logs and tests. */
export interface TrustBundleApplied {
  readonly rootsChanged: boolean;
  /** Identities renewed because their namespace's rotation generation rose. */
  readonly renewing: readonly SpiffeId[];
  readonly renewals: Promise<void>;
  /** Serials that were not on the list before this bundle. */
  readonly revoked: readonly string[];
}

/**
 * Applies pushed bundles to a proxy's certificate store: new handshakes trust the new roots at once, and
 * a risen rotation generation renews the matching held certificates. The first bundle a process sees
 * only records the generations: its certificates were fetched after those requests anyway.
 */
export class TrustBundleFollower {
  readonly #certs: CertStore;
  #generations: Map<string, bigint> | undefined;

  constructor(certs: CertStore) {
    this.#certs = certs;
  }

  /** Handles one xDS change (any type; others are ignored). Returns undefined when it carried no bundle. */
  apply(change: XdsChange): TrustBundleApplied | undefined {
    if (change.typeUrl !== TRUST_BUNDLE_TYPE_URL) return undefined;
    const message = change.upserted.get(TRUST_BUNDLE_RESOURCE) as Message as TrustBundle | undefined;
    if (message === undefined) return undefined;
    const before = this.#certs.trustBundle();
    this.#certs.setTrustBundle(message.rootsPem.join(""));
    const rootsChanged = before !== this.#certs.trustBundle();
    const previous = this.#generations;
    this.#generations = new Map(message.rotations.map((r) => [r.namespace, r.generation]));
    const revoked = this.#certs.revocations.replace(message.revokedSerials);
    const renewing: SpiffeId[] = [];
    const risen = (ns: string): boolean =>
      previous !== undefined && (this.#generations?.get(ns) ?? 0n) > (previous.get(ns) ?? 0n);
    for (const cred of this.#certs.list()) {
      // A certificate of our own on the list is useless (every peer refuses it): replace it now.
      const ownRevoked = this.#certs.revocations.has(normaliseSerial(cred.serial));
      if (ownRevoked || risen("") || risen(cred.identity.namespace)) renewing.push(cred.identity);
    }
    const renewals = Promise.allSettled(renewing.map((id) => this.#certs.rotate(id))).then((rs) => {
      const failed = rs.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    });
    return { rootsChanged, renewing, renewals, revoked };
  }
}
