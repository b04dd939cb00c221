/**
 * The kinds the control plane stores, with the names kubectl users type for them
 * (`ambit get svc`, `ambit get authorizationpolicies`). Lookup is case-insensitive.
 */
export interface KindInfo {
  readonly kind: string;
  readonly plural: string;
  readonly shortNames: readonly string[];
  /** Cluster-scoped kinds (Namespace, Node) have no metadata.namespace. */
  readonly namespaced: boolean;
}

export const KINDS: readonly KindInfo[] = [
  { kind: "Namespace", plural: "namespaces", shortNames: ["ns"], namespaced: false },
  { kind: "Node", plural: "nodes", shortNames: ["no"], namespaced: false },
  { kind: "Service", plural: "services", shortNames: ["svc"], namespaced: true },
  { kind: "ServiceAccount", plural: "serviceaccounts", shortNames: ["sa"], namespaced: true },
  { kind: "Pod", plural: "pods", shortNames: ["po"], namespaced: true },
  { kind: "Deployment", plural: "deployments", shortNames: ["deploy"], namespaced: true },
  { kind: "WorkloadEntry", plural: "workloadentries", shortNames: ["we"], namespaced: true },
  { kind: "ServiceEntry", plural: "serviceentries", shortNames: ["se"], namespaced: true },
  { kind: "AuthorizationPolicy", plural: "authorizationpolicies", shortNames: ["ap"], namespaced: true },
  { kind: "PeerAuthentication", plural: "peerauthentications", shortNames: ["pa"], namespaced: true },
  { kind: "RequestAuthentication", plural: "requestauthentications", shortNames: ["ra"], namespaced: true },
  { kind: "VirtualService", plural: "virtualservices", shortNames: ["vs"], namespaced: true },
  { kind: "DestinationRule", plural: "destinationrules", shortNames: ["dr"], namespaced: true },
  { kind: "TrafficSplit", plural: "trafficsplits", shortNames: ["ts"], namespaced: true },
  { kind: "MeshConfig", plural: "meshconfigs", shortNames: ["mc"], namespaced: true },
  { kind: "Gateway", plural: "gateways", shortNames: ["gw"], namespaced: true },
  { kind: "HTTPRoute", plural: "httproutes", shortNames: ["httproute"], namespaced: true },
];

const BY_NAME = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.kind, k.plural, ...k.shortNames]) BY_NAME.set(n.toLowerCase(), k);
}

/** `svc`, `Services`, `service` → the Service kind; undefined for an unknown name. */
export function lookupKind(name: string): KindInfo | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function isNamespaced(kind: string): boolean {
  return lookupKind(kind)?.namespaced ?? true;
}

/** The store's key of an object: `Kind/namespace/name`, or `Kind/name` for cluster-scoped kinds. */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return isNamespaced(kind) ? `${kind}/${namespace ?? "default"}/${name}` : `${kind}/${name}`;
}

/** The store key of a resource, from its kind, namespace (default `default`) and name. */
export function keyOf(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return objectKey(r.kind, r.metadata.namespace, r.metadata.name);
}
