import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocuments } from "../api/load.js";
import { Action } from "../xds/gen/istio/security/authorization_pb.js";
import { TunnelProtocol, type Workload } from "../xds/gen/istio/workload/workload_pb.js";
import { buildRegistry, emptyAllocations } from "./registry.js";
import type { StoredResource } from "./store.js";
import { MONITOR_EXTENSION, STATIC_STRICT_POLICY, translate } from "./translate.js";

const OPTS = {
  trustDomain: "cluster.local",
  clusterId: "Kubernetes",
  domainSuffix: "cluster.local",
  network: "",
  rootNamespace: "istio-system",
};

function snapshot(yaml: string) {
  const { resources, errors } = parseDocuments(yaml, "t.yaml");
  assert.deepEqual(errors, []);
  const stored = resources.map((r) => {
    const c = { ...r, metadata: { ...r.metadata } } as StoredResource;
    if (!["Namespace", "Node"].includes(r.kind)) c.metadata.namespace ??= "default";
    return c;
  });
  const { registry } = buildRegistry(stored, emptyAllocations(), OPTS);
  return translate(registry, stored, OPTS);
}

function workload(s: ReturnType<typeof snapshot>, uid: string): Workload {
  const a = s.addresses.get(uid);
  assert.equal(a?.type.case, "workload", `${uid} is a workload`);
  return (a?.type.value as Workload) ?? assert.fail();
}

const BASE = `apiVersion: v1
kind: Node
metadata: {name: n1, labels: {topology.kubernetes.io/zone: z1}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: web, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: mon, namespace: default, labels: {app: mon, istio.io/dataplane-mode: monitor}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: default}
spec: {containers: [{name: c}]}
`;

test("translate: workloads carry Istio's fields; HBONE only when enrolled; monitor is marked", () => {
  const s = snapshot(BASE);
  const w = workload(s, "Kubernetes//Pod/shop/web");
  assert.equal(w.name, "web");
  assert.equal(w.namespace, "shop");
  // Pods take addresses in key order: default/mon .2, default/plain .3, shop/web .4.
  assert.deepEqual([...(w.addresses[0] ?? [])], [10, 244, 1, 4]);
  assert.equal(w.serviceAccount, "web");
  assert.equal(w.trustDomain, "cluster.local");
  assert.equal(w.node, "n1");
  assert.equal(w.clusterId, "Kubernetes");
  assert.equal(w.locality?.zone, "z1");
  assert.equal(w.tunnelProtocol, TunnelProtocol.HBONE);
  assert.equal(workload(s, "Kubernetes//Pod/default/plain").tunnelProtocol, TunnelProtocol.NONE);
  const mon = workload(s, "Kubernetes//Pod/default/mon");
  assert.equal(mon.tunnelProtocol, TunnelProtocol.NONE);
  assert.deepEqual(
    mon.extensions.map((e) => e.name),
    [MONITOR_EXTENSION],
  );
});

test("translate: selector policies (own and root namespace) are listed on the workloads they select", () => {
  const s = snapshot(`${BASE}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: own, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: global-sel, namespace: istio-system}
spec: {selector: {matchLabels: {app: web}}, action: DENY, rules: [{to: [{operation: {ports: ["9"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-wide, namespace: shop}
spec: {rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other, namespace: default}
spec: {selector: {matchLabels: {app: web}}, rules: [{}]}
`);
  assert.deepEqual(workload(s, "Kubernetes//Pod/shop/web").authorizationPolicies, [
    "istio-system/global-sel",
    "shop/own",
  ]);
  assert.deepEqual([...s.authorizations.keys()].sort(), [
    "default/other",
    "istio-system/global-sel",
    "shop/ns-wide",
    "shop/own",
  ]);
});

test("translate: PeerAuthentication STRICT attaches istiod's static strict DENY policy; workload PERMISSIVE overrides", () => {
  const s = snapshot(`${BASE}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: mesh, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: relax, namespace: default}
spec: {selector: {matchLabels: {app: mon}}, mtls: {mode: PERMISSIVE}}
`);
  const key = `istio-system/${STATIC_STRICT_POLICY}`;
  assert.deepEqual(workload(s, "Kubernetes//Pod/shop/web").authorizationPolicies, [key]);
  assert.deepEqual(workload(s, "Kubernetes//Pod/default/plain").authorizationPolicies, [key]);
  assert.deepEqual(workload(s, "Kubernetes//Pod/default/mon").authorizationPolicies, []);
  const strict = s.authorizations.get(key);
  assert.equal(strict?.action, Action.DENY);
  assert.equal(strict?.rules[0]?.clauses[0]?.matches[0]?.notPrincipals[0]?.matchType.case, "presence");
  assert.equal(snapshot(BASE).authorizations.has(key), false);
});

test("translate: services carry VIP, ports (named target port → 0) and the waypoint address", () => {
  const s = snapshot(`${BASE}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {istio.io/use-waypoint: wp}}
spec: {selector: {app: web}, ports: [{name: a, port: 80, targetPort: 8080}, {name: b, port: 81, targetPort: http}]}
`);
  const a = s.addresses.get("shop/web.shop.svc.cluster.local");
  assert.equal(a?.type.case, "service");
  if (a?.type.case !== "service") return;
  const svc = a.type.value;
  assert.equal(svc.hostname, "web.shop.svc.cluster.local");
  assert.deepEqual(
    svc.ports.map((p) => [p.servicePort, p.targetPort]),
    [
      [80, 8080],
      [81, 0],
    ],
  );
  assert.equal(svc.waypoint?.hboneMtlsPort, 15008);
  assert.equal(svc.waypoint?.destination.case, "address");
  const wpSvc = s.addresses.get("shop/wp.shop.svc.cluster.local");
  assert.equal(wpSvc?.type.case, "service");
  if (wpSvc?.type.case === "service" && svc.waypoint?.destination.case === "address") {
    assert.deepEqual(
      [...svc.waypoint.destination.value.address],
      [...(wpSvc.type.value.addresses[0]?.address ?? [])],
    );
  }
  const wpPod = workload(s, "Kubernetes//Pod/shop/wp-0");
  assert.equal(wpPod.tunnelProtocol, TunnelProtocol.HBONE);
  assert.equal(wpPod.nativeTunnel, true);
});
