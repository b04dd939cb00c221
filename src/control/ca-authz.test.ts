import assert from "node:assert/strict";
import { test } from "node:test";
import { SpiffeId } from "../identity/spiffe.js";
import { type DataPlaneCaller, mayIssue } from "./ca-authz.js";
import type { Registry, WorkloadInfo } from "./registry.js";

function pod(name: string, node: string, sa: string, phase: WorkloadInfo["phase"] = "Running"): WorkloadInfo {
  return {
    uid: `Kubernetes//Pod/shop/${name}`,
    kind: "Pod",
    name,
    namespace: "shop",
    owner: undefined,
    phase,
    ip: phase === "Running" ? "10.244.1.2" : undefined,
    node,
    serviceAccount: sa,
    labels: {},
    services: {},
    waypoint: undefined,
    enrollment: "ambient",
    isWaypoint: false,
    canonicalName: name,
    canonicalRevision: "latest",
    region: "",
    zone: "",
    network: "",
    runtime: undefined,
  };
}

const registry: Registry = {
  nodes: [],
  workloads: [
    pod("web-0", "node1", "web"),
    pod("db-0", "node2", "db"),
    pod("late", "node1", "late", "Pending"),
  ],
  services: [],
  problems: [],
};

const node1: DataPlaneCaller = { kind: "node", id: "node/node1", node: "node1" };
const waypoint: DataPlaneCaller = { kind: "waypoint", id: "waypoint/shop/wp", namespace: "shop", name: "wp" };

const rows: { caller: DataPlaneCaller; identity: string; allowed: boolean }[] = [
  { caller: node1, identity: "spiffe://cluster.local/ns/shop/sa/web", allowed: true },
  { caller: node1, identity: "spiffe://cluster.local/ns/shop/sa/db", allowed: false },
  { caller: node1, identity: "spiffe://cluster.local/ns/other/sa/web", allowed: false },
  { caller: node1, identity: "spiffe://cluster.local/ns/shop/sa/late", allowed: false },
  { caller: node1, identity: "spiffe://evil.org/ns/shop/sa/web", allowed: false },
  { caller: waypoint, identity: "spiffe://cluster.local/ns/shop/sa/wp", allowed: true },
  { caller: waypoint, identity: "spiffe://cluster.local/ns/shop/sa/web", allowed: false },
];

for (const r of rows) {
  test(`CA authorization: ${r.caller.id} asking for ${r.identity} → ${r.allowed ? "allowed" : "refused"}`, () => {
    const d = mayIssue(r.caller, SpiffeId.parse(r.identity), registry, "cluster.local");
    assert.equal(d.allowed, r.allowed);
    if (!d.allowed) assert.ok(d.reason.length > 0);
  });
}
