/**
 * Istio's standard metrics (names, labels and units as in "Istio Standard Metrics"), so existing
 * Grafana/Kiali dashboards read ambit unchanged, plus ambit's own data-plane metrics.
 * One `MeshMetrics` (one prom-client registry) per process.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { KeyedCounter, KeyedHistogram } from "./keyed-metrics.js";

/** Labels shared by every Istio traffic metric (ztunnel's CommonTrafficLabels). */
export const TRAFFIC_LABELS = [
  "reporter",
  "source_workload",
  "source_canonical_service",
  "source_canonical_revision",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_cluster",
  "destination_service",
  "destination_service_namespace",
  "destination_service_name",
  "destination_workload",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_cluster",
  "request_protocol",
  "response_flags",
  "connection_security_policy",
] as const;
export type TrafficLabelName = (typeof TRAFFIC_LABELS)[number];
export type TrafficLabels = Record<TrafficLabelName, string>;

/** HTTP metrics add the response code and gRPC status (empty for non-gRPC) to the traffic labels. */
export const HTTP_LABELS = [...TRAFFIC_LABELS, "response_code", "grpc_response_status"] as const;
export type HttpLabelName = (typeof HTTP_LABELS)[number];
export type HttpLabels = Record<HttpLabelName, string>;

/** Istio writes "unknown" for a label it cannot fill, so dashboards group such traffic together. */
export const UNKNOWN = "unknown";

/** Every label at "unknown" except the ones given; reporter, protocol and flags get Istio's defaults. */
export function trafficLabels(partial: { [K in TrafficLabelName]?: string | undefined }): TrafficLabels {
  const out = {} as TrafficLabels;
  for (const name of TRAFFIC_LABELS) out[name] = UNKNOWN;
  out.request_protocol = "tcp";
  out.response_flags = "-";
  out.connection_security_policy = "none";
  for (const [k, v] of Object.entries(partial) as [TrafficLabelName, string | undefined][]) {
    if (v !== undefined && v !== "") out[k] = v;
  }
  return out;
}

// Istio's default buckets for request duration (ms) and sizes (bytes).
const DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

const MISNAMED_DEFAULT_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
] as const;

export interface MeshMetrics {
  readonly registry: Registry;
  readonly tcpOpened: Counter<TrafficLabelName>;
  readonly tcpClosed: Counter<TrafficLabelName>;
  readonly tcpSentBytes: Counter<TrafficLabelName>;
  readonly tcpReceivedBytes: Counter<TrafficLabelName>;
  /** Per-request metrics take a key naming the label set (keyed-metrics.ts): one per request adds up. */
  readonly requests: KeyedCounter<HttpLabelName>;
  readonly requestDuration: KeyedHistogram<HttpLabelName>;
  readonly requestBytes: KeyedHistogram<HttpLabelName>;
  readonly responseBytes: KeyedHistogram<HttpLabelName>;
  readonly poolHits: Counter<string>;
  readonly poolMisses: Counter<string>;
  /** Pooled HBONE sessions opened, by how they write (`--hbone-writes`: kernel or unblocked). */
  readonly poolSessions: Counter<"writes">;
  readonly handshakeErrors: Counter<"direction" | "reason">;
  readonly connectionErrors: Counter<"direction" | "reason">;
  readonly activeConnections: Gauge<"direction">;
  readonly xdsConnected: Gauge<string>;
  readonly xdsUpdates: Counter<"type" | "result">;
  readonly xdsLastUpdate: Gauge<"type">;
  readonly certExpiry: Gauge<"identity">;
  readonly certRotations: Counter<"result">;
  readonly authzDecisions: Counter<"direction" | "decision">;
}

export interface MeshMetricsOptions {
  /** Register into an existing registry instead of a fresh one. */
  readonly registry?: Registry;
  /** Labels added to every series, e.g. `{ component: "ztunnel", node: "node-a" }`. */
  readonly defaultLabels?: Record<string, string>;
  /** Also collect Node's process metrics (`process_cpu_seconds_total`, heap…). Off in tests. */
  readonly processMetrics?: boolean;
}

/** How often the process metrics sample the event loop's delay. */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export function createMeshMetrics(options: MeshMetricsOptions = {}): MeshMetrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics === true) {
    // The event-loop delay histogram is a timer firing every `eventLoopMonitoringPrecision` ms:
    // prom-client's default of 10 ms woke an idle ztunnel 100 times a second (~9 ms of CPU per
    // second, docs/performance.md "An idle ztunnel"). Sampled once a second, the lag gauges still
    // show a blocked loop; the loop sleeps between samples.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for
    // counters (`promtool check metrics` rejects them); the `nodejs_active_*` gauges without the
    // suffix carry the same numbers.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const traffic = [...TRAFFIC_LABELS];
  const http = [...HTTP_LABELS];
  return {
    registry,
    tcpOpened: new Counter({
      name: "istio_tcp_connections_opened_total",
      help: "Connections opened, counted when the proxy accepts a connection.",
      labelNames: traffic,
      registers,
    }),
    tcpClosed: new Counter({
      name: "istio_tcp_connections_closed_total",
      help: "Connections closed, counted once per connection when it ends.",
      labelNames: traffic,
      registers,
    }),
    tcpSentBytes: new Counter({
      name: "istio_tcp_sent_bytes_total",
      help: "Bytes sent towards the client (the response direction) on TCP connections.",
      labelNames: traffic,
      registers,
    }),
    tcpReceivedBytes: new Counter({
      name: "istio_tcp_received_bytes_total",
      help: "Bytes received from the client (the request direction) on TCP connections.",
      labelNames: traffic,
      registers,
    }),
    requests: new KeyedCounter({
      name: "istio_requests_total",
      help: "HTTP/gRPC requests handled by the proxy.",
      labelNames: http,
      registers,
    }),
    requestDuration: new KeyedHistogram({
      name: "istio_request_duration_milliseconds",
      help: "Duration of HTTP/gRPC requests in milliseconds.",
      labelNames: http,
      buckets: DURATION_BUCKETS_MS,
      registers,
    }),
    requestBytes: new KeyedHistogram({
      name: "istio_request_bytes",
      help: "HTTP request sizes (headers and body) in bytes.",
      labelNames: http,
      buckets: SIZE_BUCKETS,
      registers,
    }),
    responseBytes: new KeyedHistogram({
      name: "istio_response_bytes",
      help: "HTTP response sizes (headers and body) in bytes.",
      labelNames: http,
      buckets: SIZE_BUCKETS,
      registers,
    }),
    poolHits: new Counter({
      name: "ambit_hbone_pool_hits_total",
      help: "HBONE CONNECT streams opened on an already established pooled session.",
      registers,
    }),
    poolMisses: new Counter({
      name: "ambit_hbone_pool_misses_total",
      help: "HBONE CONNECT streams that needed a new mTLS session.",
      registers,
    }),
    poolSessions: new Counter({
      name: "ambit_hbone_pool_sessions_total",
      help: "Pooled HBONE sessions opened, by how they write: kernel (on the TLS socket, send buffer reserved) or unblocked.",
      labelNames: ["writes"],
      registers,
    }),
    handshakeErrors: new Counter({
      name: "ambit_hbone_handshake_errors_total",
      help: "Failed HBONE mTLS handshakes, by direction and reason.",
      labelNames: ["direction", "reason"],
      registers,
    }),
    connectionErrors: new Counter({
      name: "ambit_connection_errors_total",
      help: "Proxied connections that ended with an error, by direction and reason (error code).",
      labelNames: ["direction", "reason"],
      registers,
    }),
    activeConnections: new Gauge({
      name: "ambit_active_connections",
      help: "Proxied connections currently open, by direction.",
      labelNames: ["direction"],
      registers,
    }),
    xdsConnected: new Gauge({
      name: "ambit_xds_connected",
      help: "1 while the xDS stream to the control plane is up, else 0.",
      registers,
    }),
    xdsUpdates: new Counter({
      name: "ambit_xds_updates_total",
      help: "xDS responses processed, by resource type and result (ack/nack).",
      labelNames: ["type", "result"],
      registers,
    }),
    xdsLastUpdate: new Gauge({
      name: "ambit_xds_last_update_timestamp_seconds",
      help: "Unix time of the last accepted xDS update, by resource type (config push freshness).",
      labelNames: ["type"],
      registers,
    }),
    certExpiry: new Gauge({
      name: "ambit_certificate_expiry_timestamp_seconds",
      help: "Unix time at which the current certificate of each identity expires.",
      labelNames: ["identity"],
      registers,
    }),
    certRotations: new Counter({
      name: "ambit_certificate_rotations_total",
      help: "Certificate renewals, by result (ok/error).",
      labelNames: ["result"],
      registers,
    }),
    authzDecisions: new Counter({
      name: "ambit_authz_decisions_total",
      help: "L4 authorization decisions, by direction and decision (allow/deny/would_deny).",
      labelNames: ["direction", "decision"],
      registers,
    }),
  };
}
