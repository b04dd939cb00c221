/**
 * The sidecar model of `ambit bench` with its outbound capture (root: netns, iptables): the app
 * dials the server's own address, and the connection reaches the server through both sidecars
 * only because the client pod's REDIRECT rule hands it to the client proxy. The server tells who
 * connected to it: the server sidecar (loopback) when the pair carried the connection, the client
 * pod itself when it went around the pair.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type SidecarKind, startSidecarPair } from "../../src/bench/sidecar.js";
import { connectFrom, listenOn } from "../../src/platform/netns-sockets.js";
import { createTopology, sweepStale, type TestTopology } from "../netns/topology.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (netns, iptables)" : false;
const TARGET = 7180;

/** Connects from `netns` and resolves with what the server says before it closes. */
async function whoDoesTheServerSee(netns: string, host: string): Promise<string> {
  const socket = connectFrom({ netns, host, port: TARGET });
  const chunks: Buffer[] = [];
  socket.on("data", (b: Buffer) => chunks.push(b));
  try {
    await once(socket, "end");
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    socket.destroy();
  }
}

describe("bench sidecar pairs: outbound capture like a sidecar mesh", { skip: notRoot }, () => {
  let topo: TestTopology;
  let server: Server;
  let dir: string;

  before(async () => {
    await sweepStale();
    topo = await createTopology({ nodes: 2, podsPerNode: 1 });
    dir = mkdtempSync(join(tmpdir(), "ambit-sidecar-capture-"));
    server = createServer((s) => {
      // A proxy that gives up on a connection (a pair being stopped) resets it.
      s.on("error", () => s.destroy());
      s.end(`from ${s.remoteAddress}`);
    });
    await listenOn(server, { netns: topo.pod("node2-pod1").netns, address: "0.0.0.0", port: TARGET });
  });
  after(async () => {
    server?.close();
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [i, kind] of (["haproxy", "stunnel"] as SidecarKind[]).entries()) {
    test(`${kind}: the app's connection to the server's address goes through both sidecars; after stop() it does not`, async () => {
      const client = topo.pod("node1-pod1");
      const target = topo.pod("node2-pod1");
      // Control: with no pair running, the server sees the client pod itself.
      assert.equal(await whoDoesTheServerSee(client.netns, target.ip), `from ${client.ip}`);
      const pair = await startSidecarPair({
        kind,
        clientNetns: client.netns,
        serverNetns: target.netns,
        serverIp: target.ip,
        ports: [{ local: 15101 + i, tls: 15543 + i, target: TARGET }],
        dir: mkdtempSync(join(dir, `${kind}-`)),
        capture: true,
      });
      try {
        assert.equal(await whoDoesTheServerSee(client.netns, target.ip), "from 127.0.0.1");
      } finally {
        await pair.stop();
      }
      assert.equal(await whoDoesTheServerSee(client.netns, target.ip), `from ${client.ip}`);
      const rules = await topo.exec(client.netns, ["iptables", "-w", "-t", "nat", "-S", "OUTPUT"]);
      assert.doesNotMatch(rules.stdout, /ambit-bench/, "stop() removed the capture rule");
    });
  }

  test("without capture the app must dial the proxy: the server's address goes around the pair", async () => {
    const client = topo.pod("node1-pod1");
    const target = topo.pod("node2-pod1");
    const pair = await startSidecarPair({
      kind: "haproxy",
      clientNetns: client.netns,
      serverNetns: target.netns,
      serverIp: target.ip,
      ports: [{ local: 15111, tls: 15553, target: TARGET }],
      dir: mkdtempSync(join(dir, "explicit-")),
    });
    try {
      assert.equal(await whoDoesTheServerSee(client.netns, target.ip), `from ${client.ip}`);
    } finally {
      await pair.stop();
    }
  });
});
