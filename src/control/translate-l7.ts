/**
 * Store → the L7 resources each waypoint needs (`ambit.waypoint.L7Resource`, docs/xds.md). Istio's
 * istiod sends a waypoint the Envoy config of the services bound to it; ambit's waypoint compiles
 * the user's resources itself, so the control plane sends those resources, scoped per waypoint:
 * - routing (VirtualService, HTTPRoute, TrafficSplit, DestinationRule) and AuthorizationPolicies with
 *   `targetRef(s)` of the waypoint's namespace, of every namespace that has a service or workload
 *   bound to it, and of the root namespace (mesh-wide config);
 * - the `Service` objects bound to it (their port names / appProtocol select the protocol).
 * Pure; the control plane publishes `resources` once and lets each waypoint see only its scope.
 */
import { create } from "@bufbuild/protobuf";
import { type L7Resource, L7ResourceSchema } from "../xds/gen/ambit/waypoint/l7_pb.js";
import { l7ResourceName } from "../xds/validate.js";
import { canonicalJson } from "./canonical-json.js";
import { type Registry, WAYPOINT_CLASS } from "./registry.js";
import type { StoredResource } from "./store.js";

const ROUTING_KINDS = new Set(["VirtualService", "HTTPRoute", "TrafficSplit", "DestinationRule"]);

export interface L7Translation {
  /** `kind/namespace/name` → resource, for every resource some waypoint needs. */
  readonly resources: Map<string, L7Resource>;
  /** Waypoint `namespace/name` → the names of `resources` it may see. */
  readonly scopes: Map<string, ReadonlySet<string>>;
}

/** `namespace/name` of every Gateway of class istio-waypoint. */
export function waypointGateways(resources: readonly StoredResource[]): string[] {
  return resources
    .filter(
      (r) =>
        r.kind === "Gateway" &&
        (r.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName === WAYPOINT_CLASS,
    )
    .map((r) => `${r.metadata.namespace ?? "default"}/${r.metadata.name}`)
    .sort();
}

function hasTargetRefs(r: StoredResource): boolean {
  const spec = r.spec as { targetRef?: unknown; targetRefs?: unknown[] } | undefined;
  return spec?.targetRef !== undefined || (spec?.targetRefs?.length ?? 0) > 0;
}

function l7Message(r: StoredResource): L7Resource {
  return create(L7ResourceSchema, {
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.metadata.namespace ?? "",
    name: r.metadata.name,
    json: canonicalJson(r),
  });
}

export function translateL7(
  registry: Pick<Registry, "services" | "workloads">,
  resources: readonly StoredResource[],
  rootNamespace: string,
): L7Translation {
  const out: L7Translation = { resources: new Map(), scopes: new Map() };
  const candidates = resources.filter(
    (r) =>
      ROUTING_KINDS.has(r.kind) ||
      (r.kind === "AuthorizationPolicy" && hasTargetRefs(r)) ||
      r.kind === "Service",
  );
  for (const key of waypointGateways(resources)) {
    const [wpNs = "", wpName = ""] = key.split("/");
    const bound = (ref: { namespace: string; name: string } | undefined): boolean =>
      ref?.namespace === wpNs && ref.name === wpName;
    const namespaces = new Set([wpNs, rootNamespace]);
    const services = new Set<string>();
    for (const s of registry.services) {
      if (!bound(s.waypoint)) continue;
      namespaces.add(s.namespace);
      if (s.kind === "Service") services.add(`${s.namespace}/${s.name}`);
    }
    for (const w of registry.workloads) if (bound(w.waypoint)) namespaces.add(w.namespace);
    const scope = new Set<string>();
    for (const r of candidates) {
      const ns = r.metadata.namespace ?? "default";
      const wanted = r.kind === "Service" ? services.has(`${ns}/${r.metadata.name}`) : namespaces.has(ns);
      if (!wanted) continue;
      const message = l7Message(r);
      const name = l7ResourceName(message);
      out.resources.set(name, message);
      scope.add(name);
    }
    out.scopes.set(key, scope);
  }
  return out;
}
