/**
 * `ambit ztunnel restart --node n` in a real local cluster: a steady stream of new connections and
 * a few long-lived ones cross both nodes while each node's ztunnel is handed over to a new
 * process. No new connection may fail; the long-lived ones keep echoing while the old ztunnel
 * drains, and are closed at the drain deadline. Run in both capture modes: in-pod, the successor
 * must listen inside every pod before the old ztunnel closes its listeners there.
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { LoadGenerator } from "../../src/chaos/load.js";
import { connectFrom } from "../../src/platform/netns-sockets.js";
import { eventually, exchange, needsRoot, runCli, TestCluster } from "../e2e/cluster.js";
import { ECHO_PORT, MESH_PODS, meshManifests } from "../e2e/workloads.js";

interface LongLived {
  readonly socket: Socket;
  echoedBytes: number;
  closedAt: number | undefined;
}

function openLongLived(netns: string, host: string): Promise<LongLived> {
  return new Promise((resolve, reject) => {
    const socket = connectFrom({ netns, host, port: ECHO_PORT });
    const c: LongLived = { socket, echoedBytes: 0, closedAt: undefined };
    socket.on("data", (b: Buffer) => {
      c.echoedBytes += b.length;
    });
    socket.on("close", () => {
      c.closedAt = Date.now();
    });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      socket.on("error", () => {});
      resolve(c);
    });
  });
}

for (const capture of ["node", "inpod"]) {
  describe(`ztunnel hand-over (ambit ztunnel restart), ${capture} capture`, { skip: needsRoot }, () => {
    let c: TestCluster;
    let clientNs = "";
    let echoB = "";

    before(async () => {
      c = await TestCluster.up([], 2, undefined, {}, ["--capture", capture]);
      await c.apply(meshManifests());
      await c.waitForPods(MESH_PODS);
      clientNs = c.podNetns("mesh", "client-a");
      echoB = await c.podIp("mesh", "echo-b");
      for (const node of ["node-1", "node-2"])
        assert.ok(await eventually(() => c.ztunnelReady(node), 60_000), `${node} ready`);
      const ok = await eventually(
        async () =>
          (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("hi"))).received.toString() === "hi",
        60_000,
        250,
      );
      assert.ok(ok, "echo-b answers through the mesh");
    });

    after(async () => {
      await c?.destroy();
    });

    for (const node of ["node-1", "node-2"]) {
      test(`${node}: zero failed new connections, live ones drain until the deadline`, async () => {
        const oldPid = await c.ztunnelPid(node);
        const live = await Promise.all([0, 1, 2].map(() => openLongLived(clientNs, echoB)));
        // Modest rate, generous timeout: the machine is shared and loaded; a hand-over fault shows as
        // a refused or reset connection, not as slowness.
        const load = new LoadGenerator({
          netns: clientNs,
          host: echoB,
          port: ECHO_PORT,
          rps: 15,
          timeoutMs: 30_000,
        });
        load.start();
        const loadStart = Date.now();
        const ping = setInterval(() => {
          for (const l of live) if (l.closedAt === undefined) l.socket.write("ping\n");
        }, 100);
        await new Promise((r) => setTimeout(r, 1000));
        const echoedBefore = live.map((l) => l.echoedBytes);
        const drainStarted = Date.now();
        const r = await runCli([
          "ztunnel",
          "restart",
          "--home",
          c.home,
          "--node",
          node,
          "--drain-deadline",
          "3",
          "-o",
          "json",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout) as {
          oldPid: number;
          newPid: number;
          liveAtHandover: number;
          cutAtDeadline: number;
        };
        // Keep loading the new ztunnel alone for a while.
        await new Promise((r2) => setTimeout(r2, 1500));
        clearInterval(ping);
        const summary = await load.stop();
        for (const l of live) l.socket.destroy();

        assert.equal(result.oldPid, oldPid);
        assert.notEqual(result.newPid, oldPid);
        assert.equal(await c.ztunnelPid(node), result.newPid, "the agent supervises the new ztunnel");
        assert.ok(summary.requests >= 15, `load ran (${summary.requests} requests)`);
        const failedAt = summary.samples.filter((x) => !x.ok).map((x) => `${x.at}ms:${x.error}`);
        assert.deepEqual(
          summary.errors,
          {},
          `no new connection failed (${summary.requests} requests; restart ${drainStarted - loadStart}ms after the load began; ${failedAt.slice(0, 20).join(" ")})`,
        );
        assert.equal(summary.failed, 0);
        // The long-lived connections were on the old ztunnel, kept echoing while it drained, and
        // were closed when the drain deadline passed (not before).
        assert.ok(result.liveAtHandover >= live.length, `live at hand-over: ${result.liveAtHandover}`);
        assert.ok(result.cutAtDeadline >= live.length, `cut at deadline: ${result.cutAtDeadline}`);
        for (const [i, l] of live.entries()) {
          assert.ok(l.echoedBytes > (echoedBefore[i] ?? 0), "echoes continued during the drain");
          assert.ok(l.closedAt !== undefined && l.closedAt - drainStarted >= 2500, "closed at the deadline");
        }
        assert.ok(await eventually(() => c.ztunnelReady(node), 30_000), "new ztunnel ready");
        process.stdout.write(
          `# hand-over ${node} (${capture} capture): ${summary.requests} new connections, ${summary.failed} failed, p99 ${summary.p99Ms.toFixed(1)} ms; ${result.liveAtHandover} live drained, ${result.cutAtDeadline} cut at the 3 s deadline\n`,
        );
      });
    }
  });
}
