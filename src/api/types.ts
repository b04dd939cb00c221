/**
 * The shapes of ambit's configuration kinds, as users write them in YAML (Kubernetes / Istio /
 * Gateway API field names). Validation (schemas.ts) guarantees a loaded resource has these shapes.
 */

/** Where a node of a YAML document came from; kept so every error can name file:line:column. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Every resource: the Kubernetes envelope plus where it was read from. */
export interface ResourceBase<K extends string = string, S = unknown> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec?: S;
  /** Not part of the YAML: the document's source position (file, line, column of `kind`). */
  source?: SourcePosition;
}

// ---------------------------------------------------------------- security.istio.io

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** Gateway API style policy attachment (targetRef / targetRefs). */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  from?: { source?: AuthzSource }[];
  to?: { operation?: AuthzOperation }[];
  when?: AuthzCondition[];
}

export type AuthzAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  rules?: AuthzRule[];
  action?: AuthzAction;
  provider?: { name: string };
}

export type AuthorizationPolicy = ResourceBase<"AuthorizationPolicy", AuthorizationPolicySpec>;

export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  /** Keys are port numbers (as strings in YAML maps). */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

export type PeerAuthentication = ResourceBase<"PeerAuthentication", PeerAuthenticationSpec>;
