/**
 * In-pod capture end to end (`ambit up --capture inpod`): the node's ztunnel serves each enrolled
 * pod from sockets inside the pod's own netns, and the capture rules live there too. Real netns,
 * iptables, tcpdump and the node agent's IPC channel; one cluster for the tests below, in order.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { podNames } from "../../src/local/cluster-plan.js";
import { readAgentStatus } from "../../src/local/cluster-up.js";
import { createSocket } from "../../src/platform/native.js";
import { netnsPath } from "../../src/platform/netns.js";
import { eventually, exchange, execIn, needsRoot, sha256, sleep, type TestCluster } from "./cluster.js";
import {
  assertOnlyRelaysTo,
  captureWire,
  killZtunnel,
  meshCluster,
  metricValue,
  recordsFrom,
} from "./mesh-probes.js";
import { denyClientPolicy, ECHO_PORT, meshManifests } from "./workloads.js";

/** Packets on `iface` in `netns` while `send` runs; tcpdump must have seen some. */
async function wire(home: string, netns: string, iface: string, send: () => Promise<void>): Promise<Buffer> {
  const { bytes, log } = await captureWire(home, netns, iface, send);
  assert.ok(bytes.length > 0, `tcpdump on ${iface} captured nothing: ${log}`);
  return bytes;
}

describe("in-pod capture in a local cluster", { skip: needsRoot }, () => {
  let c: TestCluster;
  let echoA = "";
  let echoB = "";
  let clientNs = "";

  before(async () => {
    ({ c, echoA, echoB, clientNs } = await meshCluster("inpod"));
  });

  after(async () => {
    await c?.destroy();
  });

  test("the rules and the ztunnel's listeners are inside each enrolled pod's netns, none in the node's", async () => {
    const clientIp = await c.podIp("mesh", "client-a");
    const rules = await execIn(clientNs, ["iptables", "-w", "-t", "nat", "-S"]);
    assert.match(rules, new RegExp(`-A ${c.state.prefix}-OUTPUT -p tcp .* -j REDIRECT --to-ports 15001`));
    assert.ok(
      rules.includes(`-A ${c.state.prefix}-PRERT -d ${clientIp}/32 -p tcp -m comment`) &&
        rules.includes("-j REDIRECT --to-ports 15006"),
      `inbound plaintext to 15006 inside the pod: ${rules}`,
    );
    const listening = await execIn(clientNs, ["ss", "-Htlnp"]);
    for (const where of ["127.0.0.1:15001", `${clientIp}:15006`, `${clientIp}:15008`])
      assert.ok(listening.includes(where), `ztunnel listens on ${where} in the pod: ${listening}`);
    const ztPid = await c.ztunnelPid("node-1");
    assert.ok(listening.includes(`pid=${ztPid},`), "the listeners belong to node-1's ztunnel");
    const nodeRules = await execIn(c.node("node-1").netns, ["iptables", "-w", "-t", "nat", "-S"]);
    assert.equal(nodeRules.includes(`${c.state.prefix}-OUTBOUND`), false, "no node-netns capture chain");
    const plain = await execIn(c.podNetns("plain", "plain-client"), ["iptables", "-w", "-t", "nat", "-S"]);
    assert.equal(plain.includes(c.state.prefix), false, "an un-enrolled pod has no rules");
    const dump = JSON.parse(
      await execIn(c.node("node-1").netns, ["curl", "-s", "http://127.0.0.1:15000/config_dump"]),
    ) as { inPod: { uid: string; netns: string; ips: string[] }[] };
    assert.deepEqual(
      dump.inPod.map((p) => p.uid).sort(),
      ["client-a.mesh", "echo-a.mesh", "intruder.mesh"],
      "node-1's admin lists the pods it serves in-pod (not plain-client)",
    );
    assert.deepEqual(dump.inPod.find((p) => p.uid === "client-a.mesh")?.ips, [clientIp]);
  });

  test("pod→pod across nodes: mTLS both sides, 1 MB intact, the HBONE session leaves from the client pod", async () => {
    const payload = randomBytes(1024 * 1024);
    const r = await exchange(clientNs, echoB, ECHO_PORT, payload);
    assert.equal(r.error, undefined);
    assert.equal(r.ended, true, "the reply ends after our half-close");
    assert.equal(sha256(r.received), sha256(payload));
    const clientIp = await c.podIp("mesh", "client-a");
    const sessions = await execIn(clientNs, ["ss", "-Htn", "state", "established", `dst ${echoB}:15008`]);
    assert.ok(
      sessions.includes(`${clientIp}:`),
      `a pooled HBONE session from the pod's own address: ${sessions}`,
    );
    const m1 = await c.metrics("node-1");
    const m2 = await c.metrics("node-2");
    const mtls = [
      'connection_security_policy="mutual_tls"',
      'source_principal="spiffe://cluster.local/ns/mesh/sa/client"',
    ];
    assert.ok(metricValue(m1, "istio_tcp_connections_opened_total", ['reporter="source"', ...mtls]) >= 1);
    assert.ok(
      metricValue(m2, "istio_tcp_connections_opened_total", ['reporter="destination"', ...mtls]) >= 1,
    );
  });

  test("no plain text on the pods' links: a marker never crosses the client's or the server's veth", async () => {
    const marker = `AMBIT-INPOD-${randomBytes(8).toString("hex")}`;
    const veth = (ns: string, pod: string): string => podNames(c.state.prefix, ns, pod).hostVeth;
    const send = async (): Promise<void> => {
      const r = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from(marker.repeat(20)));
      assert.equal(r.received.toString(), marker.repeat(20));
    };
    const clientSide = await wire(c.home, c.node("node-1").netns, veth("mesh", "client-a"), send);
    assert.equal(clientSide.includes(marker), false, "client pod's veth: encrypted");
    const serverSide = await wire(c.home, c.node("node-2").netns, veth("mesh", "echo-b"), send);
    assert.equal(serverSide.includes(marker), false, "server pod's veth: encrypted");
    // Control: an un-enrolled flow on the same kind of link shows its bytes.
    const plainEcho = await c.podIp("plain", "plain-echo");
    const plainSide = await wire(c.home, c.node("node-1").netns, veth("plain", "plain-client"), async () => {
      const r = await exchange(
        c.podNetns("plain", "plain-client"),
        plainEcho,
        ECHO_PORT,
        Buffer.from(marker),
      );
      assert.equal(r.received.toString(), marker);
    });
    assert.equal(plainSide.includes(marker), true, "control: plain traffic is visible");
  });

  test("same node, and plaintext from outside the mesh, reach the pod through its in-pod listeners", async () => {
    const r = await exchange(clientNs, echoA, ECHO_PORT, Buffer.from("same node"));
    assert.equal(r.received.toString(), "same node");
    const plain = await exchange(
      c.podNetns("plain", "plain-client"),
      echoA,
      ECHO_PORT,
      Buffer.from("plain in"),
    );
    assert.equal(plain.received.toString(), "plain in", "PERMISSIVE: plaintext accepted on 15006");
    const plainIp = await c.podIp("plain", "plain-client");
    const seen = await eventually(
      async () =>
        (await c.accessRecords("node-1")).some(
          (a) => a.entry === "plaintext" && String(a["src.addr"]).startsWith(`${plainIp}:`),
        ),
      5000,
    );
    assert.ok(seen, "node-1's ztunnel logged the plaintext inbound connection");
  });

  test("a pod's 15008 tunnels only to that pod: CONNECT to another pod or the control plane is refused with 403", async () => {
    const plainEcho = await c.podIp("plain", "plain-echo");
    // Dial from the fabric side of node-2 (its netns), straight to echo-b's in-pod HBONE listener.
    await assertOnlyRelaysTo(c, c.node("node-2").netns, echoB, `${echoB}:${ECHO_PORT}`, [
      `${c.state.control.ip}:15012`,
      `${echoA}:${ECHO_PORT}`,
      `${plainEcho}:${ECHO_PORT}`,
    ]);
  });

  test("a pod that takes another pod's address cannot speak as that pod: its connection is dropped", async () => {
    // client-a (sa client) adds echo-a's address (sa echo) to its own interface and dials from it.
    await execIn(clientNs, ["ip", "addr", "add", `${echoA}/32`, "dev", "eth0"]);
    try {
      const spoofed = await new Promise<{ received: number; error?: string }>((resolve) => {
        const socket = new Socket({ fd: createSocket({ family: 4, netns: netnsPath(clientNs) }) });
        let received = 0;
        const done = (error?: string): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve({ received, ...(error !== undefined ? { error } : {}) });
        };
        const timer = setTimeout(() => done("timeout"), 5000);
        socket.on("data", (b: Buffer) => {
          received += b.length;
        });
        socket.once("error", (e) => done(e.message));
        socket.once("close", () => done());
        socket.connect({ host: echoB, port: ECHO_PORT, localAddress: echoA }, () => socket.end("as echo-a"));
      });
      assert.equal(spoofed.received, 0, `no answer (${spoofed.error ?? "closed"})`);
      const logged = await eventually(
        async () =>
          (await readFile(join(c.home, "logs", "ztunnel.node-1.log"), "utf8")).includes(
            "in-pod outbound connection from an address that is not the pod's",
          ),
        5000,
      );
      assert.ok(logged, "node-1's ztunnel logged the refused source");
      const asEcho = (await c.accessRecords("node-2")).filter(
        (a) =>
          a["src.identity"] === "spiffe://cluster.local/ns/mesh/sa/echo" &&
          String(a["src.addr"]).startsWith(`${echoA}:`),
      );
      assert.equal(asEcho.length, 0, "nothing reached node-2 as echo-a");
    } finally {
      await execIn(clientNs, ["ip", "addr", "del", `${echoA}/32`, "dev", "eth0"]);
    }
  });

  test("a DENY policy is enforced in-pod; deleting it allows the flow again", async () => {
    await c.apply(denyClientPolicy());
    try {
      const blocked = await eventually(
        async () =>
          (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("x"), 2000)).received.length === 0,
        5000,
      );
      assert.ok(blocked, "the client's connection gets no answer");
      const denied = await eventually(
        async () =>
          (await c.accessRecords("node-2")).some(
            (a) => a["authz"] === "deny" && a["src.identity"] === "spiffe://cluster.local/ns/mesh/sa/client",
          ),
        5000,
      );
      assert.ok(denied, "node-2 logged the denial, with the identity from the certificate");
    } finally {
      await c.deleteYaml(denyClientPolicy());
    }
    const allowed = await eventually(
      async () =>
        (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("y"), 2000)).received.toString() === "y",
      5000,
    );
    assert.ok(allowed, "allowed again");
  });

  test("a pod deleted and created again under its name is back at once, and its first connection crosses the mesh", async () => {
    // A session pooled for client-a leaves from its netns; so do the connections the ztunnel made.
    const warm = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("before"), 5000);
    assert.equal(warm.received.toString(), "before");
    const doc = meshManifests()
      .split("---\n")
      .find((d) => d.includes("kind: Pod") && d.includes("name: client-a\n"));
    assert.ok(doc !== undefined);
    const oldPid = await c.podPid("mesh", "client-a");
    await c.deleteYaml(doc);
    assert.ok(
      await eventually(
        async () => (await readAgentStatus(c.home))?.pods["mesh/client-a"] === undefined,
        20_000,
      ),
      "the agent removed the pod",
    );
    // Its netns and veth are gone, not only their names: nothing of the ztunnel's holds them.
    const veth = podNames(c.state.prefix, "mesh", "client-a").hostVeth;
    const links = await execIn(c.node("node-1").netns, ["ip", "-o", "link", "show"]);
    assert.equal(links.includes(veth), false, `${veth} outlived its pod: ${links}`);
    await c.apply(doc);
    // Before: the old veth (kept by a pooled session's socket in the old netns) made every attempt
    // fail with "File exists" until the session idled out, 5 minutes later.
    await c.waitForPods(["mesh/client-a"], 20_000);
    assert.notEqual(await c.podPid("mesh", "client-a"), oldPid);
    // The first connection, not an eventual one. (The ztunnel also closes the sessions it pooled for
    // the old pod, `HbonePool.closeOrigin`: test/hbone/pool.test.ts checks that directly.)
    const r = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("after"), 5000);
    assert.equal(r.error, undefined);
    assert.equal(r.received.toString(), "after");
  });

  test("un-labelling releases the pods live (rules and listeners go); re-labelling captures again", async () => {
    const clientIp = await c.podIp("mesh", "client-a");
    const inPod = async (netns: string): Promise<boolean> =>
      (await execIn(netns, ["iptables", "-w", "-t", "nat", "-S"])).includes(`${c.state.prefix}-OUTPUT`) &&
      (await execIn(netns, ["ss", "-Htln"])).includes("127.0.0.1:15001");
    const echoNs = c.podNetns("mesh", "echo-a");
    const captured = async (): Promise<boolean> => (await inPod(clientNs)) && (await inPod(echoNs));
    const released = async (): Promise<boolean> => !(await inPod(clientNs)) && !(await inPod(echoNs));
    assert.equal(await captured(), true);
    assert.equal((await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode-"])).code, 0);
    try {
      assert.ok(await eventually(released, 5000), "rules and listeners removed");
      const before = await recordsFrom(c, "node-1", clientIp);
      const r = await exchange(clientNs, echoA, ECHO_PORT, Buffer.from("direct"));
      assert.equal(r.received.toString(), "direct");
      await sleep(300);
      const afterCount = await recordsFrom(c, "node-1", clientIp);
      assert.equal(afterCount, before, "no ztunnel saw the connection");
    } finally {
      await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode=ambient", "--overwrite"]);
    }
    assert.ok(await eventually(captured, 10_000), "captured again");
    const back = await eventually(
      async () =>
        (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("back"), 2000)).received.toString() ===
        "back",
      10_000,
    );
    assert.ok(back, "traffic flows through the mesh again");
  });

  test("a restarted ztunnel gets every pod from the agent and serves them again", async () => {
    const { back } = await killZtunnel(
      c,
      "node-1",
      async () =>
        (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("again"), 2000)).received.toString() ===
        "again",
    );
    assert.ok(back, "the new ztunnel listens in the pod again");
    const pid = await c.ztunnelPid("node-1");
    assert.ok(
      (await execIn(clientNs, ["ss", "-Htlnp"])).includes(`pid=${pid},`),
      "its listeners are in the pod",
    );
  });
});
