/**
 * May an inbound connection reach its target? Pure over the state, like `decide-outbound.ts`.
 * The target must be a workload on this node (ztunnel is never an open relay: not the control
 * plane, a node address, loopback or another node's pod), enrolled in the mesh; then L4
 * AuthorizationPolicy (and PeerAuthentication, which the control plane sends as policies) decide.
 * The peer identity comes from the verified client certificate only; plaintext has none.
 */
import { hostPort } from "./addresses.js";
import type { AuthzResult, L4Authorizer } from "./authz.js";
import type { WorkloadInfo, ZtunnelState } from "./state.js";

export interface InboundRequest {
  /** SPIFFE URI from the peer certificate; undefined on the plaintext listener. */
  readonly peerIdentity: string | undefined;
  readonly peerIp: string;
  readonly target: { readonly ip: string; readonly port: number };
}

export type InboundDecision =
  | {
      readonly kind: "allow";
      readonly workload: WorkloadInfo;
      readonly authz: AuthzResult;
      /** Monitor mode: the policy said deny but traffic is only observed ("would deny"). */
      readonly wouldDeny: boolean;
    }
  | {
      readonly kind: "deny";
      /** HTTP status for HBONE: 403 for policy / not-local, 503 when the target is unusable. */
      readonly status: 403 | 503;
      /** ZT_ERR_NOT_LOCAL for a target this ztunnel must not reach, ZT_ERR_DENIED for policy. */
      readonly code: "ZT_ERR_NOT_LOCAL" | "ZT_ERR_DENIED";
      readonly reason: string;
      readonly workload: WorkloadInfo | undefined;
      readonly authz: AuthzResult | undefined;
    };

export function decideInbound(
  state: ZtunnelState,
  authorizer: L4Authorizer,
  req: InboundRequest,
): InboundDecision {
  const where = hostPort(req.target.ip, req.target.port);
  const w = state.workloadByIp(req.target.ip);
  if (w === undefined) {
    return {
      kind: "deny",
      status: 403,
      code: "ZT_ERR_NOT_LOCAL",
      reason: `target ${where} is not a workload; ztunnel forwards only to local workloads`,
      workload: undefined,
      authz: undefined,
    };
  }
  if (!state.isLocal(w)) {
    return {
      kind: "deny",
      status: 403,
      code: "ZT_ERR_NOT_LOCAL",
      reason: `target ${where} (${w.uid}) runs on node "${w.node}", not on this node`,
      workload: w,
      authz: undefined,
    };
  }
  if (w.tunnel !== "hbone" && w.mode !== "monitor") {
    return {
      kind: "deny",
      status: 403,
      code: "ZT_ERR_NOT_LOCAL",
      reason: `target ${where} (${w.uid}) is not enrolled in the mesh`,
      workload: w,
      authz: undefined,
    };
  }
  if (req.target.port < 1 || req.target.port > 65535 || req.target.port === 15008) {
    return {
      kind: "deny",
      status: 403,
      code: "ZT_ERR_NOT_LOCAL",
      reason: `target port ${req.target.port} is not allowed`,
      workload: w,
      authz: undefined,
    };
  }
  const authz = authorizer.evaluate(w, {
    peerIdentity: req.peerIdentity,
    sourceIp: req.peerIp,
    destinationIp: req.target.ip,
    destinationPort: req.target.port,
  });
  if (authz.decision === "deny") {
    if (w.mode === "monitor") return { kind: "allow", workload: w, authz, wouldDeny: true };
    return { kind: "deny", status: 403, code: "ZT_ERR_DENIED", reason: authz.reason, workload: w, authz };
  }
  return { kind: "allow", workload: w, authz, wouldDeny: false };
}
