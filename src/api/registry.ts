/**
 * Every kind ambit accepts: which apiVersions serve it, whether it is namespaced, how its name is
 * checked, and the schema of its document. One place to look up "what does ambit understand".
 */
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain } from "./formats.js";
import { meshConfigSpec, trafficSplitSpec } from "./kinds/ambit.js";
import { deploymentSpec } from "./kinds/apps-v1.js";
import { objectMeta } from "./kinds/common.js";
import {
  enrollmentLabels,
  namespaceSpec,
  nodeSpec,
  podSpec,
  serviceAccountFields,
  serviceSpec,
} from "./kinds/core-v1.js";
import { gatewaySpec, httpRouteSpec } from "./kinds/gateway-api.js";
import {
  destinationRuleSpec,
  serviceEntrySpec,
  virtualServiceSpec,
  workloadEntrySpec,
} from "./kinds/networking-istio.js";
import {
  authorizationPolicySpec,
  peerAuthenticationSpec,
  requestAuthenticationSpec,
} from "./kinds/security-istio.js";
import { type ObjectCheck, type ObjectSchema, obj, type Problem, type Schema, str } from "./schema.js";
import type { ResourceKind } from "./types.js";

export interface KindDefinition {
  readonly kind: ResourceKind;
  /** `group/version` strings (`v1` for the core group), first one preferred. */
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  /** The document schema: apiVersion, kind, metadata, spec and any other top-level fields. */
  readonly schema: ObjectSchema;
}

/** Istio serves its networking kinds at v1, v1beta1 and v1alpha3; security ones at v1 and v1beta1. */
const ISTIO_NETWORKING = [
  "networking.istio.io/v1",
  "networking.istio.io/v1beta1",
  "networking.istio.io/v1alpha3",
];
const ISTIO_SECURITY = ["security.istio.io/v1", "security.istio.io/v1beta1"];
const AMBIT = [...ISTIO_NETWORKING, "ambit.dev/v1alpha1"];
const GATEWAY_API = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"];

interface Definition {
  kind: ResourceKind;
  apiVersions: readonly string[];
  namespaced: boolean;
  name: (v: string) => Problem | undefined;
  spec?: Schema;
  specRequired?: boolean;
  fields?: Record<string, Schema>;
  checks?: readonly ObjectCheck[];
}

function define(d: Definition): KindDefinition {
  const fields: Record<string, Schema> = {
    apiVersion: str(),
    kind: str(),
    metadata: objectMeta(str({ expect: "a name", check: d.name })),
    ...(d.spec ? { spec: d.spec } : {}),
    ...d.fields,
  };
  const required = ["metadata", ...(d.specRequired === true ? ["spec"] : [])];
  return {
    kind: d.kind,
    apiVersions: d.apiVersions,
    namespaced: d.namespaced,
    // `status` is written by controllers; accepted on input (a `kubectl get -o yaml` copy) and dropped.
    schema: obj(fields, { required, ignored: ["status"], checks: d.checks ?? [] }),
  };
}

const subdomain = checkDns1123Subdomain;

const DEFINITIONS: readonly KindDefinition[] = [
  define({
    kind: "AuthorizationPolicy",
    apiVersions: ISTIO_SECURITY,
    namespaced: true,
    name: subdomain,
    spec: authorizationPolicySpec,
  }),
  define({
    kind: "PeerAuthentication",
    apiVersions: ISTIO_SECURITY,
    namespaced: true,
    name: subdomain,
    spec: peerAuthenticationSpec,
  }),
  define({
    kind: "RequestAuthentication",
    apiVersions: ISTIO_SECURITY,
    namespaced: true,
    name: subdomain,
    spec: requestAuthenticationSpec,
  }),
  define({
    kind: "VirtualService",
    apiVersions: ISTIO_NETWORKING,
    namespaced: true,
    name: subdomain,
    spec: virtualServiceSpec,
    specRequired: true,
  }),
  define({
    kind: "DestinationRule",
    apiVersions: ISTIO_NETWORKING,
    namespaced: true,
    name: subdomain,
    spec: destinationRuleSpec,
    specRequired: true,
  }),
  define({
    kind: "ServiceEntry",
    apiVersions: ISTIO_NETWORKING,
    namespaced: true,
    name: subdomain,
    spec: serviceEntrySpec,
    specRequired: true,
  }),
  define({
    kind: "WorkloadEntry",
    apiVersions: ISTIO_NETWORKING,
    namespaced: true,
    name: subdomain,
    spec: workloadEntrySpec,
    specRequired: true,
  }),
  define({
    kind: "TrafficSplit",
    apiVersions: AMBIT,
    namespaced: true,
    name: subdomain,
    spec: trafficSplitSpec,
    specRequired: true,
  }),
  define({
    kind: "MeshConfig",
    apiVersions: AMBIT,
    namespaced: false,
    name: subdomain,
    spec: meshConfigSpec,
  }),
  define({
    kind: "Gateway",
    apiVersions: GATEWAY_API,
    namespaced: true,
    name: subdomain,
    spec: gatewaySpec,
    specRequired: true,
  }),
  define({
    kind: "HTTPRoute",
    apiVersions: GATEWAY_API,
    namespaced: true,
    name: subdomain,
    spec: httpRouteSpec,
    specRequired: true,
  }),
  define({
    kind: "Namespace",
    apiVersions: ["v1"],
    namespaced: false,
    name: checkDns1123Label,
    spec: namespaceSpec,
    checks: [enrollmentLabels],
  }),
  // Kubernetes: Service names are DNS-1035 labels (they become DNS names and env var prefixes).
  define({
    kind: "Service",
    apiVersions: ["v1"],
    namespaced: true,
    name: checkDns1035Label,
    spec: serviceSpec,
    specRequired: true,
  }),
  define({
    kind: "ServiceAccount",
    apiVersions: ["v1"],
    namespaced: true,
    name: subdomain,
    fields: serviceAccountFields,
  }),
  define({
    kind: "Pod",
    apiVersions: ["v1"],
    namespaced: true,
    name: subdomain,
    spec: podSpec,
    specRequired: true,
    checks: [enrollmentLabels],
  }),
  define({
    kind: "Deployment",
    apiVersions: ["apps/v1"],
    namespaced: true,
    name: subdomain,
    spec: deploymentSpec,
    specRequired: true,
  }),
  define({ kind: "Node", apiVersions: ["v1"], namespaced: false, name: subdomain, spec: nodeSpec }),
];

const BY_KIND = new Map(DEFINITIONS.map((d) => [d.kind as string, d]));

export function kindDefinition(kind: string): KindDefinition | undefined {
  return BY_KIND.get(kind);
}

export function knownKinds(): readonly string[] {
  return DEFINITIONS.map((d) => d.kind);
}

export function isNamespaced(kind: string): boolean {
  return BY_KIND.get(kind)?.namespaced ?? true;
}
