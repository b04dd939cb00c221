import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { WorkloadCredential } from "../identity/credential.js";
import { createTestPki } from "../identity/testing.js";
import { createMeshMetrics, trafficLabels } from "../telemetry/metrics.js";
import type { TypeStatus } from "../xds/delta-stream.js";
import {
  HealthCollector,
  type IssuedLeaf,
  type ScrapeTarget,
  type XdsClientView,
} from "./health-collector.js";
import { silentLogger } from "./log.js";
import type { Registry, WorkloadInfo } from "./registry.js";

const HOUR = 3_600_000;
const NOW = Date.now();

function workload(name: string, node: string, zone: string, sa = name): WorkloadInfo {
  return {
    uid: `Kubernetes//Pod/shop/${name}`,
    kind: "Pod",
    name,
    namespace: "shop",
    owner: undefined,
    phase: "Running",
    ip: `10.0.0.${name.length}`,
    node,
    serviceAccount: sa,
    labels: {},
    services: {},
    waypoint: undefined,
    enrollment: "ambient",
    isWaypoint: false,
    canonicalName: name,
    canonicalRevision: "latest",
    region: "",
    zone,
    network: "",
    runtime: undefined,
  };
}

const REGISTRY: Registry = {
  nodes: [
    {
      name: "node-1",
      labels: { "topology.kubernetes.io/zone": "zone-a" },
      podCIDR: "",
      region: "",
      zone: "zone-a",
    },
    {
      name: "node-2",
      labels: { "topology.kubernetes.io/zone": "zone-b" },
      podCIDR: "",
      region: "",
      zone: "zone-b",
    },
  ],
  workloads: [workload("web-1", "node-1", "zone-a", "web"), workload("web-2", "node-2", "zone-b", "web")],
  services: [],
  problems: [],
};

/**
 * Stand-ins for two ztunnels' :15020/metrics: real HTTP servers on 127.0.0.1:0 serving the text a
 * ztunnel's registry (createMeshMetrics) renders, so the collector's scrape goes over real sockets.
 */
interface MetricsStandIn {
  server: Server;
  url: string;
  scrapes: number;
}

async function ztunnelMetricsStandIn(
  render: () => Promise<string> | string,
  status = 200,
): Promise<MetricsStandIn> {
  const standIn: MetricsStandIn = { server: createServer(), url: "", scrapes: 0 };
  standIn.server.on("request", (_req, res) => {
    standIn.scrapes += 1;
    void Promise.resolve(render()).then((text) => {
      res.writeHead(status, { "content-type": "text/plain; version=0.0.4" });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => standIn.server.listen(0, "127.0.0.1", resolve));
  standIn.url = `http://127.0.0.1:${(standIn.server.address() as AddressInfo).port}/metrics`;
  return standIn;
}

function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

function collector(over: {
  targets?: ScrapeTarget[];
  ca?: string[];
  xds?: XdsClientView[];
  now?: () => number;
}): HealthCollector {
  return new HealthCollector({
    registry: () => REGISTRY,
    xdsClients: () => over.xds ?? [],
    caCertificates: () => over.ca ?? [],
    targets: async () => over.targets ?? [],
    log: silentLogger(),
    now: over.now ?? (() => NOW),
  });
}

describe("HealthCollector scraping ztunnel metrics stand-ins over HTTP", () => {
  const standIns: MetricsStandIn[] = [];
  let node1: MetricsStandIn;
  let node2: MetricsStandIn;
  let broken: MetricsStandIn;
  let failing: MetricsStandIn;

  before(async () => {
    const m1 = createMeshMetrics({ defaultLabels: { component: "ztunnel", node: "node-1" } });
    m1.poolHits.inc(80);
    m1.poolMisses.inc(20);
    m1.handshakeErrors.inc({ direction: "outbound", reason: "HBONE_ERR_HANDSHAKE" }, 3);
    m1.tcpOpened.inc(trafficLabels({ reporter: "destination" }), 70);
    const m2 = createMeshMetrics({ defaultLabels: { component: "ztunnel", node: "node-2" } });
    m2.poolHits.inc(100);
    m2.handshakeErrors.inc({ direction: "inbound", reason: "HBONE_ERR_HANDSHAKE" }, 9);
    m2.tcpOpened.inc(trafficLabels({ reporter: "destination" }), 30);
    m2.tcpOpened.inc(trafficLabels({ reporter: "source" }), 500);
    node1 = await ztunnelMetricsStandIn(() => m1.registry.metrics());
    node2 = await ztunnelMetricsStandIn(() => m2.registry.metrics());
    broken = await ztunnelMetricsStandIn(() => "<html>not metrics</html>");
    failing = await ztunnelMetricsStandIn(() => "ambit_hbone_pool_misses_total 1000\n", 500);
    standIns.push(node1, node2, broken, failing);
  });
  after(async () => {
    await Promise.all(standIns.map((s) => closeServer(s.server)));
  });

  test("pool hit rate, HBONE error rate and zone imbalance come from the scraped counters", async () => {
    const c = collector({
      targets: [
        { node: "node-1", url: node1.url },
        { node: "node-2", url: node2.url },
        // Not metrics, and an HTTP 500: both drop out rather than poison the numbers.
        { node: "node-3", url: broken.url },
        { node: "node-4", url: failing.url },
      ],
    });
    const r = await c.report();
    const byName = Object.fromEntries(r.indicators.map((i) => [i.name, i]));
    // 180 hits of 200 streams; 3 outbound handshake errors of 200 attempts (inbound ones not counted).
    assert.deepEqual([byName["pool_hit_rate"]?.value, byName["pool_hit_rate"]?.state], [90, "ok"]);
    assert.deepEqual([byName["hbone_error_rate"]?.value, byName["hbone_error_rate"]?.state], [1.5, "ok"]);
    // zone-a takes 70 % of inbound connections for 50 % of the endpoints: 20 points → notice.
    assert.deepEqual([byName["zone_imbalance"]?.value, byName["zone_imbalance"]?.state], [20, "notice"]);
    assert.equal(r.score, 96.3); // 100 − 0.15 × 25
  });

  test("a report is reused within the cache time and recomputed after it", async () => {
    let now = NOW;
    const c = collector({ targets: [{ node: "node-1", url: node1.url }], now: () => now });
    const before1 = node1.scrapes;
    const a = await c.report();
    const b = await c.report();
    assert.equal(a, b);
    assert.equal(node1.scrapes, before1 + 1);
    now += 2000;
    await c.report();
    assert.equal(node1.scrapes, before1 + 2);
  });

  test("gauges: score and per-indicator value/state in Prometheus text", async () => {
    const c = collector({ targets: [{ node: "node-1", url: node1.url }] });
    const { text } = await c.metricsText();
    assert.match(text, /^ambit_mesh_health_score \d+/m);
    assert.match(text, /^ambit_mesh_health_indicator_value\{indicator="pool_hit_rate"\} 80$/m);
    assert.match(text, /^ambit_mesh_health_indicator_state\{indicator="pool_hit_rate"\} 2$/m);
    assert.match(text, /^ambit_mesh_health_indicator_state\{indicator="zone_imbalance"\} 1$/m);
    // No xDS client connected: no data, so no value series, state ok.
    assert.doesNotMatch(text, /indicator_value\{indicator="config_freshness"\}/);
    assert.match(text, /^ambit_mesh_health_indicator_state\{indicator="config_freshness"\} 0$/m);
  });
});

describe("HealthCollector: certificates", () => {
  const pki = createTestPki();
  const web = "spiffe://cluster.local/ns/shop/sa/web";

  function leafOf(caller: string, node: string, cred: WorkloadCredential): IssuedLeaf {
    return {
      caller,
      node,
      identity: cred.identity.toString(),
      serial: cred.serial,
      notBefore: cred.notBefore,
      notAfter: cred.notAfter,
    };
  }

  /** A real certificate, long-lived (so the 72 h threshold applies), with `hoursLeft` to go. */
  function pem(hoursLeft: number): string {
    return pki.issue(web, {
      notBefore: new Date(NOW - 30 * 24 * HOUR),
      notAfter: new Date(NOW + hoursLeft * HOUR),
    }).certChainPem;
  }

  test("the CA's own certificate drives the indicator across 72 h", async () => {
    const ok = await collector({ ca: [pem(73)] }).report();
    assert.deepEqual([ok.indicators[0]?.value, ok.indicators[0]?.state], [73, "ok"]);
    const warn = await collector({ ca: [pem(71)] }).report();
    assert.deepEqual([warn.indicators[0]?.value, warn.indicators[0]?.state], [71, "warning"]);
    assert.equal(warn.indicators[0]?.action, "rotate the CA / check renewal");
  });

  test("issued leaves in use count; a renewal replaces the older leaf; unscheduled identities do not count", async () => {
    const c = collector({ ca: [pem(10_000)] });
    const old = pki.issue(web, {
      notBefore: new Date(NOW - 30 * 24 * HOUR),
      notAfter: new Date(NOW + 71 * HOUR),
    });
    c.recordIssued(leafOf("node/node-1", "node-1", old));
    assert.equal((await c.report()).indicators[0]?.state, "warning");

    const renewed = pki.issue(web, { notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + 500 * HOUR) });
    c.recordIssued(leafOf("node/node-1", "node-1", renewed));
    // A leaf node-9 asked for, though no workload of it runs there (any more): not in use.
    const stray = pki.issue(web, { notBefore: new Date(NOW - 2 * HOUR), notAfter: new Date(NOW - HOUR) });
    c.recordIssued(leafOf("node/node-9", "node-9", stray));
    const fresh = collector({ ca: [pem(10_000)] });
    for (const l of c.leavesInUse()) fresh.recordIssued(l);
    assert.deepEqual(
      c.leavesInUse().map((l) => l.serial),
      [renewed.serial],
    );
    assert.equal((await fresh.report()).indicators[0]?.state, "ok");
  });

  test("a default 1 h leaf is healthy until a quarter of its life is left", async () => {
    const leaf = pki.issue(web, { ttlSeconds: 3600 });
    const c = collector({ now: () => leaf.notAfter.getTime() - 20 * 60_000 });
    c.recordIssued(leafOf("node/node-2", "node-2", leaf));
    assert.equal((await c.report()).indicators[0]?.state, "ok");
    const late = collector({ now: () => leaf.notAfter.getTime() - 10 * 60_000 });
    late.recordIssued(leafOf("node/node-2", "node-2", leaf));
    assert.equal((await late.report()).indicators[0]?.state, "warning");
  });
});

describe("HealthCollector: config freshness from the xDS server status", () => {
  const acked = (v: string, at: number): TypeStatus => ({
    typeUrl: "type.googleapis.com/istio.workload.Address",
    subscription: "wildcard",
    resources: 1,
    lastSent: { nonce: "n", version: v, at, upserts: 1, removals: 0 },
    lastAcked: { nonce: "n", version: v, at },
  });
  const cases: [string, TypeStatus, number][] = [
    ["ACKed the latest push", acked("v2", NOW - 60_000), 0],
    [
      "push pending for 1 s (within the grace)",
      {
        ...acked("v1", NOW - 1000),
        lastSent: { nonce: "m", version: "v2", at: NOW - 1000, upserts: 1, removals: 0 },
      },
      0,
    ],
    [
      "push not ACKed for 60 s",
      {
        ...acked("v1", NOW - 60_000),
        lastSent: { nonce: "m", version: "v2", at: NOW - 60_000, upserts: 1, removals: 0 },
      },
      1,
    ],
    [
      "NACKed",
      {
        ...acked("v2", NOW - 60_000),
        nack: { nonce: "k", version: "v3", names: ["x"], message: "bad", at: NOW },
      },
      1,
    ],
  ];
  for (const [name, status, behind] of cases) {
    test(`${name} → ${behind} node(s) behind`, async () => {
      const c = collector({
        xds: [
          { caller: { id: "node/node-1" }, types: [status] },
          { caller: { id: "node/node-2" }, types: [acked("v2", NOW)] },
        ],
      });
      const i = (await c.report()).indicators.find((x) => x.name === "config_freshness");
      assert.deepEqual([i?.value, i?.state], [behind, behind > 0 ? "warning" : "ok"]);
    });
  }
});
