/**
 * Fixtures of the routing conformance tables: resources are written as plain objects, serialised to
 * JSON (a YAML subset) and loaded through the real validator, so every fixture is also valid config.
 */
import assert from "node:assert/strict";
import { parseDocuments } from "../../src/api/load.js";
import type { Resource } from "../../src/api/types.js";
import { compileRoutes, type RouteRequest, type RouteTable } from "../../src/routing/index.js";

export const NS = "shop";
export const REVIEWS = `reviews.${NS}.svc.cluster.local`;

export const DOC = {
  vs: "https://istio.io/latest/docs/reference/config/networking/virtual-service/",
  dr: "https://istio.io/latest/docs/reference/config/networking/destination-rule/",
  retries: "https://istio.io/latest/docs/concepts/traffic-management/#retries",
  ambient: "https://istio.io/latest/docs/ambient/migrate/migrate-policies/",
  envoyRoute: "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto",
  gw: "https://gateway-api.sigs.k8s.io/reference/spec/",
  gamma: "https://gateway-api.sigs.k8s.io/mesh/",
  istiodSort: "istio/istio pilot/pkg/config/kube/gateway/conversion.go sortHTTPRoutes",
  istiodRoute: "istio/istio pilot/pkg/networking/core/route/route.go",
  istiodRetry: "istio/istio pilot/pkg/networking/core/route/retry/retry.go",
} as const;

export type Doc = Record<string, unknown>;

export function service(
  name: string,
  port = 9080,
  selector: Record<string, string> = { app: name },
  ns = NS,
): Doc {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: { selector, ports: [{ name: "http", port }] },
  };
}

export const BASE: Doc[] = [
  service("reviews"),
  service("ratings"),
  service("details"),
  {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "reviews", namespace: NS },
    spec: {
      host: "reviews",
      trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } },
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" }, trafficPolicy: { loadBalancer: { simple: "RANDOM" } } },
        { name: "v3", labels: { version: "v3" } },
      ],
    },
  },
];

export function vs(spec: Doc, name = "reviews", ns = NS): Doc {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: ns },
    spec,
  };
}

export function httpRoute(spec: Doc, name = "reviews", ns = NS): Doc {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: ns },
    spec,
  };
}

/** A GAMMA route attached to a Service of namespace `shop`. */
export function gamma(
  rules: Doc[],
  name = "reviews",
  ns = NS,
  parent: Doc = { group: "", kind: "Service", name: "reviews", namespace: NS },
): Doc {
  return httpRoute({ parentRefs: [parent], rules }, name, ns);
}

export function split(spec: Doc, name = "split", ns = NS): Doc {
  return {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "TrafficSplit",
    metadata: { name, namespace: ns },
    spec,
  };
}

export function load(docs: readonly Doc[]): Resource[] {
  const text = docs.map((d) => JSON.stringify(d)).join("\n---\n");
  const r = parseDocuments(text, "fixture.yaml");
  assert.deepEqual(
    r.errors.map((e) => `${e.path}: ${e.message}`),
    [],
    "fixture must be valid configuration",
  );
  return r.resources;
}

export function table(docs: readonly Doc[], withBase = true): RouteTable {
  return compileRoutes(load(withBase ? [...BASE, ...docs] : docs));
}

export function req(o: Partial<RouteRequest> = {}): RouteRequest {
  return {
    client: { namespace: NS },
    host: REVIEWS,
    port: 9080,
    method: "GET",
    path: "/",
    headers: {},
    ...o,
  };
}

/** A Rand that returns the given values in turn, then repeats the last. */
export function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}
