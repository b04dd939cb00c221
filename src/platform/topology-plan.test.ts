import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allNetns,
  planPodOn,
  planTopology,
  podSteps,
  type TopologyStep,
  topologySteps,
} from "./topology-plan.js";

const twoByTwo = planTopology({
  prefix: "ab12cd",
  nodes: [
    { name: "node1", pods: ["node1-pod1", "node1-pod2"] },
    { name: "node2", pods: ["node2-pod1", "node2-pod2"] },
  ],
});

function render(s: TopologyStep): string {
  if (s.kind === "netns") return `netns add ${s.name}`;
  if (s.kind === "sysctl") return `${s.netns}: sysctl ${s.key}=${s.value}`;
  return `${s.netns}: ${s.args.join(" ")}`;
}

describe("planTopology", () => {
  test("addresses: nodes 10.200.0.11+ on the fabric, pods of node i in 10.244.i.0/24 from .2, gateway .1", () => {
    assert.deepEqual(
      twoByTwo.nodes.map((n) => [n.netns, n.ip, n.fabricCidr, n.podCidr, n.gateway]),
      [
        ["ab12cd-node1", "10.200.0.11", "10.200.0.11/24", "10.244.1.0/24", "10.244.1.1"],
        ["ab12cd-node2", "10.200.0.12", "10.200.0.12/24", "10.244.2.0/24", "10.244.2.1"],
      ],
    );
    assert.deepEqual(
      twoByTwo.pods.map((p) => [p.netns, p.node, p.ip, p.gateway, p.ifname]),
      [
        ["ab12cd-node1-pod1", "node1", "10.244.1.2", "10.244.1.1", "eth0"],
        ["ab12cd-node1-pod2", "node1", "10.244.1.3", "10.244.1.1", "eth0"],
        ["ab12cd-node2-pod1", "node2", "10.244.2.2", "10.244.2.1", "eth0"],
        ["ab12cd-node2-pod2", "node2", "10.244.2.3", "10.244.2.1", "eth0"],
      ],
    );
    assert.equal(twoByTwo.fabric.netns, "ab12cd-fabric");
  });

  test("veth names fit IFNAMSIZ, are unique, and depend on the name, not the position", () => {
    const names = [...twoByTwo.pods.map((p) => p.hostVeth), ...twoByTwo.nodes.map((n) => n.fabricVeth)];
    assert.ok(names.every((n) => /^(ve|nd)[0-9a-f]{10}$/.test(n)));
    assert.equal(new Set(names).size, names.length);
    const reordered = planTopology({
      prefix: "zz",
      nodes: [{ name: "node1", pods: ["node1-pod2", "node1-pod1"] }],
    });
    assert.equal(reordered.pods[1]?.hostVeth, twoByTwo.pods[0]?.hostVeth);
  });

  test("netns list: fabric, nodes, pods", () => {
    assert.deepEqual(allNetns(twoByTwo), [
      "ab12cd-fabric",
      "ab12cd-node1",
      "ab12cd-node2",
      "ab12cd-node1-pod1",
      "ab12cd-node1-pod2",
      "ab12cd-node2-pod1",
      "ab12cd-node2-pod2",
    ]);
  });

  const bad: [string, Parameters<typeof planTopology>[0]][] = [
    ["no nodes", { prefix: "ab", nodes: [] }],
    ["a bad prefix", { prefix: "AB", nodes: [{ name: "n", pods: [] }] }],
    ["a duplicate pod name", { prefix: "ab", nodes: [{ name: "n1", pods: ["p", "p"] }] }],
    ["a pod named like a node", { prefix: "ab", nodes: [{ name: "n1", pods: ["n1"] }] }],
    ["the reserved name fabric", { prefix: "ab", nodes: [{ name: "fabric", pods: [] }] }],
    ["an upper-case name", { prefix: "ab", nodes: [{ name: "Node1", pods: [] }] }],
    [
      "254 pods on one node",
      { prefix: "ab", nodes: [{ name: "n1", pods: Array.from({ length: 254 }, (_, i) => `p${i}`) }] },
    ],
    [
      "201 nodes",
      { prefix: "ab", nodes: Array.from({ length: 201 }, (_, i) => ({ name: `n${i}`, pods: [] })) },
    ],
  ];
  for (const [what, options] of bad) {
    test(`rejects ${what}`, () => {
      assert.throws(() => planTopology(options), { code: "PLAT_ERR_INVALID" });
    });
  }

  test("the largest layout stays inside 10.200.0.0/24 and 10.244.0.0/16", () => {
    const big = planTopology({
      prefix: "ab",
      nodes: Array.from({ length: 200 }, (_, i) => ({
        name: `n${i}`,
        pods: i === 199 ? Array.from({ length: 253 }, (_, j) => `p${j}`) : [],
      })),
    });
    assert.equal(big.nodes.at(-1)?.ip, "10.200.0.210");
    assert.equal(big.pods.at(-1)?.ip, "10.244.200.254");
  });
});

describe("topologySteps", () => {
  const steps = topologySteps(twoByTwo).map(render);

  test("node1's steps: forwarding, uplink, route to node2's pods, then per pod veth, gateway and /32 route", () => {
    const pod1 = twoByTwo.pods[0];
    assert.ok(pod1);
    const node1 = steps.filter((s) => s.startsWith("ab12cd-node1: "));
    assert.deepEqual(node1.slice(0, 9), [
      "ab12cd-node1: sysctl net.ipv4.ip_forward=1",
      "ab12cd-node1: link set lo up",
      "ab12cd-node1: addr add 10.200.0.11/24 dev eth0",
      "ab12cd-node1: link set eth0 up",
      "ab12cd-node1: route add 10.244.2.0/24 via 10.200.0.12 dev eth0",
      `ab12cd-node1: link add ${pod1.hostVeth} type veth peer name eth0 netns ab12cd-node1-pod1`,
      `ab12cd-node1: addr add 10.244.1.1/32 dev ${pod1.hostVeth}`,
      `ab12cd-node1: link set ${pod1.hostVeth} up`,
      `ab12cd-node1: route add 10.244.1.2/32 dev ${pod1.hostVeth} scope link`,
    ]);
  });

  test("a pod: its /32, an on-link route to the gateway, default via the gateway", () => {
    assert.deepEqual(
      steps.filter((s) => s.startsWith("ab12cd-node2-pod2: ")),
      [
        "ab12cd-node2-pod2: link set lo up",
        "ab12cd-node2-pod2: addr add 10.244.2.3/32 dev eth0",
        "ab12cd-node2-pod2: link set eth0 up",
        "ab12cd-node2-pod2: route add 10.244.2.1 dev eth0 scope link",
        "ab12cd-node2-pod2: route add default via 10.244.2.1 dev eth0",
      ],
    );
  });

  test("order: every netns first; a link is configured only after the step that creates it", () => {
    const firstNonNetns = steps.findIndex((s) => !s.startsWith("netns add"));
    assert.equal(firstNonNetns, 7);
    for (const pod of twoByTwo.pods) {
      const created = steps.findIndex((s) => s.includes(`link add ${pod.hostVeth} `));
      const configured = steps.findIndex((s) => s.startsWith(`${pod.netns}: addr add`));
      assert.ok(created >= 0 && created < configured, pod.name);
    }
    const bridge = steps.indexOf("ab12cd-fabric: link add br0 type bridge");
    assert.ok(bridge > 0 && bridge < steps.findIndex((s) => s.includes("master br0")));
  });
});

describe("planPodOn / podSteps (a pod added later)", () => {
  const node2 = twoByTwo.nodes[1];
  test("slot picks the address; the veth name is the one the full plan would give", () => {
    assert.ok(node2);
    const late = planPodOn("ab12cd", node2, "node2-pod1", 0);
    assert.deepEqual(late, twoByTwo.pods[2]);
    assert.equal(planPodOn("ab12cd", node2, "x", 252).ip, "10.244.2.254");
  });

  test("steps: its netns, the node side, then the pod side", () => {
    assert.ok(node2);
    const late = planPodOn("ab12cd", node2, "late", 7);
    const steps = podSteps(node2, late).map(render);
    assert.equal(steps[0], "netns add ab12cd-late");
    assert.equal(steps.length, 1 + 4 + 5);
    assert.ok(steps.slice(1, 5).every((s) => s.startsWith("ab12cd-node2: ")));
    assert.ok(steps.slice(5).every((s) => s.startsWith("ab12cd-late: ")));
    assert.equal(steps[6], "ab12cd-late: addr add 10.244.2.9/32 dev eth0");
  });

  test("rejects a bad slot, a bad name, or a pod planned on another node", () => {
    assert.ok(node2);
    const node1 = twoByTwo.nodes[0];
    assert.ok(node1);
    assert.throws(() => planPodOn("ab12cd", node2, "p", 253), { code: "PLAT_ERR_INVALID" });
    assert.throws(() => planPodOn("ab12cd", node2, "p", -1), { code: "PLAT_ERR_INVALID" });
    assert.throws(() => planPodOn("ab12cd", node2, "P_1", 1), { code: "PLAT_ERR_INVALID" });
    assert.throws(() => podSteps(node1, planPodOn("ab12cd", node2, "p", 1)), { code: "PLAT_ERR_INVALID" });
  });
});
