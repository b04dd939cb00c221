/**
 * Builders of xDS resources for tests and tools (`ambit ztunnel` tests, the local cluster): a few
 * readable arguments instead of protobuf boilerplate. Not used on the data path.
 */
import { create } from "@bufbuild/protobuf";
import {
  Action,
  type Authorization,
  AuthorizationSchema,
  MatchSchema,
  Scope,
  type StringMatch,
  StringMatchSchema,
} from "../xds/gen/istio/security/authorization_pb.js";
import {
  type Address,
  AddressSchema,
  ExtensionSchema,
  GatewayAddressSchema,
  NetworkAddressSchema,
  PortListSchema,
  PortSchema,
  ServiceSchema,
  TunnelProtocol,
  WorkloadSchema,
  WorkloadStatus,
} from "../xds/gen/istio/workload/workload_pb.js";
import { ipToBytes } from "./addresses.js";
import { MONITOR_EXTENSION } from "./state.js";

export interface WorkloadSpec {
  uid: string;
  name?: string;
  namespace?: string;
  ip: string | string[];
  node: string;
  serviceAccount?: string;
  trustDomain?: string;
  tunnel?: "hbone" | "none";
  mode?: "ambient" | "monitor";
  waypointIp?: string;
  /** "namespace/hostname" → [servicePort, targetPort][] */
  services?: Record<string, [number, number][]>;
  policies?: string[];
  healthy?: boolean;
  app?: string;
  version?: string;
}

export function workloadAddress(spec: WorkloadSpec): Address {
  const ips = Array.isArray(spec.ip) ? spec.ip : [spec.ip];
  const w = create(WorkloadSchema, {
    uid: spec.uid,
    name: spec.name ?? spec.uid,
    namespace: spec.namespace ?? "default",
    addresses: ips.map(ipToBytes),
    node: spec.node,
    serviceAccount: spec.serviceAccount ?? "default",
    trustDomain: spec.trustDomain ?? "cluster.local",
    tunnelProtocol: spec.tunnel === "none" ? TunnelProtocol.NONE : TunnelProtocol.HBONE,
    workloadName: spec.name ?? spec.uid,
    canonicalName: spec.app ?? spec.name ?? spec.uid,
    canonicalRevision: spec.version ?? "v1",
    clusterId: "Kubernetes",
    authorizationPolicies: spec.policies ?? [],
    status: spec.healthy === false ? WorkloadStatus.UNHEALTHY : WorkloadStatus.HEALTHY,
  });
  for (const [key, ports] of Object.entries(spec.services ?? {})) {
    w.services[key] = create(PortListSchema, {
      ports: ports.map(([servicePort, targetPort]) => create(PortSchema, { servicePort, targetPort })),
    });
  }
  if (spec.waypointIp !== undefined) {
    w.waypoint = create(GatewayAddressSchema, {
      destination: {
        case: "address",
        value: create(NetworkAddressSchema, { address: ipToBytes(spec.waypointIp) }),
      },
      hboneMtlsPort: 15008,
    });
  }
  if (spec.mode === "monitor") {
    // The control plane sends monitor workloads without a tunnel, marked by the extension.
    w.tunnelProtocol = TunnelProtocol.NONE;
    w.extensions.push(create(ExtensionSchema, { name: MONITOR_EXTENSION }));
  }
  return create(AddressSchema, { type: { case: "workload", value: w } });
}

export interface ServiceSpec {
  namespace?: string;
  hostname: string;
  vip: string;
  ports: [number, number][];
  waypointIp?: string;
}

export function serviceKey(spec: ServiceSpec): string {
  return `${spec.namespace ?? "default"}/${spec.hostname}`;
}

export function serviceAddress(spec: ServiceSpec): Address {
  const s = create(ServiceSchema, {
    name: spec.hostname.split(".")[0] ?? spec.hostname,
    namespace: spec.namespace ?? "default",
    hostname: spec.hostname,
    addresses: [create(NetworkAddressSchema, { address: ipToBytes(spec.vip) })],
    ports: spec.ports.map(([servicePort, targetPort]) => create(PortSchema, { servicePort, targetPort })),
  });
  if (spec.waypointIp !== undefined) {
    s.waypoint = create(GatewayAddressSchema, {
      destination: {
        case: "address",
        value: create(NetworkAddressSchema, { address: ipToBytes(spec.waypointIp) }),
      },
      hboneMtlsPort: 15008,
    });
  }
  return create(AddressSchema, { type: { case: "service", value: s } });
}

export interface MatchSpec {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ports?: number[];
  notPorts?: number[];
  sourceCidrs?: [string, number][];
  /** not_principals: [presence] — istiod's conversion of PeerAuthentication STRICT. */
  requireNoPrincipal?: boolean;
}

function sm(pattern: string): StringMatch {
  if (pattern === "*") return create(StringMatchSchema, { matchType: { case: "presence", value: {} } });
  if (pattern.endsWith("*"))
    return create(StringMatchSchema, { matchType: { case: "prefix", value: pattern.slice(0, -1) } });
  if (pattern.startsWith("*"))
    return create(StringMatchSchema, { matchType: { case: "suffix", value: pattern.slice(1) } });
  return create(StringMatchSchema, { matchType: { case: "exact", value: pattern } });
}

export interface PolicySpec {
  name: string;
  namespace?: string;
  scope?: "global" | "namespace" | "workload";
  action?: "allow" | "deny";
  /** Rules (OR) of clauses (AND) of matches (OR). */
  rules: MatchSpec[][][];
}

export function policyKey(spec: PolicySpec): string {
  return `${spec.namespace ?? "default"}/${spec.name}`;
}

export function authorization(spec: PolicySpec): Authorization {
  return create(AuthorizationSchema, {
    name: spec.name,
    namespace: spec.namespace ?? "default",
    scope:
      spec.scope === "global"
        ? Scope.GLOBAL
        : spec.scope === "namespace"
          ? Scope.NAMESPACE
          : Scope.WORKLOAD_SELECTOR,
    action: spec.action === "deny" ? Action.DENY : Action.ALLOW,
    rules: spec.rules.map((clauses) => ({
      clauses: clauses.map((matches) => ({
        matches: matches.map((m) =>
          create(MatchSchema, {
            principals: (m.principals ?? []).map(sm),
            notPrincipals: m.requireNoPrincipal ? [sm("*")] : (m.notPrincipals ?? []).map(sm),
            namespaces: (m.namespaces ?? []).map(sm),
            notNamespaces: (m.notNamespaces ?? []).map(sm),
            destinationPorts: m.ports ?? [],
            notDestinationPorts: m.notPorts ?? [],
            sourceIps: (m.sourceCidrs ?? []).map(([ip, length]) => ({ address: ipToBytes(ip), length })),
          }),
        ),
      })),
    })),
  });
}

/** istiod's conversion of a STRICT PeerAuthentication: deny connections without a peer identity. */
export function strictPeerAuthentication(
  namespace: string,
  scope: "namespace" | "global" = "namespace",
): Authorization {
  return authorization({
    name: "converted_peer_authentication_default",
    namespace,
    scope,
    action: "deny",
    rules: [[[{ requireNoPrincipal: true }]]],
  });
}
