/**
 * Builders shared by the authorization conformance tables: resources as users write them, and
 * requests with sensible defaults (curl-like client `foo/sleep` calling `foo/httpbin`).
 */
import type {
  AuthorizationPolicy,
  AuthorizationPolicySpec,
  PeerAuthentication,
  PeerAuthenticationSpec,
} from "../../src/api/types.js";
import type { AuthzRequest } from "../../src/policy/index.js";

export function ap(
  namespace: string,
  name: string,
  spec: AuthorizationPolicySpec,
  annotations?: Record<string, string>,
): AuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: annotations === undefined ? { name, namespace } : { name, namespace, annotations },
    spec,
  };
}

export function pa(namespace: string, name: string, spec: PeerAuthenticationSpec): PeerAuthentication {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name, namespace },
    spec,
  };
}

export const SLEEP = "cluster.local/ns/foo/sa/sleep";

export interface RequestOverrides {
  principal?: string | null;
  mtls?: boolean;
  sourceIp?: string;
  remoteIp?: string;
  namespace?: string;
  labels?: Record<string, string>;
  service?: string | null;
  serviceKind?: "Service" | "ServiceEntry";
  waypoint?: string | null;
  destIp?: string;
  port?: number;
  sni?: string;
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  auth?: NonNullable<AuthzRequest["http"]>["auth"];
  /** Waypoint only: no HTTP (an opaque TCP connection). */
  tcp?: boolean;
}

function base(enforcement: "ztunnel" | "waypoint", o: RequestOverrides): AuthzRequest {
  const principal = o.principal === undefined ? SLEEP : o.principal;
  const req: AuthzRequest = {
    enforcement,
    source: {
      principal,
      ip: o.sourceIp ?? "10.0.0.10",
      mtls: o.mtls ?? principal !== null,
    },
    destination: {
      namespace: o.namespace ?? "foo",
      labels: o.labels ?? { app: "httpbin", version: "v1" },
      service: o.service === undefined ? "httpbin" : o.service,
      serviceKind: o.serviceKind ?? "Service",
      waypoint: o.waypoint === undefined ? (enforcement === "waypoint" ? "waypoint" : null) : o.waypoint,
      ip: o.destIp ?? "10.0.1.10",
      port: o.port ?? 8080,
    },
  };
  if (o.remoteIp !== undefined) req.source.remoteIp = o.remoteIp;
  if (o.sni !== undefined) req.connection = { sni: o.sni };
  return req;
}

/** A connection as the destination ztunnel sees it. */
export function zt(o: RequestOverrides = {}): AuthzRequest {
  return base("ztunnel", o);
}

/** A request at the waypoint (HTTP GET /info unless told otherwise, or opaque TCP with `tcp: true`). */
export function wp(o: RequestOverrides = {}): AuthzRequest {
  const req = base("waypoint", o);
  if (o.tcp !== true) {
    req.http = {
      method: o.method ?? "GET",
      path: o.path ?? "/info",
      host: o.host ?? "httpbin.foo.svc.cluster.local",
      headers: o.headers ?? {},
    };
    if (o.auth !== undefined) req.http.auth = o.auth;
  }
  return req;
}

/** Doc sections the tables cite. */
export const DOC = {
  AP: "https://istio.io/latest/docs/reference/config/security/authorization-policy/",
  AP_RULE: "https://istio.io/latest/docs/reference/config/security/authorization-policy/#Rule",
  AP_SOURCE: "https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source",
  AP_OPERATION: "https://istio.io/latest/docs/reference/config/security/authorization-policy/#Operation",
  AP_SELECTOR:
    "https://istio.io/latest/docs/reference/config/security/authorization-policy/#AuthorizationPolicy (selector)",
  AP_TARGETREFS:
    "https://istio.io/latest/docs/reference/config/security/authorization-policy/#AuthorizationPolicy (targetRefs)",
  COND: "https://istio.io/latest/docs/reference/config/security/conditions/",
  CONCEPT: "https://istio.io/latest/docs/concepts/security/#authorization",
  CONCEPT_AUTHN_ID:
    "https://istio.io/latest/docs/concepts/security/#authenticated-and-unauthenticated-identity",
  CONCEPT_EXCLUSION: "https://istio.io/latest/docs/concepts/security/#exclusion-matching",
  CONCEPT_ALLOW_NOTHING:
    "https://istio.io/latest/docs/concepts/security/#allow-nothing-deny-all-and-allow-all-policy",
  L4: "https://istio.io/latest/docs/ambient/usage/l4-policy/",
  L4_ATTACH: "https://istio.io/latest/docs/ambient/usage/l4-policy/#authorization-policy-attachment",
  L4_ATTRS: "https://istio.io/latest/docs/ambient/usage/l4-policy/#allowed-policy-attributes",
  L4_PEERAUTH: "https://istio.io/latest/docs/ambient/usage/l4-policy/#peer-authentication",
  TCP: "https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/",
  DRY_RUN: "https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/",
  JWT: "https://istio.io/latest/docs/tasks/security/authorization/authz-jwt/",
  HOSTS: "https://istio.io/latest/docs/ops/best-practices/security/#writing-host-match-policies",
  PA: "https://istio.io/latest/docs/reference/config/security/peer_authentication/",
  ISTIOD_AMBIENT: "github.com/istio/istio pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go",
  ISTIOD_ATTACH: "github.com/istio/istio pilot/pkg/model/policyattachment.go (ShouldAttachPolicy)",
  ISTIO_61126:
    "github.com/istio/istio/issues/61126 and PR #61166 (a DENY with only L7 attributes has no effect at ztunnel)",
  ZTUNNEL_RBAC: "github.com/istio/ztunnel src/rbac.rs (Authorization::matches skips empty matches)",
  AMBIT_MYSQL: "docs/policy.md#mysql-statements-as-methods (ambit extension)",
} as const;
