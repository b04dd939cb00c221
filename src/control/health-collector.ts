/**
 * The control plane's side of the mesh health model: it gathers the inputs of
 * `assessHealth` — ztunnels' /metrics (scraped over HTTP), the xDS server's ACK/NACK state, the
 * certificates the CA issued that are still in use and the CA's own chain — and exposes the
 * result on `/v1/health` and as `ambit_mesh_health_*` gauges. Reports are computed on demand and
 * cached briefly, so a dashboard polling every second does not scrape every node every time.
 */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { Gauge, Registry as PromRegistry } from "prom-client";
import { SpiffeId } from "../identity/spiffe.js";
import {
  assessHealth,
  type CertificateInput,
  HEALTH_STATES,
  type HealthReport,
  type HealthThresholds,
  type NodeConfigInput,
  type ZoneInput,
} from "../telemetry/health/model.js";
import {
  DEFAULT_PARSE_LIMITS,
  parsePrometheusText,
  type Sample,
} from "../telemetry/health/prometheus-text.js";
import { type ZtunnelCounters, ztunnelCounters } from "../telemetry/health/ztunnel-counters.js";
import type { TypeStatus } from "../xds/delta-stream.js";
import type { ControlLogger } from "./log.js";
import type { Registry } from "./registry.js";

/** ztunnel's Prometheus port (DESIGN §2). */
export const ZTUNNEL_METRICS_PORT = 15020;

export interface ScrapeTarget {
  readonly node: string;
  /** `http://<node address>:15020/metrics`. */
  readonly url: string;
  /** Waypoints are scraped for the traffic graph only; the health indicators read ztunnels. Default ztunnel. */
  readonly kind?: "ztunnel" | "waypoint";
}

/** One target's answer in a scrape round: its parsed samples, or why it had none. */
export interface ScrapeResult {
  readonly node: string;
  readonly kind: "ztunnel" | "waypoint";
  readonly url: string;
  readonly samples: readonly Sample[] | undefined;
  readonly error: string | undefined;
}

/** Every target scraped at `at` (unix ms); the traffic graph rates two successive rounds. */
export interface ScrapeRound {
  readonly at: number;
  readonly results: readonly ScrapeResult[];
}

/** One leaf the CA signed, as the issuance hook reports it. */
export interface IssuedLeaf {
  /** The data-plane caller that asked: `node/<name>` or `waypoint/<ns>/<name>`. */
  readonly caller: string;
  /** Set when a node asked; its workloads' identities must still be scheduled there to count. */
  readonly node: string | undefined;
  readonly identity: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface XdsClientView {
  readonly caller: { readonly id: string };
  readonly types: readonly TypeStatus[];
}

export interface HealthCollectorDeps {
  registry: () => Registry;
  xdsClients: () => readonly XdsClientView[];
  /** PEMs of the CA's own certificates: its signing certificate, intermediates and root. */
  caCertificates: () => readonly string[];
  targets: () => Promise<readonly ScrapeTarget[]>;
  log: ControlLogger;
  now?: () => number;
  /** How long a report is reused; 1.5 s by default. */
  cacheMs?: number;
  scrapeTimeoutMs?: number;
  /** A push younger than this is not yet "behind": the node is still applying it. */
  ackGraceMs?: number;
  thresholds?: Partial<HealthThresholds>;
}

const DEFAULT_CACHE_MS = 1500;
const DEFAULT_SCRAPE_TIMEOUT_MS = 2000;
const DEFAULT_ACK_GRACE_MS = 5000;
/** Per (caller, identity) only the newest leaf is kept, so this bounds memory at the mesh's size. */
const MAX_LOG_ENTRIES = 100_000;

export class HealthCollector {
  readonly metrics: PromRegistry;
  readonly #deps: HealthCollectorDeps;
  readonly #now: () => number;
  readonly #issued = new Map<string, IssuedLeaf>();
  readonly #score: Gauge<string>;
  readonly #value: Gauge<"indicator">;
  readonly #state: Gauge<"indicator">;
  #cached: { at: number; report: Promise<HealthReport>; round: Promise<ScrapeRound> } | undefined;

  constructor(deps: HealthCollectorDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.metrics = new PromRegistry();
    const registers = [this.metrics];
    this.#score = new Gauge({
      name: "ambit_mesh_health_score",
      help: "Mesh health score, 0-100 (docs/health.md).",
      registers,
    });
    this.#value = new Gauge({
      name: "ambit_mesh_health_indicator_value",
      help: "Value of each health indicator in its own unit (hours, percent, nodes); absent without data.",
      labelNames: ["indicator"],
      registers,
    });
    this.#state = new Gauge({
      name: "ambit_mesh_health_indicator_state",
      help: "State of each health indicator: 0 ok, 1 notice, 2 warning, 3 critical.",
      labelNames: ["indicator"],
      registers,
    });
  }

  /** The CA's issuance hook: a newer leaf for the same caller and identity replaces the older one. */
  recordIssued(leaf: IssuedLeaf): void {
    const key = `${leaf.caller}|${leaf.identity}`;
    this.#issued.delete(key);
    this.#issued.set(key, leaf);
    if (this.#issued.size > MAX_LOG_ENTRIES) {
      const oldest = this.#issued.keys().next().value;
      if (oldest !== undefined) this.#issued.delete(oldest);
    }
  }

  /**
   * Leaves whose identity is still scheduled on the node that asked; a waypoint's while that
   * waypoint holds an xDS stream (a removed waypoint's last leaf must not expire into an alarm).
   */
  leavesInUse(): IssuedLeaf[] {
    const workloads = this.#deps.registry().workloads;
    const scheduled = new Set(workloads.map((w) => `${w.node ?? ""}|${w.namespace}|${w.serviceAccount}`));
    const connected = new Set(this.#deps.xdsClients().map((c) => c.caller.id));
    return [...this.#issued.values()].filter((l) => {
      if (l.node === undefined) return connected.has(l.caller);
      try {
        const id = SpiffeId.parse(l.identity);
        return scheduled.has(`${l.node}|${id.namespace}|${id.serviceAccount}`);
      } catch {
        return false;
      }
    });
  }

  /** The current report, reused for `cacheMs`. */
  report(): Promise<HealthReport> {
    return this.#refresh().report;
  }

  /** The scrape round behind the current report (same cache): the parsed samples of every target. */
  scrapeRound(): Promise<ScrapeRound> {
    return this.#refresh().round;
  }

  #refresh(): { report: Promise<HealthReport>; round: Promise<ScrapeRound> } {
    const now = this.#now();
    if (this.#cached && now - this.#cached.at < (this.#deps.cacheMs ?? DEFAULT_CACHE_MS)) {
      return this.#cached;
    }
    const round = this.#scrapeAll(now);
    const report = round.then((r) => this.#compute(now, r));
    const cached = { at: now, report, round };
    this.#cached = cached;
    // A failed computation must not be served from the cache.
    report.catch(() => {
      if (this.#cached?.report === report) this.#cached = undefined;
    });
    return cached;
  }

  async #scrapeAll(now: number): Promise<ScrapeRound> {
    const targets = await this.#deps.targets();
    return { at: now, results: await Promise.all(targets.map((t) => this.#scrape(t))) };
  }

  /** Prometheus text of the health gauges, refreshed first. */
  async metricsText(): Promise<{ contentType: string; text: string }> {
    await this.report();
    return { contentType: this.metrics.contentType, text: await this.metrics.metrics() };
  }

  #compute(now: number, round: ScrapeRound): HealthReport {
    const registry = this.#deps.registry();
    const counters: { node: string; counters: ZtunnelCounters }[] = round.results.flatMap((r) =>
      r.kind === "ztunnel" && r.samples !== undefined
        ? [{ node: r.node, counters: ztunnelCounters(r.samples) }]
        : [],
    );
    const zoneOfNode = new Map(registry.nodes.map((n) => [n.name, n.zone]));
    const zones = new Map<string, { connections: number; endpoints: number }>();
    const zone = (name: string): { connections: number; endpoints: number } => {
      let z = zones.get(name);
      if (!z) {
        z = { connections: 0, endpoints: 0 };
        zones.set(name, z);
      }
      return z;
    };
    for (const w of registry.workloads) {
      // Endpoints are running, addressed, non-waypoint workloads on a node with a zone label.
      if (w.phase !== "Running" || w.ip === undefined || w.isWaypoint || w.zone === "") continue;
      zone(w.zone).endpoints += 1;
    }
    for (const c of counters) {
      const z = zoneOfNode.get(c.node);
      if (z !== undefined && z !== "") zone(z).connections += c.counters.inboundConnections;
    }
    const zoneInputs: ZoneInput[] = [...zones].map(([name, z]) => ({ zone: name, ...z }));
    const report = assessHealth(
      {
        now,
        certificates: this.certificates(),
        poolHits: sum(counters, (c) => c.poolHits),
        poolMisses: sum(counters, (c) => c.poolMisses),
        hboneAttempts: sum(counters, (c) => c.poolHits + c.poolMisses),
        hboneErrors: sum(counters, (c) => c.handshakeErrors),
        zones: zoneInputs,
        nodes: this.#configState(now),
      },
      this.#deps.thresholds,
    );
    this.#publish(report);
    return report;
  }

  /** Leaves in use and the CA's own certificates, with their validity (the dashboard's timeline). */
  certificates(): CertificateInput[] {
    const out: CertificateInput[] = this.leavesInUse().map((l) => ({
      name: `${l.identity} (serial ${l.serial})`,
      notBefore: l.notBefore.getTime(),
      notAfter: l.notAfter.getTime(),
    }));
    for (const pem of this.#deps.caCertificates()) {
      const c = new X509Certificate(pem);
      out.push({
        name: `CA ${c.subject}`,
        notBefore: Date.parse(c.validFrom),
        notAfter: Date.parse(c.validTo),
      });
    }
    return out;
  }

  #configState(now: number): NodeConfigInput[] {
    const grace = this.#deps.ackGraceMs ?? DEFAULT_ACK_GRACE_MS;
    return this.#deps.xdsClients().map((c) => ({
      node: c.caller.id,
      behind: c.types.some(
        (t) =>
          t.nack !== undefined ||
          (t.lastSent !== undefined &&
            t.lastAcked?.version !== t.lastSent.version &&
            now - t.lastSent.at > grace),
      ),
    }));
  }

  #publish(report: HealthReport): void {
    this.#score.set(report.score);
    this.#value.reset();
    for (const i of report.indicators) {
      if (i.value !== null) this.#value.set({ indicator: i.name }, i.value);
      this.#state.set({ indicator: i.name }, HEALTH_STATES.indexOf(i.state));
    }
  }

  async #scrape(t: ScrapeTarget): Promise<ScrapeResult> {
    const base = { node: t.node, kind: t.kind ?? "ztunnel", url: t.url };
    try {
      const text = await httpGetText(t.url, this.#deps.scrapeTimeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS);
      return { ...base, samples: parsePrometheusText(text), error: undefined };
    } catch (e) {
      // A node that cannot be scraped drops out of the traffic indicators; `ambit status` shows why.
      this.#deps.log.warn({ node: t.node, url: t.url, err: (e as Error).message }, "health scrape failed");
      return { ...base, samples: undefined, error: (e as Error).message };
    }
  }
}

function sum<T>(xs: readonly { counters: T }[], f: (c: T) => number): number {
  return xs.reduce((a, x) => a + f(x.counters), 0);
}

function httpGetText(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url} answered ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > DEFAULT_PARSE_LIMITS.maxBytes) {
          req.destroy(new Error(`${url} sent more than ${DEFAULT_PARSE_LIMITS.maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Scrape targets of a local cluster (`ambit up`): every node recorded in `<home>/cluster.json`,
 * at its address on port 15020. Without that file (no local cluster) there is nothing to scrape.
 */
export function localClusterTargets(home: string): () => Promise<ScrapeTarget[]> {
  return async () => {
    let text: string;
    try {
      text = await readFile(join(home, "cluster.json"), "utf8");
    } catch {
      return [];
    }
    try {
      const state = JSON.parse(text) as { nodes?: { name?: unknown; ip?: unknown }[] };
      return (state.nodes ?? []).flatMap((n) =>
        typeof n.name === "string" && typeof n.ip === "string"
          ? [{ node: n.name, url: `http://${n.ip}:${ZTUNNEL_METRICS_PORT}/metrics` }]
          : [],
      );
    } catch {
      return [];
    }
  };
}

/**
 * The waypoints of the registry as scrape targets (their pod address, port 15020), named
 * `waypoint/<namespace>/<name>`: the traffic graph's only source of L7 figures.
 */
export function waypointTargets(registry: () => Registry): () => ScrapeTarget[] {
  return () =>
    registry().workloads.flatMap((w) =>
      w.isWaypoint && w.phase === "Running" && w.ip !== undefined
        ? [
            {
              node: `waypoint/${w.namespace}/${w.owner ?? w.name}`,
              url: `http://${w.ip.includes(":") ? `[${w.ip}]` : w.ip}:${ZTUNNEL_METRICS_PORT}/metrics`,
              kind: "waypoint" as const,
            },
          ]
        : [],
    );
}
