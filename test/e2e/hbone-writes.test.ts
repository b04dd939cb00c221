/**
 * `--hbone-writes kernel` end to end (`AMBIT_ZTUNNEL_HBONE_WRITES=kernel ambit up`): the ztunnels'
 * pooled sessions run on their TLS sockets with a reserved send buffer (they have CAP_NET_ADMIN),
 * and the mesh carries data across nodes, intact both ways, as with the default.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eventually, exchange, needsRoot, sha256, TestCluster } from "./cluster.js";
import { ECHO_PORT, MESH_PODS, meshManifests } from "./workloads.js";

function counter(text: string, name: string, label: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("ztunnels with --hbone-writes kernel", { skip: needsRoot }, () => {
  let c: TestCluster;

  before(async () => {
    c = await TestCluster.up([], 2, undefined, { AMBIT_ZTUNNEL_HBONE_WRITES: "kernel" });
    await c.apply(meshManifests());
    await c.waitForPods(MESH_PODS);
    for (const node of ["node-1", "node-2"])
      assert.ok(await eventually(() => c.ztunnelReady(node), 30_000), `${node} ready`);
  });

  after(async () => {
    await c?.destroy();
  });

  test("4 MiB across nodes intact both ways; node-1's session runs on its TLS socket", async () => {
    const clientNs = c.podNetns("mesh", "client-a");
    const echoB = await c.podIp("mesh", "echo-b");
    assert.ok(
      await eventually(
        async () =>
          (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("hi"))).received.toString() === "hi",
        60_000,
        250,
      ),
      "echo-b answers through the mesh",
    );
    const payload = randomBytes(4 * 1024 * 1024);
    const r = await exchange(clientNs, echoB, ECHO_PORT, payload);
    assert.equal(r.error, undefined);
    assert.equal(sha256(r.received), sha256(payload));
    const m = await c.metrics("node-1");
    assert.ok(
      counter(m, "ambit_hbone_pool_sessions_total", 'writes="kernel"') >= 1,
      "a kernel-buffered session",
    );
    assert.equal(counter(m, "ambit_hbone_pool_sessions_total", 'writes="unblocked"'), 0);
  });
});
