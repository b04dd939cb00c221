import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { NodeCapture, readNatState } from "../../src/platform/capture.js";
import { runCommand } from "../../src/platform/command.js";
import { listNetns } from "../../src/platform/netns.js";
import { originalDst } from "../../src/platform/original-dst.js";
import { type Endpoint, listenIn, request } from "../netns/tcp.js";
import { createTopology, sweepStale, type TestTopology } from "../netns/topology.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (netns, iptables)" : false;

/** What a ztunnel listener would learn about a connection, sent back to the client as its reply. */
function describeCapture(socket: Parameters<typeof originalDst>[0]): string {
  const dst = originalDst(socket);
  return `captured ${dst.address}:${dst.port} from ${socket.remoteAddress}`;
}

async function natRules(netns: string): Promise<string> {
  return (await runCommand(["ip", "netns", "exec", netns, "iptables", "-w", "-t", "nat", "-S"])).stdout;
}

describe("capture rules in a node netns (real kernel)", { skip: notRoot }, () => {
  let topo: TestTopology;
  let capture1: NodeCapture;
  let capture2: NodeCapture;
  const endpoints: Endpoint[] = [];

  before(async () => {
    await sweepStale();
    topo = await createTopology({ nodes: 2, podsPerNode: 2 });
    const node = (name: string) => topo.node(name);
    capture1 = new NodeCapture({
      netns: node("node1").netns,
      prefix: topo.prefix,
      localPodCidrs: [node("node1").podCidr],
    });
    capture2 = new NodeCapture({
      netns: node("node2").netns,
      prefix: topo.prefix,
      localPodCidrs: [node("node2").podCidr],
    });
    // The workloads: plain servers in two pods of node2.
    for (const pod of ["node2-pod1", "node2-pod2"]) {
      endpoints.push(
        await listenIn(topo.pod(pod).netns, 8080, (s) => `direct ${pod} from ${s.remoteAddress}`),
      );
    }
    // Stand-ins for the ztunnels' listeners, in the node netns.
    for (const n of ["node1", "node2"]) {
      const netns = node(n).netns;
      endpoints.push(await listenIn(netns, 15001, (s) => `${n}:15001 ${describeCapture(s)}`));
      endpoints.push(await listenIn(netns, 15006, (s) => `${n}:15006 ${describeCapture(s)}`));
      endpoints.push(await listenIn(netns, 15008, (s) => `${n}:15008 ${describeCapture(s)}`));
      endpoints.push(await listenIn(netns, 15021, (s) => `${n}:15021 ${describeCapture(s)}`));
    }
  });

  // Each test starts from a node netns without capture rules.
  beforeEach(async () => {
    await capture1.removeAll();
    await capture2.removeAll();
  });

  after(async () => {
    await Promise.all(endpoints.map((e) => e.close()));
    await topo?.destroy();
    assert.deepEqual(
      (await listNetns()).filter((n) => n.startsWith(`${topo.prefix}-`)),
      [],
    );
  });

  test("an enrolled pod's outbound TCP lands on its node's 15001 with the real original destination", async () => {
    const a = topo.pod("node1-pod1");
    const b = topo.pod("node2-pod1");
    assert.equal(await request(a.netns, b.ip, 8080, ""), `direct node2-pod1 from ${a.ip}`);
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    assert.equal(await request(a.netns, b.ip, 8080, ""), `node1:15001 captured ${b.ip}:8080 from ${a.ip}`);
    // Another pod on the same node is not enrolled: still direct.
    const other = topo.pod("node1-pod2");
    assert.equal(await request(other.netns, b.ip, 8080, ""), `direct node2-pod1 from ${other.ip}`);
  });

  test("unenrolling lets traffic flow direct again, live; re-enrolling captures again", async () => {
    const a = topo.pod("node1-pod1");
    const b = topo.pod("node2-pod1");
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    await capture1.unenroll(a.name, { flushConntrackIp: a.ip });
    assert.equal(await request(a.netns, b.ip, 8080, ""), `direct node2-pod1 from ${a.ip}`);
    assert.deepEqual(await capture1.enrolled(), []);
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    assert.equal(await request(a.netns, b.ip, 8080, ""), `node1:15001 captured ${b.ip}:8080 from ${a.ip}`);
    assert.deepEqual(await capture1.enrolled(), [a.name]);
  });

  test("the node's own ztunnel ports stay reachable from an enrolled pod (not redirected)", async () => {
    const a = topo.pod("node1-pod1");
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    // Reached the 15021 listener itself; originalDst refuses because nothing rewrote the destination.
    assert.equal(await request(a.netns, a.gateway, 15021, ""), "error PLAT_ERR_NOT_REDIRECTED");
  });

  test("inbound to an enrolled pod: :15008 from another node → node's 15008; plaintext → 15006", async () => {
    const b = topo.pod("node2-pod1");
    await capture2.enroll({ name: b.name, ip: b.ip, hostVeth: b.hostVeth });
    const node1 = topo.node("node1");
    // What node1's ztunnel does: dial the destination pod's IP on 15008 from the node netns.
    assert.equal(
      await request(node1.netns, b.ip, 15008, ""),
      `node2:15008 captured ${b.ip}:15008 from ${node1.ip}`,
    );
    // A pod on another node that is not in the mesh: plaintext inbound.
    const plain = topo.pod("node1-pod2");
    assert.equal(
      await request(plain.netns, b.ip, 8080, ""),
      `node2:15006 captured ${b.ip}:8080 from ${plain.ip}`,
    );
    // A pod of the same node is not taken to 15006.
    const neighbour = topo.pod("node2-pod2");
    assert.equal(await request(neighbour.netns, b.ip, 8080, ""), `direct node2-pod1 from ${neighbour.ip}`);
    // An enrolled pod's own outbound still goes to its node's 15001 first.
    const a = topo.pod("node1-pod1");
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    assert.equal(await request(a.netns, b.ip, 8080, ""), `node1:15001 captured ${b.ip}:8080 from ${a.ip}`);
  });

  test("enrolling is idempotent and a changed pod replaces its rules", async () => {
    const a = topo.pod("node1-pod1");
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    const once = (await readNatState(topo.node("node1").netns)).rules.length;
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    const state = await readNatState(topo.node("node1").netns);
    assert.equal(state.rules.length, once);
    await capture1.enroll({ name: a.name, ip: "10.244.1.99", hostVeth: a.hostVeth });
    const moved = await natRules(topo.node("node1").netns);
    assert.match(moved, /-d 10\.244\.1\.99\/32/);
    assert.doesNotMatch(moved, new RegExp(`-d ${a.ip.replaceAll(".", "\\.")}/32`));
    assert.equal((await readNatState(topo.node("node1").netns)).rules.length, once);
  });

  test("removeAll leaves no rule or chain with the prefix", async () => {
    const a = topo.pod("node1-pod1");
    await capture1.enroll({ name: a.name, ip: a.ip, hostVeth: a.hostVeth });
    const b = topo.pod("node2-pod1");
    await capture2.enroll({ name: b.name, ip: b.ip, hostVeth: b.hostVeth });
    assert.match(await natRules(topo.node("node1").netns), new RegExp(topo.prefix));
    await capture1.removeAll();
    await capture1.removeAll();
    await capture2.removeAll();
    assert.doesNotMatch(await natRules(topo.node("node1").netns), new RegExp(topo.prefix));
    assert.doesNotMatch(await natRules(topo.node("node2").netns), new RegExp(topo.prefix));
    assert.equal(await request(a.netns, b.ip, 8080, ""), `direct node2-pod1 from ${a.ip}`);
  });
});
