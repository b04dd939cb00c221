/**
 * Every waypoint and what is bound to it, as `ambit status` shows it. Istio's semantics:
 * - a service or pod whose `istio.io/use-waypoint` names a Gateway that does not exist gets no
 *   waypoint at all (istiod's `fetchWaypointForTarget` returns nil): its traffic goes straight to
 *   the destination, and the object carries condition `istio.io/WaypointBound=False`, reason
 *   `WaypointIsNotReady`. Here that waypoint is listed as `missing` with those objects;
 * - a Gateway that exists but whose proxy is not running yet still has an address, so ztunnels send
 *   the bound traffic to it and those connections fail (nothing bypasses an existing waypoint):
 *   `not ready`, with the reason;
 * - `ready` once the waypoint pod runs and its proxy holds the control plane's address snapshot
 *   (its xDS stream ACKed it, which it can only do after it started, i.e. after `ambit up` installed
 *   its HBONE exemption).
 * Pure over the registry, the Gateways and the xDS clients.
 */
import type { DataPlaneCaller } from "./ca-authz.js";
import { type Registry, WAYPOINT_FOR_LABEL } from "./registry.js";
import type { StoredResource } from "./store.js";
import { waypointGateways } from "./translate-l7.js";

export type WaypointState = "ready" | "not ready" | "missing";

/** Istio's `istio.io/WaypointBound` condition of a bound service or workload. */
export interface WaypointBinding {
  /** `Service/ns/name`, `ServiceEntry/ns/name` or a workload uid. */
  readonly object: string;
  readonly status: boolean;
  readonly reason: "WaypointAccepted" | "WaypointIsNotReady";
  readonly message: string;
}

export interface WaypointStatus {
  readonly namespace: string;
  readonly name: string;
  /** `istio.io/waypoint-for` (service, workload, all, none); null when missing. */
  readonly for: string | null;
  readonly address: string | null;
  readonly state: WaypointState;
  readonly reason: string;
  readonly bound: readonly WaypointBinding[];
}

export interface XdsClientView {
  readonly caller: DataPlaneCaller;
  readonly types: readonly { readonly typeUrl: string; readonly lastAcked?: unknown }[];
}

export function waypointStatuses(
  registry: Pick<Registry, "services" | "workloads" | "problems">,
  resources: readonly StoredResource[],
  clients: readonly XdsClientView[],
  addressTypeUrl: string,
): WaypointStatus[] {
  const out: WaypointStatus[] = [];
  const gatewayFor = new Map<string, string>();
  for (const r of resources)
    if (r.kind === "Gateway")
      gatewayFor.set(
        `${r.metadata.namespace ?? "default"}/${r.metadata.name}`,
        r.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? "service",
      );
  for (const key of waypointGateways(resources)) {
    const [namespace = "", name = ""] = key.split("/");
    const mine = (ref: { namespace: string; name: string } | undefined): boolean =>
      ref?.namespace === namespace && ref.name === name;
    const pod = registry.workloads.find(
      (w) => w.isWaypoint && w.namespace === namespace && w.serviceAccount === name,
    );
    const service = registry.services.find(
      (s) => s.kind === "Service" && s.namespace === namespace && s.name === name,
    );
    const client = clients.find(
      (c) => c.caller.kind === "waypoint" && c.caller.namespace === namespace && c.caller.name === name,
    );
    const synced =
      client?.types.some((t) => t.typeUrl === addressTypeUrl && t.lastAcked !== undefined) ?? false;
    let state: WaypointState = "ready";
    let reason = "the proxy is running and has the mesh's addresses";
    if (pod === undefined || pod.phase !== "Running") {
      state = "not ready";
      reason = "its pod is not scheduled (no node, or no address yet); bound traffic fails";
    } else if (client === undefined) {
      state = "not ready";
      reason = "its proxy is not connected to the control plane; bound traffic fails";
    } else if (!synced) {
      state = "not ready";
      reason = "its proxy has not acknowledged the address snapshot yet; bound traffic fails";
    }
    const accepted = (object: string): WaypointBinding => ({
      object,
      status: true,
      reason: "WaypointAccepted",
      message: `Successfully attached to waypoint ${key}`,
    });
    const bound = [
      ...registry.services
        .filter((s) => mine(s.waypoint))
        .map((s) => accepted(`${s.kind}/${s.namespace}/${s.name}`)),
      ...registry.workloads.filter((w) => mine(w.waypoint)).map((w) => accepted(w.uid)),
    ];
    out.push({
      namespace,
      name,
      for: gatewayFor.get(key) ?? "service",
      address: service?.vip ?? null,
      state,
      reason,
      bound,
    });
  }
  const missing = new Map<string, WaypointBinding[]>();
  for (const p of registry.problems) {
    if (p.code !== "WAYPOINT_NOT_FOUND" || p.waypoint === undefined) continue;
    const list = missing.get(p.waypoint) ?? [];
    list.push({
      object: p.object,
      status: false,
      reason: "WaypointIsNotReady",
      message: `waypoint "${p.waypoint}" is not ready`,
    });
    missing.set(p.waypoint, list);
  }
  for (const [key, bound] of [...missing].sort(([a], [b]) => a.localeCompare(b))) {
    const [namespace = "", name = ""] = key.split("/");
    out.push({
      namespace,
      name,
      for: null,
      address: null,
      state: "missing",
      reason: `no Gateway of class istio-waypoint named ${key}: as in Istio, the objects below bypass it (no L7 policy applies) until it exists`,
      bound,
    });
  }
  return out;
}
