/**
 * The control plane's traffic view (`GET /v1/traffic`, `ambit top`, the dashboard): it reuses the
 * health collector's scrape rounds (one scraper, one cache), keeps the previous round to turn
 * counters into rates (src/control/traffic-model.ts), remembers recent denials, and reports each
 * data-plane proxy's state from its own gauges.
 */
import { SpiffeId } from "../identity/spiffe.js";
import { sumOf } from "../telemetry/health/prometheus-text.js";
import type { ScrapeRound } from "./health-collector.js";
import type { Registry } from "./registry.js";
import {
  computeTraffic,
  type Denial,
  type GraphNode,
  type TrafficEdge,
  type TrafficScrape,
} from "./traffic-model.js";

/** Newest first; a page shows a screenful, `ambit top` fewer. */
const MAX_DENIALS = 50;
/**
 * Rates are taken over about this much history, like Prometheus' `rate(x[10s])`: a demo client
 * sending a request a second would flicker between 0 and 1 over a single 1.5 s scrape interval.
 */
const RATE_WINDOW_MS = 10_000;

export interface ProxyState {
  /** Node name of a ztunnel, `waypoint/<ns>/<name>` of a waypoint. */
  readonly name: string;
  readonly kind: "ztunnel" | "waypoint";
  readonly reachable: boolean;
  /** Why the last scrape failed. */
  readonly error: string | null;
  readonly activeConnections: number | null;
  /** The proxy's own view of its xDS stream (ambit_xds_connected). */
  readonly xdsConnected: boolean | null;
  /** Identities it holds a certificate for, and the earliest expiry among them (unix ms). */
  readonly certificates: number | null;
  readonly nextCertificateExpiry: number | null;
  /** Mesh workloads the registry schedules on the node (ztunnels only). */
  readonly workloads: number | null;
}

export interface TopologyNode extends GraphNode {
  readonly waypoint: boolean;
}

export interface TrafficReport {
  readonly at: number;
  readonly intervalSeconds: number;
  readonly nodes: TopologyNode[];
  readonly edges: TrafficEdge[];
  readonly denials: Denial[];
  readonly proxies: ProxyState[];
}

export interface TrafficCollectorDeps {
  scrapeRound: () => Promise<ScrapeRound>;
  registry: () => Registry;
}

export class TrafficCollector {
  readonly #deps: TrafficCollectorDeps;
  /** Recent scrapes, oldest first: the window the rates span. */
  #history: TrafficScrape[] = [];
  #round: ScrapeRound | undefined;
  #denials: Denial[] = [];
  #edges: TrafficEdge[] = [];
  #graphNodes: GraphNode[] = [];
  #interval = 0;

  constructor(deps: TrafficCollectorDeps) {
    this.#deps = deps;
  }

  async report(): Promise<TrafficReport> {
    const round = await this.#deps.scrapeRound();
    if (this.#round === undefined || round.at > this.#round.at) this.#advance(round);
    const registry = this.#deps.registry();
    return {
      at: round.at,
      intervalSeconds: this.#interval,
      nodes: topology(registry, this.#graphNodes),
      edges: this.#edges,
      denials: this.#denials,
      proxies: proxyStates(round, registry),
    };
  }

  #advance(round: ScrapeRound): void {
    this.#round = round;
    const scrape: TrafficScrape = {
      at: round.at,
      targets: round.results.flatMap((r) =>
        r.samples === undefined ? [] : [{ target: r.node, kind: r.kind, samples: r.samples }],
      ),
    };
    const last = this.#history[this.#history.length - 1];
    // Keep the newest scrape older than the window too, so the window is always covered.
    while ((this.#history[1]?.at ?? Number.POSITIVE_INFINITY) <= scrape.at - RATE_WINDOW_MS)
      this.#history.shift();
    const first = this.#history[0];
    this.#history.push(scrape);
    const registry = this.#deps.registry();
    const options = {
      workloadOfPrincipal: (p: string) => workloadOfPrincipal(registry, p),
      workloadName: (ns: string, name: string) => ownerOf(registry, ns, name),
    };
    const graph = computeTraffic(first, scrape, options);
    this.#edges = graph.edges;
    this.#graphNodes = graph.nodes;
    this.#interval = graph.intervalSeconds;
    // Denials are counted between successive scrapes only, so each is listed once.
    const fresh = first === last ? graph.denials : computeTraffic(last, scrape, options).denials;
    this.#denials = [...fresh, ...this.#denials].slice(0, MAX_DENIALS);
  }
}

/**
 * A waypoint reports its caller by SPIFFE identity only; the workload is the one owner of the
 * registry's workloads running as that service account, when there is exactly one.
 */
export function workloadOfPrincipal(
  registry: Registry,
  principal: string,
): { namespace: string; name: string } | undefined {
  let id: SpiffeId;
  try {
    id = SpiffeId.parse(principal);
  } catch {
    return undefined;
  }
  const ns = id.namespace;
  const sa = id.serviceAccount;
  const names = new Set(
    registry.workloads
      .filter((w) => w.namespace === ns && w.serviceAccount === sa)
      .map((w) => w.owner ?? w.name),
  );
  const [only] = names;
  return names.size === 1 && only !== undefined ? { namespace: ns, name: only } : undefined;
}

/** A pod's Deployment when the registry knows the pod, else the name as reported. */
function ownerOf(registry: Registry, namespace: string, name: string): string {
  const w = registry.workloads.find((x) => x.namespace === namespace && x.name === name);
  return w?.owner ?? name;
}

/** Every mesh workload (by Deployment) and service, with traffic or not, plus the graph's own ends. */
function topology(registry: Registry, fromTraffic: readonly GraphNode[]): TopologyNode[] {
  const out = new Map<string, TopologyNode>();
  const waypoints = new Set<string>();
  for (const w of registry.workloads) {
    const name = w.owner ?? w.name;
    const id = `workload:${w.namespace}/${name}`;
    if (w.isWaypoint) waypoints.add(id);
    out.set(id, { id, namespace: w.namespace, name, kind: "workload", waypoint: w.isWaypoint });
  }
  for (const s of registry.services) {
    const id = `service:${s.namespace}/${s.name}`;
    out.set(id, { id, namespace: s.namespace, name: s.name, kind: "service", waypoint: false });
  }
  for (const n of fromTraffic) {
    if (!out.has(n.id)) out.set(n.id, { ...n, waypoint: waypoints.has(n.id) });
  }
  return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function proxyStates(round: ScrapeRound, registry: Registry): ProxyState[] {
  return round.results.map((r) => {
    const s = r.samples;
    const expiries = (s ?? []).filter((x) => x.name === "ambit_certificate_expiry_timestamp_seconds");
    return {
      name: r.node,
      kind: r.kind,
      reachable: s !== undefined,
      error: r.error ?? null,
      activeConnections: s ? sumOf(s, "ambit_active_connections") : null,
      xdsConnected: s ? sumOf(s, "ambit_xds_connected") > 0 : null,
      certificates: s ? expiries.length : null,
      nextCertificateExpiry: expiries.length > 0 ? Math.min(...expiries.map((x) => x.value)) * 1000 : null,
      workloads:
        r.kind === "ztunnel"
          ? registry.workloads.filter((w) => w.node === r.node && !w.isWaypoint).length
          : null,
    };
  });
}
