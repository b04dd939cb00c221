/**
 * Two ztunnels (node-a on 127.0.0.2, node-b on 127.0.0.3) and a fake control plane:
 * SOCKS5 → ztunnel A → HBONE → ztunnel B → echo pod, with policy, metrics and access records.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { HbonePool } from "../../src/hbone/pool.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { AddressSchema, WorkloadSchema } from "../../src/xds/gen/istio/workload/workload_pb.js";
import type { PolicySpec, WorkloadSpec } from "../../src/ztunnel/testing.js";
import {
  ControlPlane,
  closed,
  exchange,
  httpGet,
  metricLine,
  type NodePorts,
  socksConnect,
  startEcho,
  startZtunnel,
  type TestZtunnel,
  until,
} from "./harness.js";

const CLIENT_IP = "127.0.0.10";
const INTRUDER_IP = "127.0.0.11";
const MONITOR_IP = "127.0.0.13";
const SERVER_IP = "127.0.0.20";
const ID = (sa: string): string => `spiffe://cluster.local/ns/default/sa/${sa}`;

const WORKLOADS: WorkloadSpec[] = [
  { uid: "client", name: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client", app: "client" },
  { uid: "intruder", name: "intruder", ip: INTRUDER_IP, node: "node-a", serviceAccount: "intruder" },
  {
    uid: "watcher",
    name: "watcher",
    ip: MONITOR_IP,
    node: "node-a",
    serviceAccount: "watcher",
    mode: "monitor",
  },
  {
    uid: "server",
    name: "server",
    ip: SERVER_IP,
    node: "node-b",
    serviceAccount: "server",
    app: "echo",
    version: "v2",
    services: { "default/echo.default.svc.cluster.local": [[80, 0]] },
    policies: ["default/only-client"],
  },
];

// `server` accepts only the client's and watcher's service accounts (selector policy, listed on the workload).
const ONLY_CLIENT: PolicySpec = {
  name: "only-client",
  rules: [[[{ principals: ["cluster.local/ns/default/sa/client", "cluster.local/ns/default/sa/watcher"] }]]],
};

let cp: ControlPlane;
let a: TestZtunnel;
let b: TestZtunnel;
let echo: Awaited<ReturnType<typeof startEcho>>;
const nodePorts: NodePorts = new Map();
const captureTargets = new Map<string, { address: string; port: number }>();

before(async () => {
  cp = await ControlPlane.start();
  echo = await startEcho(SERVER_IP);
  cp.setWorkloads(WORKLOADS, [
    { hostname: "echo.default.svc.cluster.local", vip: "10.96.0.10", ports: [[80, echo.port]] },
  ]);
  cp.setPolicies([ONLY_CLIENT]);
  // Capture without netns: the test says where each source's connection was going.
  const originalDst = (socket: net.Socket, listener: "outbound" | "inboundPlaintext" | "inbound") => {
    // HBONE connections are dialled at the pod address itself (TPROXY-like): the local address.
    if (listener === "inbound") return { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    const t = captureTargets.get(socket.remoteAddress ?? "");
    if (t === undefined) throw new Error("not captured");
    return t;
  };
  a = await startZtunnel(cp, "node-a", "127.0.0.2", nodePorts, { originalDst });
  b = await startZtunnel(cp, "node-b", "127.0.0.3", nodePorts, { originalDst });
  await Promise.all([a.zt.whenReady(30_000), b.zt.whenReady(30_000)]);
});

after(async () => {
  await Promise.all([a?.zt.close(), b?.zt.close()]);
  await echo?.close();
  await cp?.close();
});

async function roundTrip(
  from: string,
  dst = { host: SERVER_IP, port: 0 },
  size = 64 * 1024,
): Promise<{ sent: Buffer; got: Buffer; reply: number }> {
  const target = { host: dst.host, port: dst.port === 0 ? echo.port : dst.port };
  const { socket, reply } = await socksConnect(a.socks(), from, target);
  const sent = randomBytes(size);
  if (reply !== 0) {
    socket.destroy();
    return { sent, got: Buffer.alloc(0), reply };
  }
  const got = await exchange(socket, sent);
  socket.destroy();
  return { sent, got, reply };
}

test("SOCKS5 → A → HBONE → B → pod: bytes intact both ways, half-close preserved", async () => {
  const { sent, got, reply } = await roundTrip(CLIENT_IP, undefined, 1024 * 1024);
  assert.equal(reply, 0);
  // The echo wrote the trailer only after it saw our half-close, and we still received it.
  assert.equal(got.length, sent.length + "<EOF SEEN>".length);
  assert.ok(got.subarray(0, sent.length).equals(sent));
  assert.equal(got.subarray(sent.length).toString(), "<EOF SEEN>");
});

test("metrics: both reporters, Istio labels, mutual_tls", async () => {
  await roundTrip(CLIENT_IP, undefined, 1000);
  await until(
    async () => (await a.zt.metrics.registry.metrics()).includes("istio_tcp_connections_closed_total{"),
    "closed metric",
  );
  const src = await a.zt.metrics.registry.metrics();
  const common = {
    source_workload: "client",
    source_principal: ID("client"),
    destination_workload: "server",
    connection_security_policy: "mutual_tls",
  };
  assert.ok(
    (metricLine(src, "istio_tcp_connections_opened_total", { reporter: "source", ...common }) ?? 0) >= 1,
    src,
  );
  assert.ok(
    (metricLine(src, "istio_tcp_connections_closed_total", {
      reporter: "source",
      ...common,
      destination_principal: ID("server"),
    }) ?? 0) >= 1,
  );
  assert.ok(
    (metricLine(src, "istio_tcp_received_bytes_total", { reporter: "source", ...common }) ?? 0) >= 1000,
  );
  assert.ok((metricLine(src, "istio_tcp_sent_bytes_total", { reporter: "source", ...common }) ?? 0) >= 1010);
  await until(
    async () =>
      metricLine(await b.zt.metrics.registry.metrics(), "istio_tcp_connections_closed_total", {
        reporter: "destination",
      }) !== undefined,
    "B closed metric",
  );
  const dst = await b.zt.metrics.registry.metrics();
  const labels = {
    reporter: "destination",
    ...common,
    destination_app: "echo",
    destination_version: "v2",
    request_protocol: "tcp",
  };
  assert.ok((metricLine(dst, "istio_tcp_connections_opened_total", labels) ?? 0) >= 1, dst);
  assert.ok((metricLine(dst, "istio_tcp_received_bytes_total", labels) ?? 0) >= 1000);
  // Served over :15020 too.
  const http = await httpGet(a.host, a.port("metrics"), "/metrics");
  assert.equal(http.status, 200);
  assert.match(http.body, /istio_tcp_connections_opened_total\{reporter="source"/);
  // Connections to the same destination identity reuse one pooled mTLS session.
  const hits = Number(/^ambit_hbone_pool_hits_total (\d+)/m.exec(http.body)?.[1] ?? "0");
  const misses = Number(/^ambit_hbone_pool_misses_total (\d+)/m.exec(http.body)?.[1] ?? "0");
  assert.ok(hits >= 1 && misses >= 1, `hits ${hits} misses ${misses}`);
});

test("exactly one access record per connection on each side, sharing the connection id", async () => {
  const beforeA = a.accessRecords().length;
  await roundTrip(CLIENT_IP, undefined, 10);
  await until(() => a.accessRecords().length === beforeA + 1, "A record");
  const recA = a.accessRecords().at(-1)!;
  await until(() => b.accessRecords().some((r) => r["conn.id"] === recA["conn.id"]), "B record");
  assert.equal(a.accessRecords().filter((r) => r["conn.id"] === recA["conn.id"]).length, 1);
  assert.equal(b.accessRecords().filter((r) => r["conn.id"] === recA["conn.id"]).length, 1);
  const recB = b.accessRecords().find((r) => r["conn.id"] === recA["conn.id"])!;
  assert.equal(recA["direction"], "outbound");
  assert.equal(recA["src.identity"], ID("client"));
  assert.equal(recA["dst.identity"], ID("server"));
  assert.equal(recA["dst.workload"], "server");
  assert.equal(recA["bytes.received"], 10);
  assert.equal(recA["bytes.sent"], 10 + "<EOF SEEN>".length);
  assert.equal(typeof recA["duration_ms"], "number");
  assert.equal(recB["direction"], "inbound");
  assert.equal(recB["src.identity"], ID("client"));
  assert.equal(recB["src.workload"], "client");
  assert.equal(recB["authz"], "allow");
  assert.equal(recB["authz.policy"], "default/only-client");
  assert.equal(recB["bytes.received"], 10);
});

test("a service VIP is load-balanced to its endpoint; names resolve through SOCKS5 domain requests", async () => {
  const viaVip = await roundTrip(CLIENT_IP, { host: "10.96.0.10", port: 80 }, 100);
  assert.equal(viaVip.reply, 0);
  assert.equal(viaVip.got.length, 110);
  const viaName = await roundTrip(CLIENT_IP, { host: "echo.default.svc.cluster.local", port: 80 }, 100);
  assert.equal(viaName.reply, 0);
  const rec = a.accessRecords().at(-1)!;
  assert.equal(rec["dst.service"], "echo.default.svc.cluster.local");
});

test("another service account is refused by the inbound side (403 → SOCKS5 'not allowed')", async () => {
  const { reply } = await roundTrip(INTRUDER_IP);
  assert.equal(reply, 2);
  await until(() => b.accessRecords().some((r) => r["src.identity"] === ID("intruder")), "B deny record");
  const rec = b.accessRecords().find((r) => r["src.identity"] === ID("intruder"))!;
  assert.equal(rec["authz"], "deny");
  assert.match(String(rec["reason"]), /no ALLOW policy matched/);
  const m = await b.zt.metrics.registry.metrics();
  assert.ok(
    (metricLine(m, "istio_tcp_connections_closed_total", {
      reporter: "destination",
      source_principal: ID("intruder"),
      response_flags: "DENY",
    }) ?? 0) >= 1,
  );
});

test("an L4 DENY policy pushed over xDS blocks new connections; removing it restores them", async () => {
  cp.setPolicies([
    ONLY_CLIENT,
    {
      name: "deny-client",
      scope: "namespace",
      action: "deny",
      rules: [[[{ principals: ["cluster.local/ns/default/sa/client"] }]]],
    },
  ]);
  await until(() => [...b.zt.state.policies()].some((p) => p.name === "deny-client"), "policy at B");
  assert.equal((await roundTrip(CLIENT_IP)).reply, 2);
  cp.setPolicies([ONLY_CLIENT]);
  await until(() => ![...b.zt.state.policies()].some((p) => p.name === "deny-client"), "policy removed at B");
  assert.equal((await roundTrip(CLIENT_IP)).reply, 0);
});

test("open relay attempts get 403: CONNECT to a non-local target, a node address, a mismatched target", async () => {
  const pool = new HbonePool({
    connect: (d) =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: d.host, port: b.port("inbound") });
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      }),
  });
  const source = cp.pki.issue(ID("client"));
  try {
    for (const authority of [`${CLIENT_IP}:80`, `127.0.0.3:${b.port("admin")}`, `127.0.0.1:22`]) {
      await assert.rejects(
        pool.connect({
          source,
          dstAddress: { host: SERVER_IP, port: 15008 },
          expectedIdentities: [SpiffeId.parse(ID("server"))],
          authority,
        }),
        (e: { status?: number }) => e.status === 403,
        authority,
      );
    }
    // A non-local workload address as the dialled address: nobody owns it here, the connection is dropped.
    await assert.rejects(
      pool.connect({
        source,
        dstAddress: { host: CLIENT_IP, port: 15008 },
        expectedIdentities: [SpiffeId.parse(ID("client"))],
        authority: `${CLIENT_IP}:80`,
      }),
    );
  } finally {
    await pool.close(0);
  }
});

test("garbage on the HBONE, SOCKS5 and capture ports is dropped without harming other connections", async () => {
  const { socket, reply } = await socksConnect(a.socks(), CLIENT_IP, { host: SERVER_IP, port: echo.port });
  assert.equal(reply, 0);
  socket.write("hello ");
  for (const [host, port] of [
    [SERVER_IP, b.port("inbound")],
    [a.host, a.port("socks5")],
    [a.host, a.port("outbound")],
  ] as const) {
    const g = net.connect({ host, port });
    g.on("error", () => {});
    await new Promise<void>((r) => g.once("connect", () => r()));
    g.write(Buffer.concat([Buffer.from([4, 1, 0xff]), randomBytes(4096)]));
    await closed(g);
  }
  const got = await exchange(socket, Buffer.from("world"));
  assert.equal(got.toString(), "hello world<EOF SEEN>");
  socket.destroy();
});

test("captured traffic on 15001 takes the same path (original destination injected)", async () => {
  captureTargets.set(CLIENT_IP, { address: SERVER_IP, port: echo.port });
  const s = net.connect({
    host: a.host,
    port: a.port("outbound"),
    localAddress: CLIENT_IP,
    allowHalfOpen: true,
  });
  s.on("error", () => {});
  const got = await exchange(s, Buffer.from("captured"));
  assert.equal(got.toString(), "captured<EOF SEEN>");
  assert.equal(a.accessRecords().at(-1)?.["entry"], "capture");
});

test("monitor mode: passes through unchanged, but records a would-deny decision", async () => {
  cp.setPolicies([
    ONLY_CLIENT,
    {
      name: "deny-watcher",
      scope: "namespace",
      action: "deny",
      rules: [[[{ principals: ["cluster.local/ns/default/sa/watcher"] }]]],
    },
  ]);
  await until(() => [...a.zt.state.policies()].some((p) => p.name === "deny-watcher"), "policy at A");
  const before = b.accessRecords().length;
  const { reply, got } = await roundTrip(MONITOR_IP, undefined, 5);
  assert.equal(reply, 0);
  assert.equal(got.length, 15);
  const rec = a.accessRecords().at(-1)!;
  assert.equal(rec["route"], "monitor");
  assert.equal(rec["authz"], "would_deny");
  assert.equal(rec["authz.policy"], "default/deny-watcher");
  assert.equal(rec["security"], "none");
  // Not tunnelled: ztunnel B saw nothing.
  assert.equal(b.accessRecords().length, before);
  cp.setPolicies([ONLY_CLIENT]);
});

test("inbound plaintext (15006): PERMISSIVE accepts, STRICT closes", async () => {
  captureTargets.set("127.0.0.50", { address: SERVER_IP, port: echo.port });
  cp.setPolicies([]);
  await until(() => [...b.zt.state.policies()].length === 0, "no policies at B");
  const s1 = net.connect({
    host: b.host,
    port: b.port("inboundPlaintext"),
    localAddress: "127.0.0.50",
    allowHalfOpen: true,
  });
  s1.on("error", () => {});
  assert.equal((await exchange(s1, Buffer.from("plain"))).toString(), "plain<EOF SEEN>");
  const m = await b.zt.metrics.registry.metrics();
  assert.ok(
    (metricLine(m, "istio_tcp_connections_opened_total", {
      reporter: "destination",
      connection_security_policy: "none",
      destination_workload: "server",
    }) ?? 0) >= 1,
  );
  cp.setPolicies([
    ONLY_CLIENT,
    {
      name: "converted_peer_authentication_default",
      scope: "namespace",
      action: "deny",
      rules: [[[{ requireNoPrincipal: true }]]],
    },
  ]);
  await until(() => [...b.zt.state.policies()].length === 2, "STRICT at B");
  const s2 = net.connect({
    host: b.host,
    port: b.port("inboundPlaintext"),
    localAddress: "127.0.0.50",
    allowHalfOpen: true,
  });
  s2.on("error", () => {});
  const got = await exchange(s2, Buffer.from("plain")).catch(() => Buffer.alloc(0));
  assert.equal(got.length, 0);
  assert.equal(b.accessRecords().at(-1)?.["authz"], "deny");
  cp.setPolicies([ONLY_CLIENT]);
  await until(() => [...b.zt.state.policies()].length === 1, "policies restored at B");
});

test("admin: /healthz/ready, /config_dump without private keys, /certs, /logging", async () => {
  const ready = await httpGet(a.host, a.port("readiness"), "/healthz/ready");
  assert.equal(ready.status, 200);
  const dump = await httpGet(a.host, a.port("admin"), "/config_dump");
  assert.equal(dump.status, 200);
  const body = JSON.parse(dump.body) as {
    workloads: { uid: string }[];
    policies: { key: string }[];
    certificates: { identity: string }[];
  };
  assert.ok(body.workloads.some((w) => w.uid === "server"));
  assert.ok(body.policies.some((p) => p.key === "default/only-client"));
  assert.ok(body.certificates.some((c) => c.identity === ID("client")));
  assert.doesNotMatch(dump.body, /PRIVATE KEY|keyPem/);
  const certs = await httpGet(a.host, a.port("admin"), "/certs");
  assert.doesNotMatch(certs.body, /PRIVATE KEY/);
  assert.match(certs.body, /BEGIN CERTIFICATE/);
  assert.equal((await httpGet(a.host, a.port("admin"), "/logging?level=debug", "POST")).status, 200);
  assert.equal(a.zt.logger.level, "debug");
  assert.equal((await httpGet(a.host, a.port("admin"), "/logging?level=loud", "POST")).status, 400);
  assert.equal((await httpGet(a.host, a.port("admin"), "/logging?level=info", "POST")).status, 200);
});

test("a malformed workload is NACKed and the last good state stays", async () => {
  const version = a.zt.state.version;
  const bad = create(AddressSchema, {
    type: {
      case: "workload",
      value: create(WorkloadSchema, {
        uid: "broken",
        name: "broken",
        namespace: "default",
        addresses: [new Uint8Array([1, 2, 3])],
        node: "node-a",
      }),
    },
  });
  cp.putAddress("broken", bad);
  await until(
    async () =>
      (metricLine(await a.zt.metrics.registry.metrics(), "ambit_xds_updates_total", { result: "nack" }) ??
        0) >= 1,
    "NACK",
  );
  assert.equal(a.zt.state.workloadByUid("broken"), undefined);
  assert.equal(a.zt.state.version, version);
  assert.equal((await roundTrip(CLIENT_IP)).reply, 0);
  cp.server.applyDelta("type.googleapis.com/istio.workload.Address", { removals: ["broken"] });
});

test("control plane gone: existing and new connections keep working from the last config", async () => {
  const { socket, reply } = await socksConnect(a.socks(), CLIENT_IP, { host: SERVER_IP, port: echo.port });
  assert.equal(reply, 0);
  socket.write("before ");
  await cp.close();
  await until(
    () => a.zt.xds.state.state !== "connected" && b.zt.xds.state.state !== "connected",
    "xDS disconnected",
  );
  const fresh = await roundTrip(CLIENT_IP, undefined, 2048);
  assert.equal(fresh.reply, 0);
  assert.ok(fresh.got.subarray(0, 2048).equals(fresh.sent));
  assert.equal((await exchange(socket, Buffer.from("after"))).toString(), "before after<EOF SEEN>");
  socket.destroy();
  assert.equal((await httpGet(a.host, a.port("readiness"), "/healthz/ready")).status, 200);
});
