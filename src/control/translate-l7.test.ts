import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocuments } from "../api/load.js";
import { buildRegistry, emptyAllocations } from "./registry.js";
import type { StoredResource } from "./store.js";
import { translateL7 } from "./translate-l7.js";
import { waypointStatuses } from "./waypoint-status.js";

const OPTS = {
  trustDomain: "cluster.local",
  clusterId: "Kubernetes",
  domainSuffix: "cluster.local",
  network: "",
  rootNamespace: "istio-system",
};

function load(yaml: string): {
  stored: StoredResource[];
  registry: ReturnType<typeof buildRegistry>["registry"];
} {
  const { resources, errors } = parseDocuments(yaml, "t.yaml");
  assert.deepEqual(errors, []);
  const stored = resources.map((r) => {
    const c = { ...r, metadata: { ...r.metadata } } as StoredResource;
    if (!["Namespace", "Node"].includes(r.kind)) c.metadata.namespace ??= "default";
    return c;
  });
  return { stored, registry: buildRegistry(stored, emptyAllocations(), OPTS).registry };
}

const MESH = `apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop, labels: {istio.io/waypoint-for: service}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other-wp, namespace: other}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: pay, namespace: shop}
spec: {selector: {app: pay}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: opt-out, namespace: shop, labels: {istio.io/use-waypoint: none}}
spec: {selector: {app: x}, ports: [{port: 81}]}
---
apiVersion: v1
kind: Service
metadata: {name: lonely, namespace: other, labels: {istio.io/use-waypoint: ghost}}
spec: {selector: {app: y}, ports: [{port: 82}]}
---
apiVersion: networking.istio.io/v1beta1
kind: TrafficSplit
metadata: {name: pay-split, namespace: shop}
spec:
  workloadSelector: {labels: {app: pay}}
  layer: L7
  rules:
    - route:
        - {destination: {host: pay, subset: v1}, weight: 90}
        - {destination: {host: pay, subset: v2}, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pay, namespace: shop}
spec: {host: pay, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: elsewhere, namespace: other}
spec: {hosts: [lonely], http: [{route: [{destination: {host: lonely}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l7, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: pay}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l4, namespace: shop}
spec:
  selector: {matchLabels: {app: pay}}
  rules: [{from: [{source: {namespaces: [shop]}}]}]
`;

test("translate-l7: each waypoint sees the L7 resources of its bound services' namespaces, and their Services", () => {
  const { stored, registry } = load(MESH);
  const l7 = translateL7(registry, stored, "istio-system");
  const shop = [...(l7.scopes.get("shop/wp") ?? [])].sort();
  assert.deepEqual(shop, [
    "AuthorizationPolicy/shop/l7",
    "DestinationRule/shop/pay",
    "Service/shop/pay",
    "TrafficSplit/shop/pay-split",
  ]);
  // other-wp has nothing bound: only its own namespace's routing, no Service objects.
  assert.deepEqual([...(l7.scopes.get("other/other-wp") ?? [])], ["VirtualService/other/elsewhere"]);
  // Selector (L4) policies stay with ztunnel; opted-out services are not sent.
  assert.equal(l7.resources.has("AuthorizationPolicy/shop/l4"), false);
  assert.equal(l7.resources.has("Service/shop/opt-out"), false);
  const split = l7.resources.get("TrafficSplit/shop/pay-split");
  assert.equal(split?.kind, "TrafficSplit");
  const doc = JSON.parse(split?.json ?? "{}") as { spec: { rules: { route: { weight: number }[] }[] } };
  assert.equal(doc.spec.rules[0]?.route[1]?.weight, 10);
});

test("waypoint status: ready needs a running pod and an ACKed xDS stream; a missing Gateway lists who bypasses it", () => {
  const { stored, registry } = load(MESH);
  const addr = "type.googleapis.com/istio.workload.Address";
  const none = waypointStatuses(registry, stored, [], addr);
  const shop = none.find((w) => w.name === "wp");
  assert.equal(shop?.state, "not ready");
  assert.deepEqual(
    shop?.bound.map((b) => [b.object, b.reason]),
    [["Service/shop/pay", "WaypointAccepted"]],
  );
  assert.match(shop?.address ?? "", /^\d+\.\d+\.\d+\.\d+$/);
  const ghost = none.find((w) => w.name === "ghost");
  assert.equal(ghost?.state, "missing");
  assert.deepEqual(
    ghost?.bound.map((b) => [b.object, b.status, b.reason]),
    [["Service/other/lonely", false, "WaypointIsNotReady"]],
  );
  const caller = { kind: "waypoint" as const, id: "waypoint/shop/wp", namespace: "shop", name: "wp" };
  const connected = waypointStatuses(registry, stored, [{ caller, types: [{ typeUrl: addr }] }], addr);
  assert.equal(connected.find((w) => w.name === "wp")?.state, "not ready");
  const acked = waypointStatuses(
    registry,
    stored,
    [{ caller, types: [{ typeUrl: addr, lastAcked: { version: "1" } }] }],
    addr,
  );
  assert.equal(acked.find((w) => w.name === "wp")?.state, "ready");
  assert.equal(acked.find((w) => w.name === "other-wp")?.state, "not ready");
});
