/**
 * The waypoint's L7 configuration: routing (VirtualService / HTTPRoute / TrafficSplit /
 * DestinationRule) and AuthorizationPolicy, compiled once per update. The resources arrive over xDS
 * as `ambit.waypoint.L7Resource` (one user resource each, checked here before they are accepted) and,
 * for standalone use, from `--config` files read once (docs/waypoint.md).
 */
import { formatConfigError, parseDocuments } from "../api/load.js";
import type { DestinationRule, Resource, Service } from "../api/types.js";
import { compilePolicies, type PolicySet } from "../policy/index.js";
import { compileRoutes, type RouteTable } from "../routing/index.js";
import { type L7Resource, L7ResourceSchema } from "../xds/gen/ambit/waypoint/l7_pb.js";
import { defineResourceType, type XdsResourceType } from "../xds/resource-types.js";
import { validateL7Resource } from "../xds/validate.js";

export interface L7Snapshot {
  readonly routes: RouteTable;
  readonly policies: PolicySet;
  /** "host|subset" → the subset's labels (DestinationRule `subsets`). */
  readonly subsets: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** "fqdn:port" of Service ports that speak MySQL (`appProtocol: mysql` or a `mysql`/`mysql-*` name, Istio's protocol selection). */
  readonly mysqlPorts: ReadonlySet<string>;
  readonly problems: readonly string[];
}

function isMysqlPort(p: { name?: string; appProtocol?: string }): boolean {
  const name = p.name ?? "";
  return p.appProtocol?.toLowerCase() === "mysql" || name === "mysql" || name.startsWith("mysql-");
}

/** FQDN of a DestinationRule host relative to its namespace, as Istio resolves short names. */
function fqdn(host: string, namespace: string): string {
  if (host.includes(".")) return host;
  return `${host}.${namespace}.svc.cluster.local`;
}

export function compileL7(resources: readonly Resource[]): L7Snapshot {
  const routes = compileRoutes(resources);
  const policies = compilePolicies(resources);
  const subsets = new Map<string, Record<string, string>>();
  const mysqlPorts = new Set<string>();
  for (const r of resources) {
    if (r.kind !== "Service") continue;
    const svc = r as Service;
    const host = fqdn(svc.metadata.name, svc.metadata.namespace ?? "default");
    for (const p of svc.spec?.ports ?? []) if (isMysqlPort(p)) mysqlPorts.add(`${host}:${p.port}`);
  }
  for (const r of resources) {
    if (r.kind !== "DestinationRule") continue;
    const dr = r as DestinationRule;
    const ns = dr.metadata.namespace ?? "default";
    for (const s of dr.spec?.subsets ?? []) {
      subsets.set(`${fqdn(dr.spec?.host ?? "", ns)}|${s.name}`, { ...(s.labels ?? {}) });
    }
  }
  const problems = [
    ...routes.errors.map((e) => e.message),
    ...policies.errors.map((e) => e.message),
    ...policies.warnings.map((w) => `${w.policy}: ${w.message}`),
  ];
  return { routes, policies: policies.set, subsets, mysqlPorts, problems };
}

/** The user resource carried by an L7Resource, or why it is not acceptable (validation or compilation). */
export function decodeL7Resource(r: L7Resource, name: string): { resource: Resource } | { error: string } {
  // JSON is YAML: the same parser and schemas as `ambit apply` and `--config` files.
  const loaded = parseDocuments(r.json, `xds:${name}`);
  const first = loaded.errors[0];
  if (first !== undefined) return { error: `${name}: ${formatConfigError(first)}` };
  const resource = loaded.resources[0];
  if (resource === undefined || loaded.resources.length !== 1)
    return { error: `${name}: expected exactly one resource, found ${loaded.resources.length}` };
  const compiled = compileL7([resource]);
  const errors = [
    ...compiled.routes.errors.map((e) => e.message),
    ...compilePolicies([resource]).errors.map((e) => e.message),
  ];
  if (errors.length > 0) return { error: `${name}: ${errors.join("; ")}` };
  return { resource };
}

/** The L7 type as the waypoint subscribes to it: envelope checks, then decode + compile; a failure is NACKed. */
export const WAYPOINT_L7_TYPE: XdsResourceType = defineResourceType(L7ResourceSchema, (r, name) => {
  const envelope = validateL7Resource(r, name);
  if (envelope !== null) return envelope;
  const decoded = decodeL7Resource(r, name);
  return "error" in decoded ? decoded.error : null;
});
