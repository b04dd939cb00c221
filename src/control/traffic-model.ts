/**
 * The mesh's traffic graph, computed from two successive scrapes of the data plane's Istio
 * metrics (docs/dashboard.md). Pure: the collector hands in the parsed samples of every target
 * and the previous scrape; this turns counter deltas into per-edge rates, like Prometheus'
 * `rate()` over the scrape interval, and the duration histogram into a p99 like
 * `histogram_quantile(0.99, …)`.
 *
 * An edge goes from a source workload to a destination service (or to a workload when the
 * traffic had no service, e.g. a waypoint's hop to a pod). Istio reports one connection at both
 * ends; to count it once, TCP figures come from `reporter="source"` and fall back to
 * `reporter="destination"` only for edges no source reported (a caller outside the mesh).
 * HTTP figures (requests, 5xx, p99) come from the waypoint (`reporter="waypoint"`), which is
 * the only L7 reporter in ambient mode.
 */
import type { Sample } from "../telemetry/health/prometheus-text.js";

export const TCP_OPENED = "istio_tcp_connections_opened_total";
export const TCP_CLOSED = "istio_tcp_connections_closed_total";
export const TCP_SENT = "istio_tcp_sent_bytes_total";
export const TCP_RECEIVED = "istio_tcp_received_bytes_total";
export const REQUESTS = "istio_requests_total";
export const DURATION_BUCKET = "istio_request_duration_milliseconds_bucket";

const UNKNOWN = "unknown";

export interface ScrapedTarget {
  /** The node (ztunnel) or `namespace/name` (waypoint) that served the metrics. */
  readonly target: string;
  readonly kind: "ztunnel" | "waypoint";
  readonly samples: readonly Sample[];
}

export interface TrafficScrape {
  /** Unix ms of the scrape. */
  readonly at: number;
  /** Targets that answered; a target missing from one of two scrapes adds nothing to the rates. */
  readonly targets: readonly ScrapedTarget[];
}

export interface GraphNode {
  /** `workload:<ns>/<name>`, `service:<ns>/<name>`, or `unknown` for an end outside the mesh. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly kind: "workload" | "service" | "unknown";
}

export type MtlsState = "mutual_tls" | "none" | "mixed";

export interface TrafficEdge {
  /** `<source id> -> <destination id>`. */
  readonly id: string;
  readonly source: string;
  readonly destination: string;
  /** `http` when a waypoint saw requests on the edge, else `tcp`. */
  readonly protocol: "http" | "tcp";
  /** HTTP requests/s on an http edge, new connections/s on a tcp edge. */
  readonly rps: number;
  readonly connectionsPerSecond: number;
  /** Bytes/s both ways (TCP payload the proxies relayed). */
  readonly bytesPerSecond: number;
  /** 5xx responses/s plus connections/s that ended with a failure flag (DENY, CONNECT). */
  readonly errorsPerSecond: number;
  /** errorsPerSecond over the edge's attempts (requests or connections), 0..1. */
  readonly errorRate: number;
  /** 99th percentile request duration over the interval, ms; null without requests. */
  readonly p99Ms: number | null;
  readonly mtls: MtlsState;
  /** Which reporter the TCP figures came from. */
  readonly reporter: "source" | "destination" | "waypoint";
}

export interface Denial {
  readonly at: number;
  /** The ztunnel node or waypoint that refused. */
  readonly by: string;
  readonly source: string;
  readonly destination: string;
  /** How many were refused since the previous scrape. */
  readonly count: number;
  /** `L4 DENY` (ztunnel AuthorizationPolicy) or `L7 403` (waypoint RBAC). */
  readonly reason: string;
}

export interface TrafficGraph {
  readonly at: number;
  /** Seconds between the two scrapes the rates come from; 0 on the first scrape. */
  readonly intervalSeconds: number;
  readonly nodes: GraphNode[];
  readonly edges: TrafficEdge[];
  readonly denials: Denial[];
}

export interface TrafficModelOptions {
  /** The workload of a SPIFFE principal, when the reporter only knew the peer's identity (waypoints). */
  readonly workloadOfPrincipal?: (principal: string) => { namespace: string; name: string } | undefined;
  /**
   * The graph's name of a reported workload: ztunnel names a pod by its Deployment, a waypoint by
   * the pod; this maps both to one node.
   */
  readonly workloadName?: (namespace: string, name: string) => string;
}

/** Per-edge accumulator of deltas over the interval. */
interface Acc {
  source: GraphNode;
  destination: GraphNode;
  tcp: Map<"source" | "destination" | "waypoint", TcpAcc>;
  http: { seen: boolean; requests: number; errors: number; buckets: Map<number, number> };
  mtls: Set<string>;
  mtlsAll: Set<string>;
}

interface TcpAcc {
  opened: number;
  failed: number;
  bytes: number;
}

export function computeTraffic(
  previous: TrafficScrape | undefined,
  current: TrafficScrape,
  options: TrafficModelOptions = {},
): TrafficGraph {
  const dt = previous === undefined ? 0 : (current.at - previous.at) / 1000;
  const prevIndex = new Map<string, Map<string, number>>();
  for (const t of previous?.targets ?? []) prevIndex.set(t.target, indexSamples(t.samples));
  const edges = new Map<string, Acc>();
  const denials: Denial[] = [];
  const acc = (source: GraphNode, destination: GraphNode): Acc => {
    const id = `${source.id} -> ${destination.id}`;
    let a = edges.get(id);
    if (!a) {
      a = {
        source,
        destination,
        tcp: new Map(),
        http: { seen: false, requests: 0, errors: 0, buckets: new Map() },
        mtls: new Set(),
        mtlsAll: new Set(),
      };
      edges.set(id, a);
    }
    return a;
  };
  for (const t of current.targets) {
    const before = prevIndex.get(t.target);
    // Without the same target in the previous scrape, a delta would be its whole history.
    const delta = (s: Sample): number => {
      if (before === undefined || !Number.isFinite(s.value)) return 0;
      const was = before.get(seriesKey(s));
      if (was === undefined) return s.value;
      return s.value >= was ? s.value - was : s.value;
    };
    for (const s of t.samples) {
      if (!TRAFFIC_NAMES.has(s.name)) continue;
      const reporter = s.labels["reporter"];
      if (reporter !== "source" && reporter !== "destination" && reporter !== "waypoint") continue;
      const src = sourceNode(s.labels, options);
      const dst = destinationNode(s.labels, options);
      const a = acc(src, dst);
      const d = delta(s);
      const policy = s.labels["connection_security_policy"] ?? "none";
      a.mtlsAll.add(policy);
      if (d > 0 && s.name !== DURATION_BUCKET) a.mtls.add(policy);
      if (s.name === REQUESTS || s.name === DURATION_BUCKET) {
        // A waypoint also knows which endpoint it chose: the service → workload hop of the graph.
        const hop = serviceHop(s.labels, dst, options);
        for (const e of hop ? [a, acc(dst, hop)] : [a]) {
          addHttp(e, s, d);
          e.mtlsAll.add(policy);
          if (d > 0 && s.name === REQUESTS) e.mtls.add(policy);
        }
        if (s.name === REQUESTS && d > 0 && s.labels["response_code"] === "403" && reporter === "waypoint") {
          denials.push({
            at: current.at,
            by: t.target,
            source: src.id,
            destination: dst.id,
            count: d,
            reason: "L7 403",
          });
        }
        continue;
      }
      let tcp = a.tcp.get(reporter);
      if (!tcp) {
        tcp = { opened: 0, failed: 0, bytes: 0 };
        a.tcp.set(reporter, tcp);
      }
      const flags = s.labels["response_flags"] ?? "-";
      if (s.name === TCP_OPENED) tcp.opened += d;
      else if (s.name === TCP_SENT || s.name === TCP_RECEIVED) tcp.bytes += d;
      else if (s.name === TCP_CLOSED && flags !== "-") {
        tcp.failed += d;
        // Both ends may refuse the same connection; the one that decided reports DENY.
        if (flags === "DENY" && d > 0) {
          denials.push({
            at: current.at,
            by: t.target,
            source: src.id,
            destination: dst.id,
            count: d,
            reason: "L4 DENY",
          });
        }
      }
    }
  }
  const nodes = new Map<string, GraphNode>();
  const out: TrafficEdge[] = [];
  for (const [id, a] of edges) {
    nodes.set(a.source.id, a.source);
    nodes.set(a.destination.id, a.destination);
    const reporter = a.tcp.has("source") ? "source" : a.tcp.has("destination") ? "destination" : "waypoint";
    const tcp = a.tcp.get(reporter) ?? { opened: 0, failed: 0, bytes: 0 };
    const per = (n: number): number => (dt > 0 ? n / dt : 0);
    const protocol = a.http.seen ? "http" : "tcp";
    const attempts = protocol === "http" ? a.http.requests + tcp.failed : tcp.opened;
    const errors = a.http.errors + tcp.failed;
    out.push({
      id,
      source: a.source.id,
      destination: a.destination.id,
      protocol,
      rps: per(protocol === "http" ? a.http.requests : tcp.opened),
      connectionsPerSecond: per(tcp.opened),
      bytesPerSecond: per(tcp.bytes),
      errorsPerSecond: per(errors),
      errorRate: attempts > 0 ? Math.min(1, errors / attempts) : 0,
      p99Ms: histogramQuantile(0.99, a.http.buckets),
      mtls: mtlsOf(a.mtls.size > 0 ? a.mtls : a.mtlsAll),
      reporter,
    });
  }
  out.sort((x, y) => y.rps - x.rps || x.id.localeCompare(y.id));
  return {
    at: current.at,
    intervalSeconds: dt,
    nodes: [...nodes.values()].sort((x, y) => x.id.localeCompare(y.id)),
    edges: out,
    denials,
  };
}

const TRAFFIC_NAMES = new Set([TCP_OPENED, TCP_CLOSED, TCP_SENT, TCP_RECEIVED, REQUESTS, DURATION_BUCKET]);

function addHttp(a: Acc, s: Sample, d: number): void {
  a.http.seen = true;
  if (s.name === REQUESTS) {
    a.http.requests += d;
    if ((s.labels["response_code"] ?? "").startsWith("5")) a.http.errors += d;
    return;
  }
  const le = s.labels["le"] === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels["le"]);
  if (!Number.isNaN(le)) a.http.buckets.set(le, (a.http.buckets.get(le) ?? 0) + d);
}

/**
 * Prometheus' `histogram_quantile` over cumulative bucket counts keyed by upper bound: linear
 * interpolation inside the bucket holding the rank; the +Inf bucket answers with the highest
 * finite bound. null when the interval saw no observation.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? buckets.get(bounds[bounds.length - 1] ?? 0) ?? 0;
  if (bounds.length === 0 || total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const le of bounds) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerBound;
      if (count === lowerCount) return le;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

function mtlsOf(policies: ReadonlySet<string>): MtlsState {
  if (policies.size === 1 && policies.has("mutual_tls")) return "mutual_tls";
  if (!policies.has("mutual_tls")) return "none";
  return "mixed";
}

function sourceNode(l: Readonly<Record<string, string>>, o: TrafficModelOptions): GraphNode {
  const ns = l["source_workload_namespace"] ?? UNKNOWN;
  const name = l["source_workload"] ?? UNKNOWN;
  if (name !== UNKNOWN && ns !== UNKNOWN) return workload(ns, name, o);
  const principal = l["source_principal"] ?? UNKNOWN;
  const w = principal === UNKNOWN ? undefined : o.workloadOfPrincipal?.(principal);
  return w ? workload(w.namespace, w.name, o) : UNKNOWN_NODE;
}

function destinationNode(l: Readonly<Record<string, string>>, o: TrafficModelOptions): GraphNode {
  const svcNs = l["destination_service_namespace"] ?? UNKNOWN;
  const svc = l["destination_service_name"] ?? UNKNOWN;
  if (svc !== UNKNOWN && svcNs !== UNKNOWN) {
    return { id: `service:${svcNs}/${svc}`, namespace: svcNs, name: svc, kind: "service" };
  }
  const ns = l["destination_workload_namespace"] ?? UNKNOWN;
  const name = l["destination_workload"] ?? UNKNOWN;
  return name !== UNKNOWN && ns !== UNKNOWN ? workload(ns, name, o) : UNKNOWN_NODE;
}

/** The endpoint a waypoint picked for a service, when it reported one. */
function serviceHop(
  l: Readonly<Record<string, string>>,
  dst: GraphNode,
  o: TrafficModelOptions,
): GraphNode | undefined {
  if (dst.kind !== "service" || l["reporter"] !== "waypoint") return undefined;
  const ns = l["destination_workload_namespace"] ?? UNKNOWN;
  const name = l["destination_workload"] ?? UNKNOWN;
  return name !== UNKNOWN && ns !== UNKNOWN ? workload(ns, name, o) : undefined;
}

// Graph ids keep services and workloads of the same name apart (a Deployment is often named as its Service).
function workload(namespace: string, reported: string, o: TrafficModelOptions): GraphNode {
  const name = o.workloadName?.(namespace, reported) ?? reported;
  return { id: `workload:${namespace}/${name}`, namespace, name, kind: "workload" };
}

const UNKNOWN_NODE: GraphNode = Object.freeze({
  id: UNKNOWN,
  namespace: UNKNOWN,
  name: UNKNOWN,
  kind: "unknown",
});

function indexSamples(samples: readonly Sample[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) if (TRAFFIC_NAMES.has(s.name)) m.set(seriesKey(s), s.value);
  return m;
}

function seriesKey(s: Sample): string {
  const keys = Object.keys(s.labels).sort();
  return `${s.name}{${keys.map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(",")}}`;
}
