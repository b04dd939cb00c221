/**
 * Which identities a data-plane caller may get certificates for (DESIGN §3, §10): a node's
 * ztunnel only the service accounts of workloads scheduled on that node; a waypoint only its own.
 * Pure, decided over the registry; the CA handler executes the decision.
 */
import type { SpiffeId } from "../identity/spiffe.js";
import type { Registry } from "./registry.js";

export type DataPlaneCaller =
  | { kind: "node"; id: string; node: string }
  | { kind: "waypoint"; id: string; namespace: string; name: string };

export type CaDecision = { allowed: true } | { allowed: false; reason: string };

export function mayIssue(
  caller: DataPlaneCaller,
  identity: SpiffeId,
  registry: Registry,
  trustDomain: string,
): CaDecision {
  if (identity.trustDomain !== trustDomain) {
    return {
      allowed: false,
      reason: `trust domain ${identity.trustDomain} is not the mesh's (${trustDomain})`,
    };
  }
  if (caller.kind === "waypoint") {
    return identity.namespace === caller.namespace && identity.serviceAccount === caller.name
      ? { allowed: true }
      : {
          allowed: false,
          reason: `waypoint ${caller.namespace}/${caller.name} may only get its own identity`,
        };
  }
  const local = registry.workloads.some(
    (w) =>
      w.node === caller.node &&
      w.namespace === identity.namespace &&
      w.serviceAccount === identity.serviceAccount &&
      w.phase === "Running",
  );
  return local
    ? { allowed: true }
    : {
        allowed: false,
        reason: `no workload with service account ${identity.namespace}/${identity.serviceAccount} runs on node ${caller.node}`,
      };
}
