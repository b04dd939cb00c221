import assert from "node:assert/strict";
import { test } from "node:test";
import type { WorkloadInfo } from "../control/registry.js";
import { clusterConfig } from "./cluster-config.js";
import { nodeManifest, planCluster, podNames } from "./cluster-plan.js";
import { hostsFile } from "./pod-dns.js";
import { desiredPods, diffPods, podArgv } from "./pod-plan.js";

const state = planCluster(clusterConfig({ name: "t1", nodes: 2, home: "/tmp/h" }), new Date(0));

function workload(name: string, over: Partial<WorkloadInfo> = {}): WorkloadInfo {
  return {
    uid: `Kubernetes//Pod/ns/${name}`,
    kind: "Pod",
    name,
    namespace: "ns",
    owner: undefined,
    phase: "Running",
    ip: "10.244.1.2",
    node: "node-1",
    serviceAccount: "sa",
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
    runtime: { kind: "process", image: undefined, command: ["sleep"], args: ["1"], env: [], ports: [] },
    ...over,
  };
}

test("the plan matches the topology layout and the Node objects carry the pod CIDRs", () => {
  assert.deepEqual(
    state.nodes.map((n) => [n.name, n.netns, n.ip, n.podCidr, n.gateway, n.zone]),
    [
      ["node-1", "t1-node-1", "10.200.0.11", "10.244.1.0/24", "10.244.1.1", "zone-a"],
      ["node-2", "t1-node-2", "10.200.0.12", "10.244.2.0/24", "10.244.2.1", "zone-b"],
    ],
  );
  assert.match(
    nodeManifest(state),
    /name: node-2\n {2}labels:\n {4}topology.kubernetes.io\/zone: zone-b\nspec:\n {2}podCIDR: 10.244.2.0\/24/,
  );
  assert.throws(() => clusterConfig({ name: "Bad_Name" }), { code: "LOCAL_ERR_BAD_OPTIONS" });
  assert.throws(() => clusterConfig({ nodes: 0 }), { code: "LOCAL_ERR_BAD_OPTIONS" });
});

test("pod names: netns per pod and namespace, short stable veth, long names hashed", () => {
  const a = podNames("t1", "ns", "web-0");
  assert.equal(a.netns, "t1-web-0.ns");
  assert.match(a.hostVeth, /^ve[0-9a-f]{10}$/);
  assert.equal(a.captureName, "web-0.ns");
  assert.notEqual(podNames("t1", "ns", "web-1").hostVeth, a.hostVeth);
  const long = podNames("t1", "n".repeat(40), "p".repeat(40));
  assert.ok(long.netns.length <= 63);
  assert.match(long.netns, /^t1-p[0-9a-f]{16}$/);
});

test("desired pods keep only this cluster's nodes, with an address", () => {
  const pods = desiredPods(
    {
      workloads: [
        workload("a"),
        workload("b", { node: "elsewhere" }),
        workload("c", { ip: undefined }),
        workload("d", { kind: "WorkloadEntry" }),
      ],
    },
    state.nodes,
    "t1",
  );
  assert.deepEqual(
    pods.map((p) => p.id),
    ["ns/a"],
  );
});

test("diff: create, recreate on address/command change, update on enrollment only, remove", () => {
  const [a] = desiredPods({ workloads: [workload("a")] }, state.nodes, "t1");
  const [b] = desiredPods({ workloads: [workload("b")] }, state.nodes, "t1");
  assert.ok(a && b);
  const current = new Map([
    [a.id, a],
    [b.id, b],
  ]);
  const cases: [string, WorkloadInfo[], Record<string, string[]>][] = [
    ["nothing changed", [workload("a"), workload("b")], { create: [], recreate: [], update: [], remove: [] }],
    [
      "b removed, c added",
      [workload("a"), workload("c")],
      { create: ["ns/c"], recreate: [], update: [], remove: ["ns/b"] },
    ],
    [
      "a un-enrolled",
      [workload("a", { enrollment: "none" }), workload("b")],
      { create: [], recreate: [], update: ["ns/a"], remove: [] },
    ],
    [
      "a new address",
      [workload("a", { ip: "10.244.1.9" }), workload("b")],
      { create: [], recreate: ["ns/a"], update: [], remove: [] },
    ],
    [
      "a new command",
      [
        workload("a", {
          runtime: { kind: "process", image: undefined, command: ["true"], args: [], env: [], ports: [] },
        }),
        workload("b"),
      ],
      { create: [], recreate: ["ns/a"], update: [], remove: [] },
    ],
  ];
  for (const [name, workloads, want] of cases) {
    const d = diffPods(current, desiredPods({ workloads }, state.nodes, "t1"));
    const got = { create: d.create, recreate: d.recreate, update: d.update, remove: d.remove };
    assert.deepEqual(
      Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.map((p) => p.id)])),
      want,
      name,
    );
  }
});

test("argv is command + args; waypoints and command-less pods run nothing", () => {
  assert.deepEqual(podArgv(workload("a").runtime), ["sleep", "1"]);
  assert.equal(
    podArgv({ kind: "waypoint", image: undefined, command: [], args: [], env: [], ports: [] }),
    undefined,
  );
  assert.equal(
    podArgv({ kind: "process", image: "x", command: [], args: [], env: [], ports: [] }),
    undefined,
  );
  assert.equal(podArgv(undefined), undefined);
});

test("hosts file: every Kubernetes name of a service; the bare name only in the pod's namespace", () => {
  const text = hostsFile({ name: "client-0", namespace: "shop", ip: "10.244.1.2" }, [
    { name: "db", namespace: "shop", vip: "10.96.0.10" },
    { name: "api", namespace: "other", vip: "10.96.0.11" },
    { name: "headless", namespace: "shop", vip: undefined },
  ]);
  assert.match(text, /^10\.96\.0\.10\tdb\.shop\.svc\.cluster\.local db\.shop\.svc db\.shop db$/m);
  assert.match(text, /^10\.96\.0\.11\tapi\.other\.svc\.cluster\.local api\.other\.svc api\.other$/m);
  assert.doesNotMatch(text, /headless/);
  assert.match(text, /^10\.244\.1\.2\tclient-0$/m);
});
