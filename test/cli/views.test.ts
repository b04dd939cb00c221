/**
 * `ambit get workloads|svc|policies|waypoints`, `ambit describe` and `ambit ztunnel-config` against
 * a running local cluster of the payment-system demo (one cluster shared by every test here).
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { PodDescription, PolicyView, WaypointView, WorkloadView } from "../../src/control/mesh-views.js";
import { connectFrom } from "../../src/platform/netns-sockets.js";
import type { LiveConnectionView } from "../../src/ztunnel/connections.js";
import { eventually, needsRoot, TestCluster } from "../e2e/cluster.js";

const NS = "payment-system";

describe("mesh views of a running payment-system cluster", { skip: needsRoot }, () => {
  let c: TestCluster;
  let workloads: WorkloadView[] = [];
  let paymentServiceVip = "";

  const json = async <T>(args: string[]): Promise<T> => {
    const r = await c.cli(args);
    assert.equal(r.code, 0, `ambit ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const workload = (name: string): WorkloadView => {
    const w = workloads.find((x) => x.name === name);
    assert.ok(w, `workload ${name} listed`);
    return w;
  };

  before(async () => {
    c = await TestCluster.up(["examples/payment-system"]);
    workloads = (
      await json<{ kind: string; items: WorkloadView[] }>(["get", "workloads", "-n", NS, "-o", "json"])
    ).items;
  });

  after(async () => {
    await c?.destroy();
  });

  test("get workloads: node, IP, identity, enrollment and protocol of every pod", async () => {
    const ps = workload("payment-service-v1-0");
    assert.equal(ps.identity, `spiffe://cluster.local/ns/${NS}/sa/payment-service`);
    assert.equal(ps.enrollment, "ambient");
    assert.equal(ps.protocol, "HBONE");
    assert.equal(ps.ip, await c.podIp(NS, "payment-service-v1-0"), "the IP the pod really has");
    assert.ok(c.state.nodes.some((n) => n.name === ps.node));
    const table = await c.cli(["get", "workloads", "-A", "-o", "wide"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^NAMESPACE\s+NAME\s+ADDRESS\s+NODE\s+ENROLLMENT\s+WAYPOINT\s+PROTOCOL\s+IDENTITY\s+SERVICES$/m,
    );
    assert.match(table.stdout, new RegExp(`^${NS}\\s+waypoint-0\\s+\\S+\\s+\\S+\\s+waypoint\\s`, "m"));
  });

  test("get svc -o wide and -o json: VIP, ports with their protocol, endpoints, waypoint", async () => {
    const wide = await c.cli(["get", "svc", "-n", NS, "-o", "wide"]);
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stdout, /^payment-db\s+10\.96\.\d+\.\d+\s+3306\/MySQL\s+1\s+waypoint\s/m);
    assert.match(wide.stdout, /^payment-service\s+10\.96\.\d+\.\d+\s+8080\/HTTP\s+3\s+waypoint\s/m);
    paymentServiceVip = /^payment-service\s+(\S+)/m.exec(wide.stdout)?.[1] ?? "";
  });

  test("get policies: the SQL policy is enforced by the waypoint at L7", async () => {
    const { items } = await json<{ kind: string; items: PolicyView[] }>([
      "get",
      "policies",
      "-A",
      "-o",
      "json",
    ]);
    const p = items.find((x) => x.name === "payment-db-access");
    assert.deepEqual(
      [p?.kind, p?.scope, p?.action, p?.enforcedAt, p?.layer],
      ["AuthorizationPolicy", "waypoint-targeted", "ALLOW", "waypoint", "L7"],
    );
  });

  test("get waypoints: the namespace's waypoint, ready, with its bound services", async () => {
    const { items } = await json<{ items: WaypointView[] }>(["get", "waypoints", "-n", NS, "-o", "json"]);
    assert.equal(items.length, 1);
    const wp = items[0];
    assert.equal(wp?.name, "waypoint");
    assert.equal(wp?.for, "service");
    assert.equal(wp?.ready, true);
    assert.equal(wp?.pod, "waypoint-0");
    assert.deepEqual(wp?.services, [`${NS}/payment-db`, `${NS}/payment-service`]);
    assert.deepEqual(wp?.namespaces, [NS]);
  });

  test("describe: the waypoint of payment-service, the SQL policy at the waypoint for payment-db", async () => {
    const svc = await c.cli(["describe", "svc", "payment-service", "-n", NS]);
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(
      svc.stdout,
      new RegExp(`^Waypoint:\\s+${NS}/waypoint \\(namespace label istio\\.io/use-waypoint=waypoint\\)$`, "m"),
    );
    const pod = await json<PodDescription>(["describe", "pod/payment-db-0", "-n", NS, "-o", "json"]);
    assert.equal(pod.workload.identity, `spiffe://cluster.local/ns/${NS}/sa/payment-db`);
    assert.match(pod.enrollmentReason, /namespace payment-system label istio\.io\/dataplane-mode=ambient/);
    assert.deepEqual(pod.mtls, { mode: "PERMISSIVE", policy: null, level: "default" });
    const p = pod.policies.find((x) => x.name === "payment-db-access");
    assert.equal(p?.enforcedAt, "waypoint", "the SQL policy is enforced by the waypoint");
    assert.equal(p?.waypoint, `${NS}/waypoint`);
    assert.equal(p?.via, `${NS}/payment-db`);
  });

  test("describe an unknown name: exit 1 with close matches", async () => {
    const r = await c.cli(["describe", "svc", "payment-servce", "-n", NS]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /service "payment-servce" not found in namespace payment-system; did you mean payment-service\? \[CP_ERR_NOT_FOUND\]/,
    );
  });

  test("ztunnel-config workloads, certificates and policies of one node", async () => {
    const node = workload("payment-service-v1-0").node ?? "";
    const wl = await json<{ node: string; workloads: { name: string; local: boolean; protocol: string }[] }>([
      "ztunnel-config",
      "workloads",
      "--node",
      node,
      "-o",
      "json",
    ]);
    assert.equal(wl.node, node);
    assert.ok(
      wl.workloads.some((w) => w.name === "payment-service-v1-0" && w.local && w.protocol === "HBONE"),
    );
    // Enrolled pods and a waypoint pod speak HBONE: the node's ztunnel holds a certificate for each identity.
    const local = workloads.filter((w) => w.node === node && w.protocol === "HBONE");
    const certs = await json<{ certificates: { identity: string; secondsLeft: number; state: string }[] }>([
      "ztunnel-config",
      "certificates",
      "--node",
      node,
      "-o",
      "json",
    ]);
    assert.deepEqual(
      certs.certificates.map((x) => x.identity).sort(),
      [...new Set(local.map((w) => w.identity))].sort(),
      "exactly the identities of the node's enrolled pods",
    );
    for (const cert of certs.certificates) assert.ok(cert.secondsLeft > 0, `${cert.identity} has time left`);
    const pol = await c.cli(["ztunnel-config", "policies", "--node", node]);
    assert.equal(pol.code, 0, pol.stderr);
    assert.match(pol.stdout, /^NAMESPACE\s+POLICY-NAME\s+ACTION\s+SCOPE\s+RULES$/m);
    const missing = await c.cli(["ztunnel-config", "workloads", "--node", "no-such-node"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no node "no-such-node"/);
  });

  test("ztunnel-config connections shows a connection the client pod holds open", async () => {
    const client = workload("client-0");
    const vip = paymentServiceVip;
    assert.match(vip, /^10\.96\./, "the VIP read by `get svc -o wide`");
    const socket: Socket = connectFrom({ netns: c.podNetns(NS, "client-0"), host: vip, port: 8080 });
    socket.on("error", () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("error", reject);
      });
      const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
      socket.write(`GET / HTTP/1.1\r\nHost: payment-service:8080\r\nConnection: keep-alive\r\n\r\n`);
      await answered;
      let mine: LiveConnectionView | undefined;
      const seen = await eventually(
        async () => {
          const r = await json<{ connections: LiveConnectionView[] }>([
            "ztunnel-config",
            "connections",
            "--node",
            client.node ?? "",
            "-o",
            "json",
          ]);
          mine = r.connections.find(
            (x) => x.direction === "outbound" && x.src.address === `${client.ip}:${socket.localPort}`,
          );
          return mine !== undefined;
        },
        60_000,
        500,
      );
      assert.ok(seen, "the held connection is listed");
      assert.equal(mine?.dst.address, `${vip}:8080`);
      assert.equal(mine?.via, "pool");
      assert.equal(mine?.src.identity, client.identity);
      assert.match(mine?.dst.waypoint ?? "", /^waypoint(-0)?$/, "the connection goes through the waypoint");
      assert.ok((mine?.bytes.received ?? 0) > 0, "the request's bytes are counted");
      assert.ok((mine?.bytes.sent ?? 0) > 0, "the response's bytes are counted");
      const text = await c.cli(["ztunnel-config", "connections", "--node", client.node ?? "", "-n", NS]);
      assert.match(text.stdout, /^outbound\s+payment-system\/client-0 \(/m);
    } finally {
      socket.destroy();
    }
  });
});
