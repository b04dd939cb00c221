import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseDocuments } from "../api/load.js";
import { closeMatches, MeshView, portView } from "./mesh-views.js";
import { buildRegistry, emptyAllocations } from "./registry.js";
import type { StoredResource } from "./store.js";

const OPTS = {
  trustDomain: "cluster.local",
  clusterId: "Kubernetes",
  domainSuffix: "cluster.local",
  network: "",
};

function objects(yaml: string, file: string): StoredResource[] {
  const { resources, errors } = parseDocuments(yaml, file);
  assert.deepEqual(errors, []);
  return resources.map((r) => {
    const copy = { ...r, metadata: { ...r.metadata } } as StoredResource;
    if (!["Namespace", "Node"].includes(r.kind)) copy.metadata.namespace ??= "default";
    return copy;
  });
}

// The payment-system demo as users apply it, two nodes, and policies that exercise every enforcement point.
// Compiled to dist/src/control/: the repository root is three levels up.
const DEMO_DIR = fileURLToPath(new URL("../../../examples/payment-system/", import.meta.url));
const EXTRA = `
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-get, namespace: payment-system}
spec:
  action: ALLOW
  rules:
    - to: [{operation: {methods: ["GET"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-db, namespace: payment-system}
spec:
  selector: {matchLabels: {app: payment-db}}
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: payment-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {istio.io/dataplane-mode: monitor}}
spec: {nodeName: node-9, containers: [{name: c}]}
`;

function fixture(): MeshView {
  const resources: StoredResource[] = [];
  for (const f of readdirSync(DEMO_DIR)
    .filter((x) => x.endsWith(".yaml"))
    .sort())
    resources.push(...objects(readFileSync(join(DEMO_DIR, f), "utf8"), f));
  resources.push(...objects(EXTRA, "extra.yaml"));
  const { registry } = buildRegistry(resources, emptyAllocations(), OPTS);
  return new MeshView({ registry, resources, trustDomain: "cluster.local" });
}

describe("mesh views of the payment-system demo", () => {
  const view = fixture();

  test("workloads: identity, enrollment and where it comes from, waypoint, protocol", () => {
    const ws = view.workloads("payment-system");
    const v1 = ws.find((w) => w.name === "payment-service-v1-0");
    assert.ok(v1);
    assert.equal(v1.identity, "spiffe://cluster.local/ns/payment-system/sa/payment-service");
    assert.equal(v1.enrollment, "ambient");
    assert.equal(v1.enrollmentFrom, "namespace");
    assert.equal(v1.protocol, "HBONE");
    // waypoint-for: service — traffic addressed to the pod itself does not use it.
    assert.equal(v1.waypoint, null);
    assert.deepEqual(v1.services, ["payment-system/payment-service"]);
    assert.ok(v1.node === "node-1" || v1.node === "node-2");
    const wp = ws.find((w) => w.isWaypoint);
    assert.equal(wp?.name, "waypoint-0");
    assert.equal(wp?.protocol, "HBONE");
    const old = view.workloads("legacy")[0];
    assert.equal(old?.enrollment, "monitor");
    assert.equal(old?.enrollmentFrom, "pod");
    assert.equal(old?.protocol, "TCP");
    assert.deepEqual(
      view.workloads().map((w) => w.namespace),
      [...view.workloads().map((w) => w.namespace)].sort(),
    );
  });

  test("services: VIP, ports with protocol and how it was chosen, endpoints, waypoint from the namespace label", () => {
    const db = view.services("payment-system").find((s) => s.name === "payment-db");
    assert.ok(db);
    assert.match(db.vip ?? "", /^10\.96\./);
    assert.deepEqual(
      db.ports.map((p) => [p.port, p.protocol, p.protocolFrom]),
      [[3306, "MySQL", "appProtocol"]],
    );
    assert.deepEqual(db.endpoints, ["payment-system/payment-db-0"]);
    assert.deepEqual(db.waypoint, { namespace: "payment-system", name: "waypoint", from: "namespace" });
    const ps = view.services("payment-system").find((s) => s.name === "payment-service");
    assert.equal(ps?.endpoints.length, 3);
  });

  test("policies: scope, action and where each is enforced, with the L7-at-ztunnel warning", () => {
    const ps = view.policies("payment-system");
    const by = (name: string) => ps.find((p) => p.name === name);
    assert.deepEqual(
      [by("payment-db-access")?.scope, by("payment-db-access")?.enforcedAt, by("payment-db-access")?.layer],
      ["waypoint-targeted", "waypoint", "L7"],
    );
    assert.deepEqual(by("payment-db-access")?.targets, ["Service/payment-db"]);
    assert.deepEqual(by("payment-db-access")?.warnings, []);
    const onlyGet = by("only-get");
    assert.deepEqual([onlyGet?.scope, onlyGet?.enforcedAt, onlyGet?.layer], ["namespace", "ztunnel", "L4"]);
    assert.equal(onlyGet?.warnings.length, 1);
    assert.match(onlyGet?.warnings[0] ?? "", /methods.*never match at ztunnel/);
    assert.deepEqual([by("audit-db")?.scope, by("audit-db")?.enforcedAt], ["workload", "none"]);
    const pa = by("strict");
    assert.deepEqual(
      [pa?.kind, pa?.action, pa?.scope, pa?.enforcedAt],
      ["PeerAuthentication", "STRICT", "namespace", "ztunnel"],
    );
  });

  test("waypoints: for, ready pod, the services and namespaces bound to it", () => {
    const [wp] = view.waypoints();
    assert.ok(wp);
    assert.equal(wp.name, "waypoint");
    assert.equal(wp.for, "service");
    assert.equal(wp.pod, "waypoint-0");
    assert.equal(wp.ready, true);
    assert.deepEqual(wp.namespaces, ["payment-system"]);
    assert.deepEqual(wp.services, ["payment-system/payment-db", "payment-system/payment-service"]);
    assert.deepEqual(wp.workloads, []);
  });

  test("describe pod: the SQL policy at the waypoint, L4 policies at ztunnel, mTLS in effect", () => {
    const d = view.describePod("payment-system", "payment-db-0");
    assert.ok(d);
    assert.match(d.enrollmentReason, /namespace payment-system label istio\.io\/dataplane-mode=ambient/);
    assert.deepEqual(
      d.waypoints.map((w) => [w.name, w.for]),
      [["waypoint", "service"]],
    );
    const atWp = d.policies.find((p) => p.name === "payment-db-access");
    assert.equal(atWp?.enforcedAt, "waypoint");
    assert.equal(atWp?.waypoint, "payment-system/waypoint");
    assert.equal(atWp?.via, "payment-system/payment-db");
    assert.match(atWp?.effect ?? "", /allows only requests matching its rules/);
    const atZt = d.policies.find((p) => p.name === "only-get");
    assert.equal(atZt?.enforcedAt, "ztunnel");
    assert.equal(atZt?.warnings.length, 1);
    // AUDIT is ignored at ztunnel, so it is not listed as applying there.
    assert.equal(
      d.policies.find((p) => p.name === "audit-db"),
      undefined,
    );
    assert.deepEqual(d.mtls, { mode: "STRICT", policy: "payment-system/strict", level: "namespace" });
    assert.deepEqual(d.events, []);
  });

  test("describe pod: registry problems about the pod are its events", () => {
    const d = view.describePod("legacy", "old");
    assert.equal(d?.events[0]?.reason, "PENDING");
    assert.match(d?.events[0]?.message ?? "", /node-9/);
    assert.deepEqual(d?.mtls, { mode: "PERMISSIVE", policy: null, level: "default" });
  });

  test("describe svc: waypoint and why, endpoints with identity, policies at both places", () => {
    const d = view.describeService("payment-system", "payment-db");
    assert.ok(d);
    assert.equal(d.waypointReason, "namespace label istio.io/use-waypoint=waypoint");
    assert.deepEqual(
      d.endpoints.map((e) => [e.name, e.identity]),
      [["payment-db-0", "spiffe://cluster.local/ns/payment-system/sa/payment-db"]],
    );
    assert.deepEqual(
      d.policies.map((p) => [p.name, p.enforcedAt]),
      [
        ["payment-db-access", "waypoint"],
        ["only-get", "ztunnel"],
      ],
    );
    assert.equal(view.describeService("payment-system", "nope"), undefined);
  });
});

test("closeMatches suggests near names, best first, at most three", () => {
  const names = ["payment-service", "payment-db", "client", "payment-service-v1-0"];
  assert.deepEqual(closeMatches("payment-servce", names), ["payment-service"]);
  assert.deepEqual(closeMatches("payment", names), ["payment-db", "payment-service", "payment-service-v1-0"]);
  assert.deepEqual(closeMatches("zzz", names), []);
});

test("portView follows Istio's protocol selection: appProtocol, then the name prefix, else detected", () => {
  const p = (name: string | undefined, appProtocol: string | undefined, protocol = "TCP") =>
    portView({ name, port: 80, targetPort: 80, protocol, appProtocol });
  const cases: [ReturnType<typeof p>, string, string][] = [
    [p("web", "http"), "HTTP", "appProtocol"],
    [p("http-web", undefined), "HTTP", "name"],
    [p("grpc-api", undefined), "GRPC", "name"],
    [p("mysql", undefined), "MySQL", "name"],
    [p("tcp-x", "kubernetes.io/h2c"), "kubernetes.io/h2c", "appProtocol"],
    [p("web", undefined), "auto", "detected"],
    [p(undefined, undefined, "UDP"), "UDP", "detected"],
  ];
  for (const [v, protocol, from] of cases) assert.deepEqual([v.protocol, v.protocolFrom], [protocol, from]);
});
