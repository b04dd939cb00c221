import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePrometheusText } from "../telemetry/health/prometheus-text.js";
import type { ScrapeRound } from "./health-collector.js";
import type { Registry, WorkloadInfo } from "./registry.js";
import { TrafficCollector, workloadOfPrincipal } from "./traffic-collector.js";

function workload(namespace: string, name: string, owner: string, serviceAccount: string): WorkloadInfo {
  // Only the fields the traffic view reads; the rest of a registry entry does not matter here.
  return {
    namespace,
    name,
    owner,
    serviceAccount,
    isWaypoint: false,
    node: "node-1",
  } as unknown as WorkloadInfo;
}

const REGISTRY: Registry = {
  nodes: [],
  services: [],
  problems: [],
  workloads: [
    workload("shop", "client-0", "client", "client"),
    workload("shop", "api-v1-0", "api-v1", "api"),
    workload("shop", "api-v2-0", "api-v2", "api"),
  ],
};

const L =
  'reporter="source",source_workload="client",source_workload_namespace="shop",destination_service_namespace="shop",destination_service_name="api",connection_security_policy="mutual_tls"';

function round(at: number, opened: number, denied: number): ScrapeRound {
  const text = [
    `istio_tcp_connections_opened_total{${L},response_flags="-"} ${opened}`,
    `istio_tcp_connections_closed_total{${L},response_flags="DENY"} ${denied}`,
    'ambit_active_connections{direction="outbound"} 2',
    "ambit_xds_connected 1",
  ].join("\n");
  return {
    at,
    results: [
      {
        node: "node-1",
        kind: "ztunnel",
        url: "http://node-1/metrics",
        samples: parsePrometheusText(text),
        error: undefined,
      },
      { node: "node-2", kind: "ztunnel", url: "http://node-2/metrics", samples: undefined, error: "refused" },
    ],
  };
}

test("rates span about 10 s of scrapes; each denial is listed once; proxies report their gauges", async () => {
  let current = round(0, 0, 0);
  const c = new TrafficCollector({ scrapeRound: async () => current, registry: () => REGISTRY });
  const first = await c.report();
  assert.equal(first.intervalSeconds, 0);
  for (let t = 2; t <= 16; t += 2) {
    // 3 connections a second; two denied between t=2 and t=4, none after.
    current = round(t * 1000, 3 * t, t >= 4 ? 2 : 0);
    const r = await c.report();
    const e = r.edges[0];
    assert.ok(e);
    assert.equal(e.rps, 3, `at t=${t}`);
    assert.ok(
      r.intervalSeconds >= Math.min(t, 10) && r.intervalSeconds <= 12,
      `window at t=${t}: ${r.intervalSeconds}`,
    );
  }
  const r = await c.report();
  assert.deepEqual(
    r.denials.map((d) => [d.at, d.count, d.reason]),
    [[4000, 2, "L4 DENY"]],
  );
  assert.deepEqual(
    r.proxies.map((p) => [p.name, p.reachable, p.error, p.activeConnections, p.xdsConnected, p.workloads]),
    [
      ["node-1", true, null, 2, true, 3],
      ["node-2", false, "refused", null, null, 0],
    ],
  );
  assert.ok(
    r.nodes.some((n) => n.id === "workload:shop/api-v1"),
    "idle registry workloads are graph nodes",
  );
});

test("a principal names a workload only when one Deployment runs as it", () => {
  assert.deepEqual(workloadOfPrincipal(REGISTRY, "spiffe://cluster.local/ns/shop/sa/client"), {
    namespace: "shop",
    name: "client",
  });
  assert.equal(workloadOfPrincipal(REGISTRY, "spiffe://cluster.local/ns/shop/sa/api"), undefined);
  assert.equal(workloadOfPrincipal(REGISTRY, "not a spiffe id"), undefined);
});
