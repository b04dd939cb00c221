/**
 * The effective mTLS mode of a workload port, per Istio's PeerAuthentication precedence
 * (istio.io/latest/docs/reference/config/security/peer_authentication/ and the ambient conversion in
 * istiod's ambient/authorization.go): mesh (root namespace, no selector) → namespace (no selector) →
 * workload (selector) → port (`portLevelMtls` of that workload policy). UNSET inherits from the level
 * above; with nothing set the mode is PERMISSIVE. In ambient mode DISABLE behaves as PERMISSIVE
 * (ztunnel always speaks mTLS to other ambient workloads and accepts plaintext), so only STRICT rejects.
 */
import type { MtlsMode } from "../api/types.js";
import type { PolicySet } from "./policy-set.js";

export type EffectiveMtlsLevel = "default" | "mesh" | "namespace" | "workload" | "port";

export interface EffectiveMtls {
  /** Never UNSET: inheritance is resolved. */
  readonly mode: Exclude<MtlsMode, "UNSET">;
  /** `namespace/name` of the PeerAuthentication that set the mode; null for the built-in default. */
  readonly policy: string | null;
  readonly level: EffectiveMtlsLevel;
}

const DEFAULT: EffectiveMtls = Object.freeze({ mode: "PERMISSIVE", policy: null, level: "default" });

export interface MtlsDestination {
  namespace: string;
  labels: Record<string, string>;
  /** The workload port; port-level settings apply only when it is given. */
  port?: number;
}

export function effectiveMtlsMode(set: PolicySet, destination: MtlsDestination): EffectiveMtls {
  const levels = set.peerAuthenticationsFor(destination.namespace, destination.labels);
  let result = DEFAULT;
  const apply = (mode: MtlsMode | undefined, policy: string, level: EffectiveMtlsLevel): void => {
    if (mode !== undefined && mode !== "UNSET") result = { mode, policy, level };
  };
  if (levels.mesh !== null) apply(levels.mesh.mode, levels.mesh.key, "mesh");
  if (levels.namespace !== null) apply(levels.namespace.mode, levels.namespace.key, "namespace");
  const w = levels.workload;
  if (w !== null) {
    apply(w.mode, w.key, "workload");
    if (destination.port !== undefined) apply(w.portModes.get(destination.port), w.key, "port");
  }
  return result;
}
