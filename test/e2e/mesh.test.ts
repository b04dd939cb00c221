/**
 * The L4 mesh end to end, in a real local cluster (`ambit up`: network namespaces, the control
 * plane, a ztunnel per node, the node agent, pod processes). One cluster is shared by the tests
 * below, which run in order; each leaves the mesh as it found it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { writeClusterState } from "../../src/local/cluster-state.js";
import { startControlPlane } from "../../src/local/cluster-up.js";
import { NodeCapture } from "../../src/platform/capture.js";
import { connectFrom } from "../../src/platform/netns-sockets.js";
import {
  eventually,
  exchange,
  execIn,
  needsRoot,
  runCli,
  sha256,
  sleep,
  type TestCluster,
} from "./cluster.js";
import {
  assertOnlyRelaysTo,
  captureWire,
  killZtunnel,
  meshCluster,
  metricValue,
  recordsFrom,
} from "./mesh-probes.js";
import { allowOnlyClientPolicy, denyClientPolicy, ECHO_PORT } from "./workloads.js";

const MB = 1024 * 1024;

describe("L4 mesh in a local cluster (node capture)", { skip: needsRoot }, () => {
  let c: TestCluster;
  let echoA = "";
  let echoB = "";
  let clientNs = "";
  let intruderNs = "";

  before(async () => {
    // Node capture: several tests below read or bend the node netns's rules (in-pod: inpod.test.ts).
    ({ c, echoA, echoB, clientNs } = await meshCluster("node"));
    intruderNs = c.podNetns("mesh", "intruder");
  });

  after(async () => {
    await c?.destroy();
  });

  test("pod→pod across nodes: through both ztunnels over mTLS, 1 MB intact both ways, half-close kept", async () => {
    const payload = randomBytes(MB);
    const r = await exchange(clientNs, echoB, ECHO_PORT, payload);
    assert.equal(r.error, undefined);
    assert.equal(r.ended, true, "the reply ends after our half-close");
    assert.equal(r.received.length, MB);
    assert.equal(sha256(r.received), sha256(payload));

    const m1 = await c.metrics("node-1");
    assert.ok(
      metricValue(m1, "istio_tcp_connections_opened_total", [
        'reporter="source"',
        'connection_security_policy="mutual_tls"',
        'destination_workload="echo-b"',
      ]) > 0,
      "node-1 reports the outbound connection as mutual_tls",
    );
    const m2 = await c.metrics("node-2");
    assert.ok(
      metricValue(m2, "istio_tcp_connections_opened_total", [
        'reporter="destination"',
        'connection_security_policy="mutual_tls"',
        'source_workload="client-a"',
      ]) > 0,
      "node-2 reports the inbound connection as mutual_tls",
    );
    // The default write path of pooled sessions (`--hbone-writes unblocked`).
    assert.ok(
      metricValue(m1, "ambit_hbone_pool_sessions_total", ['writes="unblocked"']) >= 1,
      "unblocked sessions",
    );
    assert.equal(metricValue(m1, "ambit_hbone_pool_sessions_total", ['writes="kernel"']), 0);
    const outbound = await eventually(
      async () =>
        (await c.accessRecords("node-1")).some(
          (a) =>
            a["direction"] === "outbound" &&
            a["dst.addr"] === `${echoB}:${ECHO_PORT}` &&
            a["security"] === "mutual_tls" &&
            Number(a["bytes.sent"]) + Number(a["bytes.received"]) >= 2 * MB,
        ),
      5000,
    );
    assert.ok(outbound, "node-1 wrote an outbound access record with the bytes");
    const inbound = await eventually(
      async () =>
        (await c.accessRecords("node-2")).some(
          (a) =>
            a["direction"] === "inbound" &&
            a["src.identity"] === "spiffe://cluster.local/ns/mesh/sa/client" &&
            a["authz"] === "allow",
        ),
      5000,
    );
    assert.ok(inbound, "node-2 saw the client's identity from its certificate");
  });

  test("pod→pod on the same node goes through the node's ztunnel both ways", async () => {
    const payload = randomBytes(256 * 1024);
    const r = await exchange(clientNs, echoA, ECHO_PORT, payload);
    assert.equal(sha256(r.received), sha256(payload));
    assert.equal(r.ended, true);
    const both = await eventually(async () => {
      const recs = await c.accessRecords("node-1");
      const out = recs.some(
        (a) =>
          a["direction"] === "outbound" &&
          a["dst.addr"] === `${echoA}:${ECHO_PORT}` &&
          a["security"] === "mutual_tls",
      );
      const inn = recs.some(
        (a) =>
          a["direction"] === "inbound" &&
          a["dst.addr"] === `${echoA}:${ECHO_PORT}` &&
          a["security"] === "mutual_tls",
      );
      return out && inn;
    }, 5000);
    assert.ok(both, "outbound and inbound records on node-1");
  });

  test("service names resolve in pods (hosts file) and the VIP is served by ztunnel", async () => {
    const hosts = await execIn(clientNs, ["getent", "hosts", "echo"]);
    const vip = hosts.trim().split(/\s+/)[0] ?? "";
    assert.match(vip, /^10\.96\./);
    const full = await execIn(clientNs, ["getent", "hosts", "echo.mesh.svc.cluster.local"]);
    assert.equal(full.trim().split(/\s+/)[0], vip);
    const r = await exchange(clientNs, vip, ECHO_PORT, Buffer.from("via the service"));
    assert.equal(r.received.toString(), "via the service");
  });

  test("a pod outside the mesh reaches a service VIP through the node's DNAT (kube-proxy's job)", async () => {
    const hosts = await execIn(c.podNetns("plain", "plain-client"), ["getent", "hosts", "echo.mesh"]);
    const vip = hosts.trim().split(/\s+/)[0] ?? "";
    assert.match(vip, /^10\.96\./);
    const r = await exchange(c.podNetns("plain", "plain-client"), vip, ECHO_PORT, Buffer.from("via DNAT"));
    assert.equal(r.received.toString(), "via DNAT");
  });

  test("only TLS crosses the fabric: a marker sent through the mesh never appears on the wire, a plaintext one does", async () => {
    const node1 = c.node("node-1");
    let wireLog = "";
    const capture = async (send: () => Promise<void>): Promise<Buffer> => {
      const w = await captureWire(c.home, node1.netns, "eth0", send);
      wireLog = w.log;
      return w.bytes;
    };
    const marker = `AMBIT-MARKER-${randomBytes(8).toString("hex")}`;
    const meshWire = await capture(async () => {
      const r = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from(marker.repeat(20)));
      assert.equal(r.received.toString(), marker.repeat(20));
    });
    assert.ok(meshWire.length > 200, `the capture saw the tunnel's packets (${wireLog})`);
    assert.equal(meshWire.includes(marker), false, "the marker crossed the fabric encrypted");

    const plainEcho = await c.podIp("plain", "plain-echo");
    const plainWire = await capture(async () => {
      const r = await exchange(
        c.podNetns("plain", "plain-client"),
        plainEcho,
        ECHO_PORT,
        Buffer.from(marker),
      );
      assert.equal(r.received.toString(), marker);
    });
    assert.equal(
      plainWire.includes(marker),
      true,
      "control: an un-enrolled flow is visible in the same capture",
    );
  });

  test("a DENY policy blocks the flow within 2 s; deleting it allows it again", async () => {
    await c.apply(denyClientPolicy());
    const started = Date.now();
    const blocked = await eventually(
      async () => (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("x"), 3000)).received.length === 0,
      2000,
      50,
    );
    assert.ok(blocked, `blocked within 2 s (took ${Date.now() - started} ms)`);
    const denied = await eventually(
      async () =>
        (await c.accessRecords("node-2")).some(
          (a) => a["authz"] === "deny" && a["src.identity"] === "spiffe://cluster.local/ns/mesh/sa/client",
        ),
      5000,
    );
    assert.ok(denied, "node-2 logged the denial");
    await c.deleteYaml(denyClientPolicy());
    const allowed = await eventually(
      async () =>
        (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("y"), 3000)).received.toString() === "y",
      2000,
      50,
    );
    assert.ok(allowed, "allowed again within 2 s");
  });

  test("an ALLOW policy for one service account refuses a pod with another one on the inbound side", async () => {
    await c.apply(allowOnlyClientPolicy());
    try {
      const refused = await eventually(
        async () =>
          (await exchange(intruderNs, echoB, ECHO_PORT, Buffer.from("x"), 3000)).received.length === 0,
        5000,
        100,
      );
      assert.ok(refused, "the intruder is refused");
      const r = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("ok"));
      assert.equal(r.received.toString(), "ok", "the allowed identity still gets through");
      const logged = await eventually(
        async () =>
          (await c.accessRecords("node-2")).some(
            (a) =>
              a["direction"] === "inbound" &&
              a["authz"] === "deny" &&
              a["src.identity"] === "spiffe://cluster.local/ns/mesh/sa/other",
          ),
        5000,
      );
      assert.ok(logged, "node-2's inbound side denied spiffe://…/sa/other");
    } finally {
      await c.deleteYaml(allowOnlyClientPolicy());
    }
    assert.ok(
      await eventually(
        async () =>
          (await exchange(intruderNs, echoB, ECHO_PORT, Buffer.from("z"), 3000)).received.toString() === "z",
        5000,
        100,
      ),
    );
  });

  test("garbage on 15008 and 15001 is dropped without harming other connections", async () => {
    const plainClient = c.podNetns("plain", "plain-client");
    const ztPid = await c.ztunnelPid("node-2");
    // A live tunnelled connection across the garbage.
    const live = connectFrom({ netns: clientNs, host: echoB, port: ECHO_PORT, allowHalfOpen: true });
    live.on("error", () => {});
    await new Promise<void>((r) => live.once("connect", () => r()));
    const garbage = Buffer.concat([Buffer.from("GET / HTTP/1.1\r\n\r\n"), randomBytes(4096)]);
    const hbone = await exchange(plainClient, echoB, 15008, garbage, 5000);
    assert.equal(hbone.received.includes(Buffer.from("HTTP/")), false, "no HTTP answer to garbage on 15008");
    const gw = c.node("node-1").gateway;
    const direct = await exchange(clientNs, gw, 15001, garbage, 5000);
    assert.equal(direct.received.length, 0, "15001 dialled directly proxies nothing");
    const echoed = new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      live.on("data", (b: Buffer) => chunks.push(b));
      live.on("end", () => resolve(Buffer.concat(chunks).toString()));
      // A reset shows up as a short answer (an assertion failure), never as a hang.
      live.on("close", () => resolve(`${Buffer.concat(chunks).toString()}<closed>`));
    });
    live.end("still alive");
    assert.equal(await echoed, "still alive");
    live.destroy();
    assert.equal(await c.ztunnelPid("node-2"), ztPid, "ztunnel did not restart");
  });

  test("HBONE CONNECT to a non-local workload or the control plane is refused with 403 (no open relay)", async () => {
    // Dial from node-1's netns, as its ztunnel would: node-2 redirects <echo-b>:15008 to its ztunnel.
    await assertOnlyRelaysTo(c, c.node("node-1").netns, echoB, `${echoB}:${ECHO_PORT}`, [
      `${c.state.control.ip}:15012`,
      `${echoA}:${ECHO_PORT}`,
    ]);
  });

  test("monitor mode passes denied traffic unchanged and logs would_deny", async () => {
    assert.equal(
      (await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode=monitor", "--overwrite"])).code,
      0,
    );
    await c.apply(denyClientPolicy("deny-client-monitor"));
    try {
      await sleep(1000);
      const r = await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("observed"));
      assert.equal(r.received.toString(), "observed");
      const wouldDeny = await eventually(
        async () =>
          [...(await c.accessRecords("node-1")), ...(await c.accessRecords("node-2"))].some(
            (a) => a["authz"] === "would_deny",
          ),
        5000,
      );
      assert.ok(wouldDeny, "a would_deny record was written");
    } finally {
      await c.deleteYaml(denyClientPolicy("deny-client-monitor"));
      await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode=ambient", "--overwrite"]);
    }
  });

  test("un-labelling the namespace releases its pods live: direct traffic, no restart; re-labelling captures again", async () => {
    const node1 = c.node("node-1");
    const capture = new NodeCapture({
      netns: node1.netns,
      prefix: c.state.prefix,
      localPodCidrs: [node1.podCidr],
    });
    const pidBefore = await c.podPid("mesh", "echo-a");
    assert.ok((await capture.enrolled()).includes("client-a.mesh"));
    assert.equal((await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode-"])).code, 0);
    try {
      assert.ok(
        await eventually(async () => !(await capture.enrolled()).includes("client-a.mesh"), 5000),
        "capture rules removed",
      );
      const clientIp = await c.podIp("mesh", "client-a");
      const before = await recordsFrom(c, "node-1", clientIp);
      const r = await exchange(clientNs, echoA, ECHO_PORT, Buffer.from("direct"));
      assert.equal(r.received.toString(), "direct");
      await sleep(300);
      const afterCount = await recordsFrom(c, "node-1", clientIp);
      assert.equal(afterCount, before, "no ztunnel saw the connection");
      assert.equal(await c.podPid("mesh", "echo-a"), pidBefore, "the pod kept running");
    } finally {
      await c.cli(["label", "namespace", "mesh", "istio.io/dataplane-mode=ambient", "--overwrite"]);
    }
    assert.ok(
      await eventually(async () => (await capture.enrolled()).includes("client-a.mesh"), 5000),
      "captured again",
    );
    // Node-2's rules follow a moment later (one agent serves both nodes in turn): wait for them too.
    const node2 = c.node("node-2");
    const capture2 = new NodeCapture({
      netns: node2.netns,
      prefix: c.state.prefix,
      localPodCidrs: [node2.podCidr],
    });
    assert.ok(
      await eventually(async () => (await capture2.enrolled()).includes("echo-b.mesh"), 5000),
      "echo-b captured again",
    );
  });

  test("ambit ambient init --mode=monitor captures un-labelled namespaces; upgrade --enable-ztunnel secures them; none releases", async () => {
    const node1 = c.node("node-1");
    const capture = new NodeCapture({
      netns: node1.netns,
      prefix: c.state.prefix,
      localPodCidrs: [node1.podCidr],
    });
    const plainClient = c.podNetns("plain", "plain-client");
    const plainEcho = await c.podIp("plain", "plain-echo");
    assert.equal((await capture.enrolled()).includes("plain-client.plain"), false);
    try {
      const out = await runCli(["ambient", "init", "--mode=monitor", "--home", c.home]);
      assert.equal(out.code, 0, out.stderr);
      assert.ok(
        await eventually(async () => (await capture.enrolled()).includes("plain-client.plain"), 10_000),
        "plain pods captured",
      );
      const r = await exchange(plainClient, plainEcho, ECHO_PORT, Buffer.from("monitored"));
      assert.equal(r.received.toString(), "monitored");
      const observed = await eventually(
        async () =>
          (await c.accessRecords("node-1")).some(
            (a) =>
              a["src.workload"] === "plain-client" &&
              a["dst.addr"] === `${plainEcho}:${ECHO_PORT}` &&
              a["security"] !== "mutual_tls",
          ),
        5000,
      );
      assert.ok(observed, "monitor mode observed the plaintext connection");

      const up = await runCli(["ambient", "upgrade", "--enable-ztunnel", "--home", c.home]);
      assert.equal(up.code, 0, up.stderr);
      const secured = await eventually(
        async () => {
          const x = await exchange(plainClient, plainEcho, ECHO_PORT, Buffer.from("secured"), 3000);
          if (x.received.toString() !== "secured") return false;
          return (await c.accessRecords("node-1")).some(
            (a) =>
              a["src.workload"] === "plain-client" &&
              a["dst.addr"] === `${plainEcho}:${ECHO_PORT}` &&
              a["security"] === "mutual_tls",
          );
        },
        15_000,
        250,
      );
      assert.ok(secured, "after the upgrade the plain namespace's traffic is mutual TLS");
    } finally {
      await runCli(["ambient", "init", "--mode=none", "--home", c.home]);
    }
    assert.ok(
      await eventually(async () => !(await capture.enrolled()).includes("plain-client.plain"), 10_000),
      "released again",
    );
  });

  test("control plane stopped: existing and new connections keep working; restarted: config resyncs", async () => {
    const live = connectFrom({ netns: clientNs, host: echoB, port: ECHO_PORT, allowHalfOpen: true });
    live.on("error", () => {});
    await new Promise<void>((r) => live.once("connect", () => r()));
    const pid = c.state.control.pid;
    assert.ok(pid !== null);
    process.kill(pid, "SIGTERM");
    assert.ok(
      await eventually(async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 10_000),
      "control plane stopped",
    );
    const fresh = await exchange(clientNs, echoA, ECHO_PORT, Buffer.from("no control plane"));
    assert.equal(fresh.received.toString(), "no control plane");
    const echoed = new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      live.on("data", (b: Buffer) => chunks.push(b));
      live.on("end", () => resolve(Buffer.concat(chunks).toString()));
      // A reset shows up as a short answer (an assertion failure), never as a hang.
      live.on("close", () => resolve(`${Buffer.concat(chunks).toString()}<closed>`));
    });
    live.end("existing");
    assert.equal(await echoed, "existing");
    live.destroy();

    await startControlPlane(c.state);
    await writeClusterState(c.state);
    await c.apply(denyClientPolicy("deny-after-restart"));
    try {
      const enforced = await eventually(
        async () =>
          (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("x"), 3000)).received.length === 0,
        20_000,
        200,
      );
      assert.ok(enforced, "a policy applied after the restart is enforced");
    } finally {
      await c.deleteYaml(denyClientPolicy("deny-after-restart"));
    }
    assert.ok(
      await eventually(
        async () =>
          (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("y"), 3000)).received.toString() === "y",
        10_000,
        200,
      ),
    );
  });

  test("ztunnel restarted on a node: new connections work again", async (t) => {
    const { back, ms } = await killZtunnel(
      c,
      "node-1",
      async () =>
        (await exchange(clientNs, echoB, ECHO_PORT, Buffer.from("back"), 2000)).received.toString() ===
        "back",
    );
    assert.ok(back, "traffic flows through the new ztunnel");
    t.diagnostic(`ztunnel restart to first good connection: ${ms} ms`);
  });
});
