import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDocuments } from "../api/load.js";
import { keyOf } from "./kinds.js";
import { type Allocations, buildRegistry, emptyAllocations, type Registry } from "./registry.js";
import type { StoredResource } from "./store.js";

const OPTS = {
  trustDomain: "cluster.local",
  clusterId: "Kubernetes",
  domainSuffix: "cluster.local",
  network: "",
};

function objects(yaml: string): StoredResource[] {
  const { resources, errors } = parseDocuments(yaml, "test.yaml");
  assert.deepEqual(errors, []);
  return resources.map((r) => {
    const copy = { ...r, metadata: { ...r.metadata } } as StoredResource;
    if (!["Namespace", "Node"].includes(r.kind)) copy.metadata.namespace ??= "default";
    return copy;
  });
}

function build(
  yaml: string,
  previous: Allocations = emptyAllocations(),
): { registry: Registry; allocations: Allocations } {
  return buildRegistry(objects(yaml), previous, OPTS);
}

const NODES = `
apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {topology.kubernetes.io/zone: zb}}
---
apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {topology.kubernetes.io/zone: za, topology.kubernetes.io/region: r1}}
spec: {podCIDR: 10.244.7.0/24}
`;

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, version: v2}}
    spec:
      serviceAccountName: web-sa
      containers:
      - name: web
        image: example/web:1
        command: [python3, -m, http.server]
        args: ["8080"]
        env: [{name: MODE, value: demo}]
        ports: [{containerPort: 8080, name: http}]
`;

describe("registry: deployments become pods spread over nodes", () => {
  test("replicas round-robin over nodes sorted by name, deterministic names, IPs from the node CIDR", () => {
    const { registry } = build(NODES + "---" + DEPLOYMENT);
    const pods = registry.workloads.filter((w) => w.kind === "Pod");
    assert.deepEqual(
      pods.map((p) => [p.name, p.node, p.ip]),
      [
        ["web-0", "node-a", "10.244.7.2"],
        ["web-1", "node-b", "10.244.1.2"],
        ["web-2", "node-a", "10.244.7.3"],
      ],
    );
    const p0 = pods[0];
    assert.ok(p0);
    assert.equal(p0.uid, "Kubernetes//Pod/shop/web-0");
    assert.equal(p0.serviceAccount, "web-sa");
    assert.equal(p0.owner, "web");
    assert.equal(p0.zone, "za");
    assert.equal(p0.region, "r1");
    assert.equal(p0.canonicalName, "web");
    assert.equal(p0.canonicalRevision, "v2");
    assert.deepEqual(p0.runtime, {
      kind: "process",
      image: "example/web:1",
      command: ["python3", "-m", "http.server"],
      args: ["8080"],
      env: [{ name: "MODE", value: "demo" }],
      ports: [8080],
    });
  });

  test("nodeName in the template pins every replica", () => {
    const pinned = DEPLOYMENT.replace(
      "serviceAccountName: web-sa",
      "serviceAccountName: web-sa\n      nodeName: node-b",
    );
    const { registry } = build(NODES + "---" + pinned);
    assert.deepEqual(
      registry.workloads.map((w) => w.node),
      ["node-b", "node-b", "node-b"],
    );
  });

  test("without nodes pods are Pending with a problem, not given addresses", () => {
    const { registry } = build(DEPLOYMENT);
    assert.ok(registry.workloads.every((w) => w.phase === "Pending" && w.ip === undefined));
    assert.equal(registry.problems.length, 3);
  });
});

describe("registry: address allocations are stable", () => {
  test("same IPs after a restart (allocations fed back) even when input order and other pods change", () => {
    const first = build(NODES + "---" + DEPLOYMENT);
    const other = `
apiVersion: v1
kind: Pod
metadata: {name: aaa, namespace: shop}
spec: {nodeName: node-a, containers: [{name: c}]}
`;
    const second = build(other + "---" + DEPLOYMENT + "---" + NODES, first.allocations);
    const ipsOf = (r: Registry): Record<string, string | undefined> =>
      Object.fromEntries(r.workloads.filter((w) => w.owner === "web").map((w) => [w.name, w.ip]));
    assert.deepEqual(ipsOf(second.registry), ipsOf(first.registry));
    // The new pod takes a free address instead of one already held.
    assert.equal(second.registry.workloads.find((w) => w.name === "aaa")?.ip, "10.244.7.4");
    // A derived node CIDR is remembered, so adding a node that sorts first does not shift it.
    const more = `
apiVersion: v1
kind: Node
metadata: {name: node-0}
`;
    const third = build(more + "---" + NODES, first.allocations);
    assert.equal(third.registry.nodes.find((n) => n.name === "node-b")?.podCIDR, "10.244.1.0/24");
    assert.equal(third.registry.nodes.find((n) => n.name === "node-0")?.podCIDR, "10.244.2.0/24");
  });

  test("service VIPs come from 10.96.0.0/16, explicit clusterIP wins, headless has none, stable across rebuilds", () => {
    const svcs = `
apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: h, namespace: shop}
spec: {clusterIP: None, ports: [{port: 80}]}
`;
    const first = build(svcs);
    const vip = (r: Registry, n: string): string | undefined => r.services.find((s) => s.name === n)?.vip;
    assert.equal(vip(first.registry, "a"), "10.96.0.10");
    assert.equal(vip(first.registry, "b"), "10.96.0.11");
    assert.equal(vip(first.registry, "h"), undefined);
    const again = build(
      `apiVersion: v1
kind: Service
metadata: {name: c, namespace: shop}
spec: {ports: [{port: 80}]}
---
${svcs}`,
      first.allocations,
    );
    assert.equal(vip(again.registry, "b"), "10.96.0.11");
    assert.equal(vip(again.registry, "c"), "10.96.0.12");
  });
});

describe("registry: services", () => {
  test("endpoints by selector in the same namespace, named targetPort resolved per pod, appProtocol kept", () => {
    const svc = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, appProtocol: http}, {name: raw, port: 9000}]
---
apiVersion: v1
kind: Pod
metadata: {name: stray, namespace: other, labels: {app: web}}
spec: {containers: [{name: c}]}
`;
    const { registry } = build(NODES + "---" + DEPLOYMENT + "---" + svc);
    const s = registry.services.find((x) => x.name === "web");
    assert.ok(s);
    assert.equal(s.hostname, "web.shop.svc.cluster.local");
    assert.deepEqual(s.endpoints, [
      "Kubernetes//Pod/shop/web-0",
      "Kubernetes//Pod/shop/web-1",
      "Kubernetes//Pod/shop/web-2",
    ]);
    assert.equal(s.ports[0]?.appProtocol, "http");
    const w = registry.workloads.find((x) => x.name === "web-0");
    assert.deepEqual(w?.services["shop/web.shop.svc.cluster.local"], [
      { servicePort: 80, targetPort: 8080 },
      { servicePort: 9000, targetPort: 9000 },
    ]);
    assert.deepEqual(registry.workloads.find((x) => x.name === "stray")?.services, {});
  });

  test("ServiceEntry hosts with inline endpoints and an auto VIP; WorkloadEntry is a workload", () => {
    const { registry } = build(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm1, namespace: shop}
spec: {address: 192.0.2.20, serviceAccount: legacy, labels: {app: vm}}
`);
    const se = registry.services.find((s) => s.hostname === "api.example.com");
    assert.equal(se?.vip, "240.240.0.10");
    assert.deepEqual(se?.endpoints, ["Kubernetes//networking.istio.io/ServiceEntry/shop/ext/192.0.2.10"]);
    const vm = registry.workloads.find((w) => w.name === "vm1");
    assert.equal(vm?.uid, "Kubernetes//networking.istio.io/WorkloadEntry/shop/vm1");
    assert.equal(vm?.ip, "192.0.2.20");
    assert.equal(vm?.serviceAccount, "legacy");
  });
});

describe("registry: enrollment and waypoints", () => {
  const base = `
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: ns-wp}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ns-wp, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: svc-wp, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wl-wp, namespace: shop, labels: {istio.io/waypoint-for: workload}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
`;
  const table: { name: string; extra: string; check: (r: Registry) => void }[] = [
    {
      name: "namespace label enrolls pods; a pod label overrides it (none opts out, monitor)",
      extra: `
apiVersion: v1
kind: Pod
metadata: {name: in, namespace: shop}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: out, namespace: shop, labels: {istio.io/dataplane-mode: none}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: mon, namespace: default, labels: {istio.io/dataplane-mode: monitor}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: default}
spec: {containers: [{name: c}]}
`,
      check: (r) => {
        const e = (n: string): string | undefined => r.workloads.find((w) => w.name === n)?.enrollment;
        assert.deepEqual([e("in"), e("out"), e("mon"), e("plain")], ["ambient", "none", "monitor", "none"]);
      },
    },
    {
      name: "service waypoint: the service's label beats the namespace's; none opts out",
      extra: `
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop, labels: {istio.io/use-waypoint: svc-wp}}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: shop, labels: {istio.io/use-waypoint: none}}
spec: {ports: [{port: 80}]}
`,
      check: (r) => {
        const wp = (n: string): string | undefined => r.services.find((s) => s.name === n)?.waypoint?.name;
        assert.deepEqual([wp("a"), wp("b"), wp("c")], ["ns-wp", "svc-wp", undefined]);
        const ns = r.services.find((s) => s.name === "a")?.waypoint;
        assert.equal(ns?.hostname, "ns-wp.shop.svc.cluster.local");
        assert.equal(ns?.vip, r.services.find((s) => s.name === "ns-wp")?.vip);
      },
    },
    {
      name: "workload waypoint only from a waypoint-for workload|all Gateway; a waypoint gets a pod and a service",
      extra: `
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: shop, labels: {istio.io/use-waypoint: wl-wp}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: shop}
spec: {containers: [{name: c}]}
`,
      check: (r) => {
        assert.equal(r.workloads.find((w) => w.name === "p1")?.waypoint?.name, "wl-wp");
        // ns-wp serves services only (the default), so the pod does not use it.
        assert.equal(r.workloads.find((w) => w.name === "p2")?.waypoint, undefined);
        const wpPod = r.workloads.find((w) => w.name === "ns-wp-0");
        assert.equal(wpPod?.isWaypoint, true);
        assert.equal(wpPod?.serviceAccount, "ns-wp");
        assert.equal(wpPod?.enrollment, "none");
        assert.deepEqual(r.services.find((s) => s.name === "ns-wp")?.endpoints, [wpPod?.uid]);
      },
    },
    {
      name: "an unknown waypoint is reported and not used",
      extra: `
apiVersion: v1
kind: Service
metadata: {name: x, namespace: shop, labels: {istio.io/use-waypoint: nope}}
spec: {ports: [{port: 80}]}
`,
      check: (r) => {
        assert.equal(r.services.find((s) => s.name === "x")?.waypoint, undefined);
        assert.ok(r.problems.some((p) => p.code === "WAYPOINT_NOT_FOUND" && p.object === "Service/shop/x"));
      },
    },
  ];
  for (const row of table) {
    test(row.name, () => row.check(build(base + "---" + row.extra).registry));
  }
});

test("keyOf: namespaced and cluster-scoped", () => {
  assert.equal(keyOf({ kind: "Service", metadata: { name: "a" } }), "Service/default/a");
  assert.equal(keyOf({ kind: "Namespace", metadata: { name: "a" } }), "Namespace/a");
});
