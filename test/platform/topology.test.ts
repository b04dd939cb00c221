import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { createListenSocket, currentNetns, inNetns } from "../../src/platform/native.js";
import { listNetns, netnsPath } from "../../src/platform/netns.js";
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
