/**
 * The waypoint's L7 configuration: routing (VirtualService / HTTPRoute / TrafficSplit /
 * DestinationRule) and AuthorizationPolicy, compiled once per update. ambit has no L7 xDS type yet,
 * so the raw resources come from a `ConfigSource` (a file/directory today; see docs/waypoint.md).
 */
import type { DestinationRule, Resource, Service } from "../api/types.js";
import { compilePolicies, type PolicySet } from "../policy/index.js";
import { compileRoutes, type RouteTable } from "../routing/index.js";

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
