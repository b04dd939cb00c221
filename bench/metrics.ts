/**
 * The cost of recording one request's Istio metrics in a waypoint (one counter and three
 * histograms, 25 labels): prom-client's `inc`/`observe`, which validate and hash the label set on
 * every call, against the keyed metrics ambit uses (src/telemetry/keyed-metrics.ts), which do that
 * once per label set. Same label set every time, as for a steady client → service → endpoint edge.
 * Run: npx tsc -p . && node dist/bench/metrics.js [requests]
 */
import { Counter, Histogram, Registry } from "prom-client";
import { createMeshMetrics, HTTP_LABELS, type HttpLabels, trafficLabels } from "../src/telemetry/metrics.js";

const N = Number(process.argv[2] ?? 200_000);
const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000];

const labels = (): HttpLabels => ({
  ...trafficLabels({
    reporter: "waypoint",
    source_principal: "spiffe://cluster.local/ns/shop/sa/client",
    source_workload_namespace: "shop",
    destination_service: "reviews.shop.svc.cluster.local",
    destination_service_name: "reviews",
    destination_service_namespace: "shop",
    destination_workload: "reviews-v1-0",
    destination_workload_namespace: "shop",
    destination_principal: "spiffe://cluster.local/ns/shop/sa/reviews",
    destination_app: "reviews",
    destination_version: "v1",
    request_protocol: "http",
    connection_security_policy: "mutual_tls",
  }),
  response_code: "200",
  grpc_response_status: "",
});

function timePerRequest(record: () => void): number {
  for (let i = 0; i < N / 10; i++) record(); // warm-up: JIT, first series
  const t0 = performance.now();
  for (let i = 0; i < N; i++) record();
  return ((performance.now() - t0) * 1000) / N;
}

const registry = new Registry();
const names = [...HTTP_LABELS];
const counter = new Counter({ name: "c_total", help: "h", labelNames: names, registers: [registry] });
const histograms = ["a", "b", "c"].map(
  (n) => new Histogram({ name: n, help: "h", labelNames: names, buckets: BUCKETS, registers: [registry] }),
);
const promClient = timePerRequest(() => {
  const l = labels();
  counter.inc(l);
  for (const h of histograms) h.observe(l, 42);
});

const m = createMeshMetrics();
const keyed = timePerRequest(() => {
  // What the waypoint builds per request: the facts its labels come from.
  const key = [
    "spiffe://cluster.local/ns/shop/sa/client",
    "reviews.shop.svc.cluster.local",
    "reviews",
    "shop",
    "reviews-v1-0",
    "shop",
    "spiffe://cluster.local/ns/shop/sa/reviews",
    "reviews",
    "v1",
    "http",
    200,
    "",
  ].join("\u0000");
  m.requests.inc(key, labels);
  m.requestDuration.observe(key, labels, 42);
  m.requestBytes.observe(key, labels, 42);
  m.responseBytes.observe(key, labels, 42);
});

process.stdout.write(
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, requests: N, us_per_request: { prom_client: Number(promClient.toFixed(2)), keyed: Number(keyed.toFixed(2)) } })}\n`,
);
