import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { createListenSocket, currentNetns, inNetns } from "../../src/platform/native.js";
import { IpTool, listNetns, netnsPath } from "../../src/platform/netns.js";
import { addPod, removePod } from "../../src/platform/topology.js";
import { planPodOn } from "../../src/platform/topology-plan.js";
import { listenIn, request } from "../netns/tcp.js";
import { createTopology, sweepStale, type TestTopology } from "../netns/topology.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (netns)" : false;

describe("netns topology (2 nodes × 2 pods)", { skip: notRoot }, () => {
  let topo: TestTopology;

  before(async () => {
    await sweepStale();
    topo = await createTopology({ nodes: 2, podsPerNode: 2 });
  });
  after(async () => {
    await topo?.destroy();
    const left = (await listNetns()).filter((n) => n.startsWith(`${topo.prefix}-`));
    assert.deepEqual(left, [], "teardown must delete every netns of the run");
  });

  test("creates one netns per fabric, node and pod, with the planned names", async () => {
    const mine = (await listNetns()).filter((n) => n.startsWith(`${topo.prefix}-`)).sort();
    assert.deepEqual(mine, [
      `${topo.prefix}-fabric`,
      `${topo.prefix}-node1`,
      `${topo.prefix}-node1-pod1`,
      `${topo.prefix}-node1-pod2`,
      `${topo.prefix}-node2`,
      `${topo.prefix}-node2-pod1`,
      `${topo.prefix}-node2-pod2`,
    ]);
  });

  test("pod → pod TCP works across nodes and on the same node, without NAT", async (t) => {
    const a = topo.pod("node1-pod1");
    const sameNode = topo.pod("node1-pod2");
    const b = topo.pod("node2-pod1");
    const echo = await listenIn(b.netns, 7000, (s, got) => `echo ${got} from ${s.remoteAddress}`);
    t.after(() => echo.close());
    assert.equal(await request(a.netns, b.ip, 7000, "x"), `echo x from ${a.ip}`);
    assert.equal(await request(sameNode.netns, b.ip, 7000, "y"), `echo y from ${sameNode.ip}`);
    const local = await listenIn(a.netns, 7001, (s, got) => `${got}@${s.remoteAddress}`);
    t.after(() => local.close());
    assert.equal(await request(sameNode.netns, a.ip, 7001, "z"), `z@${sameNode.ip}`);
  });

  test("a node reaches its own pods and the other node", async (t) => {
    const b = topo.pod("node2-pod2");
    const echo = await listenIn(b.netns, 7002, (s) => `hi ${s.remoteAddress}`);
    t.after(() => echo.close());
    assert.equal(await request(topo.node("node2").netns, b.ip, 7002, ""), `hi ${b.gateway}`);
    assert.equal(await request(topo.node("node1").netns, b.ip, 7002, ""), `hi ${topo.node("node1").ip}`);
  });

  test("processes run inside a pod netns with `ip netns exec` (server and client)", async (t) => {
    const a = topo.pod("node1-pod2");
    const b = topo.pod("node2-pod2");
    const server = topo.spawn(b.netns, [
      process.execPath,
      "-e",
      "require('net').createServer((s)=>s.end('served by '+s.localAddress)).listen(7100,'0.0.0.0',()=>console.log('ready'))",
    ]);
    t.after(() => server.stop());
    const stdout = server.child.stdout;
    assert.ok(stdout);
    await new Promise<void>((resolve, reject) => {
      stdout.once("data", () => resolve());
      server.exited.then(() => reject(new Error("server exited early")), reject);
    });
    const client = await topo.exec(a.netns, [
      process.execPath,
      "-e",
      `const s=require('net').connect(7100,'${b.ip}');let d='';s.on('data',(c)=>d+=c);s.on('end',()=>console.log(d));`,
    ]);
    assert.equal(client.stdout.trim(), `served by ${b.ip}`);
  });

  test("a pod added to a running node is reachable; removing it removes its veth and route", async (t) => {
    const node1 = topo.node("node1");
    const late = planPodOn(topo.prefix, node1, "node1-late", 9);
    await addPod(node1, late);
    t.after(() => removePod(node1, late));
    assert.equal(late.ip, "10.244.1.11");
    const echo = await listenIn(late.netns, 7300, (s) => `late ${s.remoteAddress}`);
    t.after(() => echo.close());
    const from = topo.pod("node2-pod1");
    assert.equal(await request(from.netns, late.ip, 7300, ""), `late ${from.ip}`);
    await echo.close();
    await removePod(node1, late);
    assert.ok(!(await listNetns()).includes(late.netns));
    const ip = new IpTool();
    assert.ok(!(await ip.listLinks(node1.netns)).includes(late.hostVeth));
    const routes = await ip.in(node1.netns, ["route", "show"]);
    assert.doesNotMatch(routes.stdout, /10\.244\.1\.11/);
  });

  test("inNetns opens a listener inside a pod's netns and switches the thread back", async (t) => {
    const b = topo.pod("node2-pod1");
    const before = currentNetns();
    const fd = inNetns(netnsPath(b.netns), () => {
      assert.notEqual(currentNetns(), before);
      return createListenSocket({ address: "0.0.0.0", port: 7200 });
    });
    assert.equal(currentNetns(), before);
    const server = createServer((s) => s.end(`in pod ${s.localAddress}`));
    server.on("error", () => undefined);
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => {
        closeSync(fd);
        reject(e);
      });
      server.listen({ fd }, resolve);
    });
    // The pod's peer (another pod) reaches it at the pod's own IP; the process itself is not in that netns.
    assert.equal(await request(topo.pod("node1-pod1").netns, b.ip, 7200, ""), `in pod ${b.ip}`);
  });
});
