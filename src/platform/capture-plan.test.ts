import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  baseScope,
  captureConfig,
  enrolledPods,
  INPOD_MARK,
  parseNatRules,
  planBase,
  planInPod,
  planPod,
  planRemoveAll,
  planScopeChange,
  podScope,
  renderRestore,
  renderRule,
} from "./capture-plan.js";

const config = captureConfig({ prefix: "ab12cd", localPodCidrs: ["10.244.1.0/24"] });
const podA = { name: "node1-pod1", ip: "10.244.1.2", hostVeth: "ve0123456789" };

/** The rule without its comment hash, for readable tables. */
function text(r: ReturnType<typeof planPod>[number]): string {
  return renderRule(r).replace(/--comment (\S+)\/[0-9a-f]{8}/, "--comment $1");
}

describe("planInPod", () => {
  const pod = { name: "node1-pod1", ip: "10.244.1.2", nodeAddress: "10.244.1.1" };

  test("inside the pod: marked and loopback pass, HBONE to 15008 stays, the rest to 15006 / 15001", () => {
    assert.equal(INPOD_MARK, 0x539);
    assert.deepEqual(planInPod(config, pod).map(text), [
      "-I PREROUTING 1 -p tcp -m comment --comment ab12cd/pod=node1-pod1/jump-prerouting -j ab12cd-PRERT",
      "-I OUTPUT 1 -p tcp -m comment --comment ab12cd/pod=node1-pod1/jump-output -j ab12cd-OUTPUT",
      "-A ab12cd-PRERT -m mark --mark 0x539/0xfff -m comment --comment ab12cd/pod=node1-pod1/in-ztunnel-own -j RETURN",
      "-A ab12cd-PRERT -i lo -m comment --comment ab12cd/pod=node1-pod1/in-loopback -j RETURN",
      "-A ab12cd-PRERT -d 10.244.1.2/32 -p tcp --dport 15008 -m comment --comment ab12cd/pod=node1-pod1/in-hbone -j RETURN",
      "-A ab12cd-PRERT -s 10.244.1.1/32 -m comment --comment ab12cd/pod=node1-pod1/in-node -j RETURN",
      "-A ab12cd-PRERT -d 10.244.1.2/32 -p tcp -m comment --comment ab12cd/pod=node1-pod1/in-plaintext -j REDIRECT --to-ports 15006",
      "-A ab12cd-OUTPUT -m mark --mark 0x539/0xfff -m comment --comment ab12cd/pod=node1-pod1/out-ztunnel-own -j RETURN",
      "-A ab12cd-OUTPUT -o lo -m comment --comment ab12cd/pod=node1-pod1/out-loopback -j RETURN",
      "-A ab12cd-OUTPUT -d 10.244.1.1/32 -p tcp -m multiport --dports 15001,15006,15008,15020,15021,15080 -m comment --comment ab12cd/pod=node1-pod1/out-ztunnel-exempt -j RETURN",
      "-A ab12cd-OUTPUT -p tcp -m comment --comment ab12cd/pod=node1-pod1/out-redirect -j REDIRECT --to-ports 15001",
    ]);
  });

  test("bad addresses are refused, naming the pod and the value", () => {
    assert.throws(() => planInPod(config, { ...pod, nodeAddress: "10.244.1" }), /10\.244\.1/);
    assert.throws(() => planInPod(config, { ...pod, ip: "fd00::2" }), /node1-pod1: IPv6 capture \(fd00::2\)/);
    assert.throws(
      () => planInPod(config, { ...pod, name: "bad name" }),
      /"bad name" is not a usable pod name/,
    );
  });
});

describe("planPod", () => {
  test("outbound: exempt the node's ztunnel ports, then redirect to 15001; inbound: 15008, local, 15006", () => {
    assert.deepEqual(planPod(config, podA).map(text), [
      "-A ab12cd-OUTBOUND -i ve0123456789 -p tcp -m addrtype --dst-type LOCAL -m multiport --dports 15001,15006,15008,15020,15021,15080 -m comment --comment ab12cd/pod=node1-pod1/out-ztunnel-exempt -j RETURN",
      "-A ab12cd-OUTBOUND -i ve0123456789 -p tcp -m comment --comment ab12cd/pod=node1-pod1/out-redirect -j REDIRECT --to-ports 15001",
      "-A ab12cd-INBOUND -d 10.244.1.2/32 -p tcp --dport 15008 -m comment --comment ab12cd/pod=node1-pod1/in-hbone -j REDIRECT --to-ports 15008",
      "-A ab12cd-INBOUND -d 10.244.1.2/32 -s 10.244.1.0/24 -p tcp -m comment --comment ab12cd/pod=node1-pod1/in-local-pods-0 -j RETURN",
      "-A ab12cd-INBOUND -d 10.244.1.2/32 -p tcp -m comment --comment ab12cd/pod=node1-pod1/in-plaintext -j REDIRECT --to-ports 15006",
    ]);
  });

  test("ports and exempt list come from the config", () => {
    const custom = captureConfig({
      prefix: "zz",
      localPodCidrs: [],
      ports: { outbound: 25001, hbone: 25008 },
      ztunnelPorts: [25001, 25008],
    });
    const rules = planPod(custom, podA).map(text);
    assert.equal(rules.length, 4, "no local-pod RETURN without local CIDRs");
    assert.match(rules[0] ?? "", /--dports 25001,25008 /);
    assert.match(rules[1] ?? "", /--to-ports 25001$/);
    assert.match(rules[2] ?? "", /--dport 25008 .*--to-ports 25008$/);
    assert.match(rules[3] ?? "", /--to-ports 15006$/);
  });

  test("the comment hash changes with the rule's content and only then", () => {
    const again = planPod(config, { ...podA });
    assert.deepEqual(
      again.map((r) => r.comment),
      planPod(config, podA).map((r) => r.comment),
    );
    const moved = planPod(config, { ...podA, ip: "10.244.1.3" });
    assert.equal(moved[0]?.comment, planPod(config, podA)[0]?.comment, "outbound rules do not name the IP");
    assert.notEqual(moved[2]?.comment, planPod(config, podA)[2]?.comment);
  });

  const bad: [string, Parameters<typeof planPod>[1]][] = [
    ["pod name with a space", { ...podA, name: "a b" }],
    ["pod name with a slash", { ...podA, name: "ns/a" }],
    ["IP not an address", { ...podA, ip: "10.244.1" }],
    ["IPv6 (needs ip6tables)", { ...podA, ip: "fd00::2" }],
    ["link name too long", { ...podA, hostVeth: "a-very-long-veth-name" }],
    ["link name with a shell character", { ...podA, hostVeth: "ve;rm" }],
  ];
  for (const [what, pod] of bad) {
    test(`rejects ${what}`, () => {
      assert.throws(() => planPod(config, pod), { code: "PLAT_ERR_INVALID" });
    });
  }
});

describe("captureConfig", () => {
  const bad: [string, Parameters<typeof captureConfig>[0]][] = [
    ["an upper-case prefix", { prefix: "AB", localPodCidrs: [] }],
    ["a prefix with a dash", { prefix: "ab-1", localPodCidrs: [] }],
    ["a one-letter prefix", { prefix: "a", localPodCidrs: [] }],
    ["a prefix too long for chain names", { prefix: "abcdefghijklmnopq", localPodCidrs: [] }],
    ["a bad CIDR", { prefix: "ab", localPodCidrs: ["10.244.1.0/33"] }],
    ["a port 0", { prefix: "ab", localPodCidrs: [], ports: { outbound: 0 } }],
    [
      "16 exempt ports",
      { prefix: "ab", localPodCidrs: [], ztunnelPorts: Array.from({ length: 16 }, (_, i) => 15000 + i) },
    ],
  ];
  for (const [what, options] of bad) {
    test(`rejects ${what}`, () => {
      assert.throws(() => captureConfig(options), { code: "PLAT_ERR_INVALID" });
    });
  }

  test("chain names fit iptables' 28-character limit for the longest prefix", () => {
    const c = captureConfig({ prefix: "abcdefghijklmnop", localPodCidrs: [] });
    assert.ok(c.chains.outbound.length <= 28 && c.chains.inbound.length <= 28);
  });
});

describe("planBase", () => {
  test("jumps from PREROUTING into the two chains, first in the table", () => {
    assert.deepEqual(
      planBase(config).map((r) => renderRule(r).replace(/\/[0-9a-f]{8} /, " ")),
      [
        "-I PREROUTING 1 -p tcp -m comment --comment ab12cd/base/jump-outbound -j ab12cd-OUTBOUND",
        "-I PREROUTING 2 -p tcp -m comment --comment ab12cd/base/jump-inbound -j ab12cd-INBOUND",
      ],
    );
  });
});

/** `iptables -t nat -S` as the kernel prints it once base and podA are installed, plus a foreign rule. */
function installedState(extra = ""): string {
  const lines = [
    "-P PREROUTING ACCEPT",
    "-P INPUT ACCEPT",
    "-P OUTPUT ACCEPT",
    "-P POSTROUTING ACCEPT",
    "-N ab12cd-INBOUND",
    "-N ab12cd-OUTBOUND",
    "-N other-CHAIN",
    ...planBase(config).map((r) => kernelForm(r)),
    "-A PREROUTING -p udp -j other-CHAIN",
    ...planPod(config, podA).map((r) => kernelForm(r)),
  ];
  return `${lines.join("\n")}\n${extra}`;
}

/** The kernel prints -A (never -I), quotes comments and adds `-m tcp` before --dport. */
function kernelForm(r: ReturnType<typeof planPod>[number]): string {
  return renderRule(r)
    .replace(/^-I (\S+) \d+/, "-A $1")
    .replace(`--comment ${r.comment}`, `--comment "${r.comment}"`)
    .replace("-p tcp --dport", "-p tcp -m tcp --dport");
}

describe("parseNatRules", () => {
  test("reads chains, comments (quoted or not) and jump targets", () => {
    const state = parseNatRules(
      installedState("-A ab12cd-OUTBOUND -i x -m comment --comment bare -j RETURN\n"),
    );
    assert.deepEqual(state.chains, ["ab12cd-INBOUND", "ab12cd-OUTBOUND", "other-CHAIN"]);
    assert.equal(state.rules.length, 2 + 1 + 5 + 1);
    assert.equal(state.rules[0]?.jump, "ab12cd-OUTBOUND");
    assert.equal(state.rules[0]?.comment, planBase(config)[0]?.comment);
    assert.equal(state.rules[2]?.comment, undefined);
    assert.equal(state.rules.at(-1)?.comment, "bare");
  });
});

describe("planScopeChange", () => {
  test("on an empty table: declares the chains, inserts the jumps, appends the pod's rules", () => {
    const empty = parseNatRules("-P PREROUTING ACCEPT\n");
    const chains = [config.chains.outbound, config.chains.inbound];
    const base = planScopeChange(empty, baseScope(config), planBase(config), chains);
    assert.deepEqual(base.slice(0, 2), [":ab12cd-OUTBOUND - [0:0]", ":ab12cd-INBOUND - [0:0]"]);
    assert.equal(base.length, 4);
    assert.deepEqual(
      planScopeChange(empty, podScope(config, podA.name), planPod(config, podA)),
      planPod(config, podA).map(renderRule),
    );
  });

  test("when everything is installed: nothing to do (idempotent), and chains are never re-declared", () => {
    const state = parseNatRules(installedState());
    const chains = [config.chains.outbound, config.chains.inbound];
    assert.deepEqual(planScopeChange(state, baseScope(config), planBase(config), chains), []);
    assert.deepEqual(planScopeChange(state, podScope(config, podA.name), planPod(config, podA)), []);
  });

  test("a changed pod: delete all its rules as printed, then re-add all in order", () => {
    const state = parseNatRules(installedState());
    const moved = planPod(config, { ...podA, ip: "10.244.1.7" });
    const lines = planScopeChange(state, podScope(config, podA.name), moved);
    assert.equal(lines.length, 10);
    assert.ok(lines.slice(0, 5).every((l) => l.startsWith("-D ab12cd-")));
    assert.match(
      lines[2] ?? "",
      /^-D ab12cd-INBOUND -d 10\.244\.1\.2\/32 -p tcp -m tcp --dport 15008 -m comment --comment "/,
    );
    assert.deepEqual(lines.slice(5), moved.map(renderRule));
  });

  test("unenroll (nothing desired) deletes only that pod's rules, not a pod whose name extends it", () => {
    const longer = planPod(config, { name: "node1-pod10", ip: "10.244.1.11", hostVeth: "ve99" }).map(
      kernelForm,
    );
    const state = parseNatRules(installedState(`${longer.join("\n")}\n`));
    const lines = planScopeChange(state, podScope(config, podA.name), []);
    assert.equal(lines.length, 5);
    assert.ok(lines.every((l) => l.includes("pod=node1-pod1/")));
    assert.deepEqual(enrolledPods(state, config.prefix), ["node1-pod1", "node1-pod10"]);
  });
});

describe("planRemoveAll", () => {
  test("deletes the jumps from built-in chains, then flushes and deletes only this prefix's chains", () => {
    const state = parseNatRules(installedState());
    const lines = planRemoveAll(state, "ab12cd");
    assert.deepEqual(lines.slice(2), [
      "-F ab12cd-INBOUND",
      "-F ab12cd-OUTBOUND",
      "-X ab12cd-INBOUND",
      "-X ab12cd-OUTBOUND",
    ]);
    assert.ok(lines.slice(0, 2).every((l) => l.startsWith("-D PREROUTING ") && l.includes("-j ab12cd-")));
    assert.deepEqual(
      planRemoveAll(state, "ab12"),
      [],
      "a shorter prefix does not match another cluster's chains",
    );
    assert.deepEqual(planRemoveAll(parseNatRules(""), "ab12cd"), []);
  });

  test("renders an iptables-restore batch for the nat table", () => {
    assert.equal(renderRestore(["-F x"]), "*nat\n-F x\nCOMMIT\n");
  });
});
