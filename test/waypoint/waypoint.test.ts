/**
 * The waypoint in process, real sockets on loopback: client → ztunnel A (SOCKS5) → waypoint →
 * ztunnel B → HTTP "pods" v1/v2, with the fake control plane of the ztunnel harness.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Resource } from "../../src/api/types.js";
import { HbonePool } from "../../src/hbone/pool.js";
import { seededRand } from "../../src/routing/index.js";
import { MemoryLogDestination } from "../../src/telemetry/logger.js";
import { Waypoint } from "../../src/waypoint/waypoint.js";
import {
  ControlPlane,
  exchange,
  metricLine,
  type NodePorts,
  socksConnect,
  startEcho,
  startZtunnel,
  type TestZtunnel,
} from "../ztunnel/harness.js";
import { connector, startTestWaypoint, WAYPOINT_IP } from "./waypoint-harness.js";

const CLIENT_IP = "127.0.0.11";
const POD_V1 = "127.0.0.31";
const POD_V2 = "127.0.0.32";
const VIP = "10.96.0.10";
const SVC = "payment.default.svc.cluster.local";

interface Pod {
  readonly port: number;
  readonly seen: string[];
  close(): Promise<void>;
}

/** An HTTP "pod" answering with its version and what it received. */
async function startPod(host: string, version: string): Promise<Pod> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url}`);
      const body = JSON.stringify({
        version,
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const routes: Resource[] = [
  {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "payment", namespace: "default" },
    spec: {
      host: "payment",
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" } },
      ],
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "payment", namespace: "default" },
    spec: {
      hosts: ["payment"],
      http: [
        {
          match: [{ uri: { prefix: "/only-v1" } }],
          route: [{ destination: { host: "payment", subset: "v1" } }],
          headers: { request: { set: { "x-routed-by": "waypoint" } } },
        },
        {
          route: [
            { destination: { host: "payment", subset: "v1" }, weight: 20 },
            { destination: { host: "payment", subset: "v2" }, weight: 80 },
          ],
        },
      ],
    },
  },
] as Resource[];

const getOnly = {
  apiVersion: "security.istio.io/v1",
  kind: "AuthorizationPolicy",
  metadata: { name: "get-only", namespace: "default" },
  spec: {
    targetRefs: [{ kind: "Service", group: "", name: "payment" }],
    action: "ALLOW",
    rules: [{ to: [{ operation: { methods: ["GET"] } }] }],
  },
} as Resource;

describe("waypoint", { timeout: 60_000 }, () => {
  let cp: ControlPlane;
  const nodePorts: NodePorts = new Map();
  let zA: TestZtunnel;
  let zB: TestZtunnel;
  let wp: Waypoint;
  let v1: Pod;
  let v2: Pod;
  let tcp1: Awaited<ReturnType<typeof startEcho>>;
  let tcp2: Awaited<ReturnType<typeof startEcho>>;
  const wpLogs = new MemoryLogDestination();

  before(async () => {
    cp = await ControlPlane.start();
    v1 = await startPod(POD_V1, "v1");
    v2 = await startPod(POD_V2, "v2");
    tcp1 = await startEcho(POD_V1);
    tcp2 = await startEcho(POD_V2);
    cp.setWorkloads(
      [
        { uid: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client", app: "client" },
        { uid: "waypoint", ip: WAYPOINT_IP, node: "node-wp", serviceAccount: "waypoint", tunnel: "none" },
        {
          uid: "payment-v1",
          ip: POD_V1,
          node: "node-b",
          serviceAccount: "payment",
          app: "payment",
          version: "v1",
          services: {
            [`default/${SVC}`]: [
              [80, v1.port],
              [9000, tcp1.port],
            ],
          },
        },
        {
          uid: "payment-v2",
          ip: POD_V2,
          node: "node-b",
          serviceAccount: "payment",
          app: "payment",
          version: "v2",
          services: {
            [`default/${SVC}`]: [
              [80, v2.port],
              [9000, tcp2.port],
            ],
          },
        },
      ],
      [
        {
          hostname: SVC,
          vip: VIP,
          ports: [
            [80, 8080],
            [9000, 9000],
          ],
          waypointIp: WAYPOINT_IP,
        },
      ],
    );
    zA = await startZtunnel(cp, "node-a", "127.0.0.10", nodePorts);
    zB = await startZtunnel(cp, "node-b", "127.0.0.40", nodePorts);
    wp = await startTestWaypoint(cp, nodePorts, routes, { rand: seededRand(7), logs: wpLogs });
    await Promise.all([zA.zt.whenReady(), zB.zt.whenReady(), wp.whenReady()]);
  });

  after(async () => {
    await wp?.close();
    await zA?.zt.close();
    await zB?.zt.close();
    await v1?.close();
    await v2?.close();
    await tcp1?.close();
    await tcp2?.close();
    await cp?.close();
  });

  async function request(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string; json: Record<string, unknown> | undefined }> {
    const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 80 });
    assert.equal(reply, 0, "SOCKS5 connect through ztunnel A");
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          path,
          headers: { host: "payment", connection: "close" },
          // socksConnect leaves the socket paused; the HTTP client only adds a listener.
          createConnection: () => socket.resume(),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            let json: Record<string, unknown> | undefined;
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = undefined;
            }
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, text, json });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  test("binds its listeners and is ready with its own identity", async () => {
    const res = await fetch(`http://${WAYPOINT_IP}:${wp.addresses.readiness.port}/healthz/ready`);
    assert.equal(res.status, 200);
    assert.equal(wp.identity.toString(), "spiffe://cluster.local/ns/default/sa/waypoint");
  });

  test("a taken port fails start-up with WP_ERR_BIND", async () => {
    await assert.rejects(
      Waypoint.start({
        name: "waypoint",
        namespace: "default",
        control: { address: cp.address, tls: { rootsPem: cp.pki.rootsPem } },
        bindAddress: WAYPOINT_IP,
        ports: { hbone: wp.addresses.hbone.port, metrics: 0, readiness: 0 },
      }),
      (e: Error & { code?: string }) => e.code === "WP_ERR_BIND",
    );
  });

  test("routes by match and applies request header changes", { timeout: 5000 }, async () => {
    const r = await request("GET", "/only-v1/x");
    assert.equal(r.status, 200);
    assert.equal(r.json?.["version"], "v1");
    assert.equal(((r.json?.["headers"] ?? {}) as Record<string, string>)["x-routed-by"], "waypoint");
  });

  test("splits 20/80 between subsets", async () => {
    const n = 200;
    const counts = { v1: 0, v2: 0 };
    for (let i = 0; i < n; i++) {
      const r = await request("GET", `/pay/${i}`);
      assert.equal(r.status, 200, r.text);
      counts[r.json?.["version"] as "v1" | "v2"] += 1;
    }
    assert.equal(counts.v1 + counts.v2, n);
    // Expected 40 v1; the bound (±20) fails a 50/50 or an all-to-one split.
    assert.ok(counts.v1 >= 20 && counts.v1 <= 60, `v1 got ${counts.v1} of ${n}`);
  });

  test("POST bodies reach the backend", async () => {
    const r = await request("POST", "/pay/body", "amount=5");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.["body"], "amount=5");
  });

  test("records metrics with reporter=waypoint and one access record per request", async () => {
    const text = await (await fetch(`http://${WAYPOINT_IP}:${wp.addresses.metrics.port}/metrics`)).text();
    const v2count = metricLine(text, "istio_requests_total", {
      reporter: "waypoint",
      destination_version: "v2",
      response_code: "200",
    });
    assert.ok(v2count !== undefined && v2count > 0, "istio_requests_total for v2");
    const access = wpLogs.records.filter((r) => r["access"] === true);
    assert.ok(access.length >= 202, `access records: ${access.length}`);
    assert.ok(access.every((r) => r["src.identity"] === "spiffe://cluster.local/ns/default/sa/client"));
  });

  test("L7 AuthorizationPolicy: only GET allowed → POST gets 403 and never reaches a pod", async () => {
    wp.setResources([...routes, getOnly]);
    try {
      const before = v1.seen.length + v2.seen.length;
      const denied = await request("POST", "/pay/deny", "x");
      assert.equal(denied.status, 403);
      assert.match(denied.text, /RBAC: access denied/);
      assert.equal(v1.seen.length + v2.seen.length, before);
      const allowed = await request("GET", "/pay/allowed");
      assert.equal(allowed.status, 200);
    } finally {
      wp.setResources(routes);
    }
  });

  test("conflicting Content-Length and Transfer-Encoding → 400, the backend never sees it", {
    timeout: 5000,
  }, async () => {
    const before = v1.seen.length + v2.seen.length;
    const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 80 });
    assert.equal(reply, 0);
    const answer = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on("data", (d: Buffer) => chunks.push(d));
      socket.once("close", () => resolve(Buffer.concat(chunks).toString()));
      socket.once("end", () => resolve(Buffer.concat(chunks).toString()));
      socket.resume();
      socket.write(
        "POST /pay/smuggle HTTP/1.1\r\nHost: payment\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /pay/smuggled HTTP/1.1\r\nHost: payment\r\n\r\n",
      );
    });
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(v1.seen.length + v2.seen.length, before);
  });

  test("opaque TCP (not an HTTP request line) is relayed to an endpoint, half-close preserved", async () => {
    const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 9000 });
    assert.equal(reply, 0);
    const got = await exchange(socket, Buffer.from("hello\x00binary"));
    socket.destroy();
    assert.equal(got.toString(), "hello\x00binary<EOF SEEN>");
    const tcp = wpLogs.records.filter((r) => r["access"] === true && r["route"] === "tcp");
    assert.equal(tcp.length, 1);
    assert.equal(tcp[0]?.["bytes.received"], 12);
  });

  test("fault injection: a 100% abort answers the configured status without reaching a pod", async () => {
    const before = v1.seen.length + v2.seen.length;
    wp.setResources([
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "payment", namespace: "default" },
        spec: {
          hosts: ["payment"],
          http: [
            {
              fault: { abort: { httpStatus: 418, percentage: { value: 100 } } },
              route: [{ destination: { host: "payment" } }],
            },
          ],
        },
      } as Resource,
    ]);
    try {
      const r = await request("GET", "/pay/fault");
      assert.equal(r.status, 418);
      assert.equal(v1.seen.length + v2.seen.length, before);
    } finally {
      wp.setResources(routes);
    }
  });

  test("a request sent right behind the CONNECT (early data, as a captured client does) is served", async () => {
    const pool = new HbonePool({ connect: connector(cp, nodePorts) });
    try {
      const { stream, established } = await pool.open({
        source: cp.pki.issue("spiffe://cluster.local/ns/default/sa/client"),
        dstAddress: { host: WAYPOINT_IP, port: 15008 },
        expectedIdentities: [wp.identity],
        authority: `${VIP}:80`,
      });
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      const ended = new Promise((r) => stream.once("end", r));
      stream.write(`GET /pay HTTP/1.1\r\nHost: payments\r\nConnection: close\r\n\r\n`);
      await established;
      await ended;
      stream.destroy();
      assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 200 /);
    } finally {
      await pool.close(100);
    }
  });

  test("a CONNECT whose authority is not a known service VIP is refused with 403", async () => {
    const pool = new HbonePool({ connect: connector(cp, nodePorts) });
    try {
      await assert.rejects(
        pool.connect({
          source: cp.pki.issue("spiffe://cluster.local/ns/default/sa/client"),
          dstAddress: { host: WAYPOINT_IP, port: 15008 },
          expectedIdentities: [wp.identity],
          authority: "10.96.0.99:80",
        }),
        (e: Error) => /403/.test(e.message),
      );
    } finally {
      await pool.close(100);
    }
  });
});
