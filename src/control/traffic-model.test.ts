import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePrometheusText } from "../telemetry/health/prometheus-text.js";
import { computeTraffic, histogramQuantile, type TrafficScrape } from "./traffic-model.js";

const SRC =
  'reporter="source",source_workload="client",source_workload_namespace="shop",source_principal="spiffe://cluster.local/ns/shop/sa/client",destination_service_namespace="shop",destination_service_name="api",destination_workload="api-v1",destination_workload_namespace="shop"';
const DST =
  'reporter="destination",source_workload="client",source_workload_namespace="shop",destination_service_namespace="shop",destination_service_name="api",destination_workload="api-v1",destination_workload_namespace="shop"';
const WP =
  'reporter="waypoint",source_workload="unknown",source_workload_namespace="shop",source_principal="spiffe://cluster.local/ns/shop/sa/client",destination_service_namespace="shop",destination_service_name="api",destination_workload="api-v2",destination_workload_namespace="shop",connection_security_policy="mutual_tls"';

function scrape(at: number, targets: Record<string, string>): TrafficScrape {
  return {
    at,
    targets: Object.entries(targets).map(([target, text]) => ({
      target,
      kind: target.startsWith("waypoint") ? "waypoint" : "ztunnel",
      samples: parsePrometheusText(text),
    })),
  };
}

function tcp(labels: string, opened: number, bytes: number, mtls = "mutual_tls", failed = 0): string {
  const l = `${labels},connection_security_policy="${mtls}"`;
  return [
    `istio_tcp_connections_opened_total{${l},response_flags="-"} ${opened}`,
    `istio_tcp_connections_closed_total{${l},response_flags="-"} ${opened - failed}`,
    failed > 0 ? `istio_tcp_connections_closed_total{${l},response_flags="DENY"} ${failed}` : "",
    `istio_tcp_sent_bytes_total{${l},response_flags="-"} ${bytes}`,
    `istio_tcp_received_bytes_total{${l},response_flags="-"} ${bytes}`,
  ].join("\n");
}

test("rates are counter deltas over the interval between two scrapes, counted once per edge", () => {
  const before = scrape(10_000, { "node-1": tcp(SRC, 10, 1000), "node-2": tcp(DST, 10, 1000) });
  const after = scrape(12_000, { "node-1": tcp(SRC, 30, 5000), "node-2": tcp(DST, 30, 5000) });
  const g = computeTraffic(before, after);
  assert.equal(g.intervalSeconds, 2);
  assert.equal(g.edges.length, 1);
  const e = g.edges[0];
  assert.ok(e);
  assert.equal(e.id, "workload:shop/client -> service:shop/api");
  assert.equal(e.reporter, "source");
  assert.equal(e.protocol, "tcp");
  assert.equal(e.rps, 10);
  assert.equal(e.connectionsPerSecond, 10);
  // 4000 bytes each way in 2 s.
  assert.equal(e.bytesPerSecond, 4000);
  assert.equal(e.errorRate, 0);
  assert.equal(e.p99Ms, null);
  assert.equal(e.mtls, "mutual_tls");
  assert.deepEqual(
    g.nodes.map((n) => [n.id, n.kind]),
    [
      ["service:shop/api", "service"],
      ["workload:shop/client", "workload"],
    ],
  );
});

test("the first scrape and a target absent before give zero rates, not the whole history", () => {
  const only = scrape(5_000, { "node-1": tcp(SRC, 100, 1e6) });
  const first = computeTraffic(undefined, only);
  assert.equal(first.intervalSeconds, 0);
  assert.equal(first.edges[0]?.rps, 0);
  const later = computeTraffic(scrape(4_000, {}), scrape(5_000, { "node-1": tcp(SRC, 100, 1e6) }));
  assert.equal(later.edges[0]?.rps, 0);
});

test("a counter that went down (the proxy restarted) counts its new value, as Prometheus does", () => {
  const g = computeTraffic(
    scrape(0, { "node-1": tcp(SRC, 500, 0) }),
    scrape(1_000, { "node-1": tcp(SRC, 7, 0) }),
  );
  assert.equal(g.edges[0]?.rps, 7);
});

test("destination reports count only for edges no source reported", () => {
  const g = computeTraffic(
    scrape(0, { "node-2": tcp(DST, 0, 0) }),
    scrape(1_000, { "node-2": tcp(DST, 4, 0) }),
  );
  assert.equal(g.edges[0]?.reporter, "destination");
  assert.equal(g.edges[0]?.rps, 4);
});

test("denied connections are errors, reported denials, and plaintext shows as no mTLS", () => {
  const g = computeTraffic(
    scrape(0, { "node-1": tcp(SRC, 10, 0, "none", 0) }),
    scrape(1_000, { "node-1": tcp(SRC, 20, 0, "none", 5) }),
  );
  const e = g.edges[0];
  assert.ok(e);
  assert.equal(e.errorsPerSecond, 5);
  assert.equal(e.errorRate, 0.5);
  assert.equal(e.mtls, "none");
  assert.deepEqual(
    g.denials.map((d) => [d.by, d.source, d.destination, d.count, d.reason]),
    [["node-1", "workload:shop/client", "service:shop/api", 5, "L4 DENY"]],
  );
});

function http(count200: number, count503: number, count403: number, buckets: [string, number][]): string {
  const lines = [
    `istio_requests_total{${WP},response_code="200"} ${count200}`,
    `istio_requests_total{${WP},response_code="503"} ${count503}`,
    `istio_requests_total{${WP},response_code="403"} ${count403}`,
  ];
  for (const [le, n] of buckets) {
    lines.push(`istio_request_duration_milliseconds_bucket{${WP},response_code="200",le="${le}"} ${n}`);
  }
  return lines.join("\n");
}

test("waypoint requests give rps, 5xx error rate, p99, denials and the service → workload hop", () => {
  const workloadOfPrincipal = (p: string): { namespace: string; name: string } | undefined =>
    p === "spiffe://cluster.local/ns/shop/sa/client" ? { namespace: "shop", name: "client" } : undefined;
  const before = scrape(0, {
    "node-1": tcp(SRC, 0, 0),
    "waypoint/shop/waypoint": http(0, 0, 0, [
      ["10", 0],
      ["100", 0],
      ["+Inf", 0],
    ]),
  });
  const after = scrape(2_000, {
    "node-1": tcp(SRC, 1, 0),
    // 100 observations: 90 ≤ 10 ms, 10 in (10, 100].
    "waypoint/shop/waypoint": http(94, 4, 2, [
      ["10", 90],
      ["100", 100],
      ["+Inf", 100],
    ]),
  });
  const g = computeTraffic(before, after, { workloadOfPrincipal });
  const e = g.edges.find((x) => x.id === "workload:shop/client -> service:shop/api");
  assert.ok(e, JSON.stringify(g.edges.map((x) => x.id)));
  assert.equal(e.protocol, "http");
  assert.equal(e.rps, 50);
  assert.equal(e.connectionsPerSecond, 0.5);
  assert.equal(e.errorsPerSecond, 2);
  assert.equal(e.errorRate, 0.04);
  // rank 99 of 100 lies 9/10 into the (10, 100] bucket.
  assert.equal(e.p99Ms, 91);
  const hop = g.edges.find((x) => x.id === "service:shop/api -> workload:shop/api-v2");
  assert.ok(hop);
  assert.equal(hop.rps, 50);
  assert.equal(hop.reporter, "waypoint");
  assert.deepEqual(
    g.denials.map((d) => [d.by, d.source, d.count, d.reason]),
    [["waypoint/shop/waypoint", "workload:shop/client", 2, "L7 403"]],
  );
  assert.equal(g.edges[0]?.rps, 50, "edges sorted by rps");
});

test("histogramQuantile follows Prometheus: interpolation, first bucket from 0, +Inf answers the top bound", () => {
  const b = (entries: [number, number][]): Map<number, number> => new Map(entries);
  assert.equal(
    histogramQuantile(
      0.5,
      b([
        [10, 10],
        [Number.POSITIVE_INFINITY, 10],
      ]),
    ),
    5,
  );
  assert.equal(
    histogramQuantile(
      0.99,
      b([
        [1, 0],
        [5, 0],
        [Number.POSITIVE_INFINITY, 3],
      ]),
    ),
    5,
  );
  assert.equal(
    histogramQuantile(
      0.99,
      b([
        [1, 0],
        [Number.POSITIVE_INFINITY, 0],
      ]),
    ),
    null,
  );
  assert.equal(histogramQuantile(0.99, new Map()), null);
});
