/**
 * The dashboard page: a Cytoscape graph of the mesh (namespaces as compound nodes, edges labelled
 * with requests/s and error rate, coloured by error rate, a lock for mTLS), the health score and
 * its indicators, certificate expiry, recent denials and the data-plane proxies. Data arrives as
 * `snapshot` server-sent events from /events; the layout is recomputed only when the topology
 * changes, so a live update does not make the graph jump.
 */
import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import type { TopologyNode } from "../../control/traffic-collector.js";
import type { TrafficEdge } from "../../control/traffic-model.js";
import type { DashboardSnapshot } from "../snapshot.js";

declare global {
  interface Window {
    /** For tests and curious operators: the graph and the last snapshot. */
    ambitDashboard?: { cy: Core; snapshot: DashboardSnapshot | undefined; updates: number };
  }
}

const css = (name: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

const cy = cytoscape({
  container: $("graph"),
  wheelSensitivity: 0.3,
  minZoom: 0.3,
  maxZoom: 2.5,
  style: [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "font-size": 11,
        color: css("--text"),
        "text-valign": "bottom",
        "text-margin-y": 4,
        "background-color": css("--accent"),
        width: 26,
        height: 26,
        "border-width": 2,
        "border-color": css("--card"),
      },
    },
    { selector: 'node[kind = "service"]', style: { shape: "round-diamond", "background-color": "#7b61d1" } },
    { selector: "node[?waypoint]", style: { shape: "hexagon", "background-color": "#2f9c95" } },
    { selector: 'node[kind = "unknown"]', style: { "background-color": css("--idle") } },
    {
      selector: ":parent",
      style: {
        label: "data(label)",
        "text-valign": "top",
        "text-halign": "center",
        "text-margin-y": -4,
        "font-size": 12,
        "font-weight": "bold",
        color: css("--muted"),
        "background-color": css("--accent"),
        "background-opacity": 0.06,
        "border-width": 1,
        "border-style": "dashed",
        "border-color": css("--line"),
        shape: "round-rectangle",
        padding: "18px",
      },
    },
    {
      selector: "edge",
      style: {
        width: "data(width)",
        "line-color": "data(color)",
        "target-arrow-color": "data(color)",
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        label: "data(label)",
        "font-size": 10,
        color: css("--text"),
        "text-background-color": css("--card"),
        "text-background-opacity": 0.85,
        "text-background-padding": "2px",
        "text-rotation": "autorotate",
      },
    },
  ],
});

const state: { snapshot: DashboardSnapshot | undefined; shape: string; updates: number } = {
  snapshot: undefined,
  shape: "",
  updates: 0,
};
window.ambitDashboard = { cy, snapshot: undefined, updates: 0 };

function edgeColor(e: TrafficEdge): string {
  if (e.rps === 0 && e.errorsPerSecond === 0) return css("--idle");
  if (e.errorRate >= 0.05) return css("--bad");
  if (e.errorRate >= 0.01) return css("--warn");
  return css("--ok");
}

function edgeLabel(e: TrafficEdge): string {
  const lock = e.mtls === "mutual_tls" ? "🔒 " : e.mtls === "mixed" ? "◐ " : "";
  const err = e.errorRate > 0 ? ` · ${(e.errorRate * 100).toFixed(1)}% err` : "";
  return `${lock}${e.rps.toFixed(2)} ${e.protocol === "http" ? "rps" : "cps"}${err}`;
}

function elements(nodes: readonly TopologyNode[], edges: readonly TrafficEdge[]): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const namespaces = new Set(nodes.filter((n) => n.kind !== "unknown").map((n) => n.namespace));
  for (const ns of namespaces)
    out.push({ group: "nodes", data: { id: `ns:${ns}`, label: ns, kind: "namespace" } });
  for (const n of nodes) {
    out.push({
      group: "nodes",
      data: {
        id: n.id,
        label: n.kind === "service" ? `${n.name} (svc)` : n.name,
        kind: n.kind,
        namespace: n.namespace,
        waypoint: n.waypoint,
        ...(n.kind !== "unknown" ? { parent: `ns:${n.namespace}` } : {}),
      },
    });
  }
  const max = Math.max(1, ...edges.map((e) => e.rps));
  for (const e of edges) {
    out.push({
      group: "edges",
      data: {
        id: e.id,
        source: e.source,
        target: e.destination,
        label: edgeLabel(e),
        color: edgeColor(e),
        width: 1.5 + 4 * Math.sqrt(e.rps / max),
        rps: e.rps,
        errorRate: e.errorRate,
        mtls: e.mtls,
      },
    });
  }
  return out;
}

/**
 * Left to right in the direction of traffic: a node's column is its longest path from a caller;
 * nodes without traffic sit in a row underneath. Deterministic, so a reload draws the same picture.
 */
function layered(
  nodes: readonly TopologyNode[],
  edges: readonly TrafficEdge[],
): Map<string, { x: number; y: number }> {
  const linked = new Set(edges.flatMap((e) => [e.source, e.destination]));
  const column = new Map<string, number>();
  for (const id of linked) column.set(id, 0);
  // Longest-path layering; bounded by the node count so a cycle cannot loop forever.
  for (let round = 0; round < linked.size; round++) {
    let changed = false;
    for (const e of edges) {
      if (e.source === e.destination) continue;
      const next = (column.get(e.source) ?? 0) + 1;
      if (next > (column.get(e.destination) ?? 0) && next < linked.size) {
        column.set(e.destination, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const byColumn = new Map<number, TopologyNode[]>();
  const idle: TopologyNode[] = [];
  for (const n of nodes) {
    const c = column.get(n.id);
    if (c === undefined) idle.push(n);
    else byColumn.set(c, [...(byColumn.get(c) ?? []), n]);
  }
  const out = new Map<string, { x: number; y: number }>();
  let rows = 0;
  for (const [c, list] of byColumn) {
    list.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    for (const [i, n] of list.entries())
      out.set(n.id, { x: c * 210, y: i * 95 - ((list.length - 1) * 95) / 2 });
    rows = Math.max(rows, list.length);
  }
  idle.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const top = rows * 48 + 70;
  for (const [i, n] of idle.entries()) out.set(n.id, { x: (i % 6) * 150, y: top + Math.floor(i / 6) * 80 });
  return out;
}

function renderGraph(s: DashboardSnapshot): void {
  const els = elements(s.traffic.nodes, s.traffic.edges);
  const shape = els
    .map((e) => String(e.data.id))
    .sort()
    .join("|");
  if (shape !== state.shape) {
    state.shape = shape;
    cy.elements().remove();
    cy.add(els);
    const positions = layered(s.traffic.nodes, s.traffic.edges);
    cy.layout({
      name: "preset",
      positions: Object.fromEntries(positions),
      padding: 30,
    }).run();
    cy.fit(undefined, 30);
    return;
  }
  cy.batch(() => {
    for (const e of els) cy.getElementById(String(e.data.id)).data(e.data);
  });
}

function text(tag: string, content: string, cls?: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls !== undefined) el.className = cls;
  return el;
}

function tableOf(head: readonly string[], rows: readonly (readonly (string | HTMLElement)[])[]): HTMLElement {
  const t = document.createElement("table");
  const tr = document.createElement("tr");
  for (const h of head) tr.append(text("th", h));
  const thead = document.createElement("thead");
  thead.append(tr);
  const tbody = document.createElement("tbody");
  for (const r of rows) {
    const row = document.createElement("tr");
    for (const c of r) {
      const td = document.createElement("td");
      td.append(c);
      row.append(td);
    }
    tbody.append(row);
  }
  t.append(thead, tbody);
  return t;
}

function pill(label: string, cls: string): HTMLElement {
  return text("span", label, `pill ${cls}`);
}

function renderHealth(s: DashboardSnapshot): void {
  const score = $("score-value");
  const box = $("health");
  if (!s.health) {
    score.textContent = "?";
    score.className = "score-value";
    box.replaceChildren(text("div", `no health report: ${s.healthError ?? "unknown error"}`, "empty"));
    return;
  }
  const worst = s.health.indicators.reduce(
    (w, i) => (RANK[i.state] > RANK[w] ? i.state : w),
    "ok" as keyof typeof RANK,
  );
  score.textContent = String(s.health.score);
  score.className = `score-value ${worst}`;
  box.replaceChildren(
    tableOf(
      ["indicator", "value", "state", "action"],
      s.health.indicators.map((i) => [
        i.name.replaceAll("_", " "),
        i.value === null ? "–" : `${i.value}${UNITS[i.name] ?? ""}`,
        pill(i.state, i.state),
        i.action,
      ]),
    ),
  );
}

const RANK = { ok: 0, notice: 1, warning: 2, critical: 3 } as const;
const UNITS: Record<string, string> = {
  certificate_expiry: " h",
  pool_hit_rate: " %",
  hbone_error_rate: " %",
  zone_imbalance: " %",
  config_freshness: " behind",
};

function short(id: string): string {
  return id.replace(/^workload:/, "").replace(/^service:(.*)$/, "svc/$1");
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

function renderDenials(s: DashboardSnapshot): void {
  const d = s.traffic.denials;
  $("denials").replaceChildren(
    d.length === 0
      ? text("div", "no denials seen since the dashboard started", "empty")
      : tableOf(
          ["when", "reason", "source → destination", "n", "by"],
          d.map((x) => [
            `${ago(s.at - x.at)} ago`,
            pill(x.reason, "critical"),
            `${short(x.source)} → ${short(x.destination)}`,
            String(x.count),
            x.by,
          ]),
        ),
  );
}

function renderCerts(s: DashboardSnapshot): void {
  const box = $("certs");
  if (s.certificates.length === 0) {
    box.replaceChildren(text("div", "no certificates issued yet", "empty"));
    return;
  }
  box.replaceChildren(
    ...s.certificates.slice(0, 40).map((c) => {
      const life = Math.max(1, c.notAfter - c.notBefore);
      const left = c.notAfter - s.at;
      const frac = Math.min(1, Math.max(0, left / life));
      const row = document.createElement("div");
      row.className = "cert";
      const track = document.createElement("div");
      track.className = "track";
      const fill = document.createElement("div");
      fill.className = `fill ${frac < 0.2 ? "bad" : frac < 0.5 ? "warn" : ""}`;
      fill.style.width = `${(frac * 100).toFixed(1)}%`;
      track.append(fill);
      const name = text("div", c.name, "cert-name");
      name.title = `${c.name}\nvalid ${new Date(c.notBefore).toISOString()} → ${new Date(c.notAfter).toISOString()}`;
      row.append(name, track, text("div", left > 0 ? `in ${ago(left)}` : "expired", "cert-left"));
      return row;
    }),
  );
}

function renderProxies(s: DashboardSnapshot): void {
  const p = s.traffic.proxies;
  $("proxies").replaceChildren(
    p.length === 0
      ? text("div", "no ztunnel to scrape (is a local cluster up?)", "empty")
      : tableOf(
          ["proxy", "state", "xDS", "conns", "workloads", "certs", "next expiry"],
          p.map((x) => [
            x.name,
            x.reachable ? pill("up", "ok") : pill("unreachable", "critical"),
            x.xdsConnected === null
              ? "–"
              : x.xdsConnected
                ? pill("connected", "ok")
                : pill("down", "warning"),
            x.activeConnections === null ? "–" : String(x.activeConnections),
            x.workloads === null ? "–" : String(x.workloads),
            x.certificates === null ? "–" : String(x.certificates),
            x.nextCertificateExpiry === null ? "–" : `in ${ago(x.nextCertificateExpiry - s.at)}`,
          ]),
        ),
  );
}

function render(s: DashboardSnapshot): void {
  state.snapshot = s;
  state.updates += 1;
  renderGraph(s);
  renderHealth(s);
  renderDenials(s);
  renderCerts(s);
  renderProxies(s);
  $("updated").textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
  window.ambitDashboard = { cy, snapshot: s, updates: state.updates };
}

function connect(): void {
  const dot = $("live-dot");
  const events = new EventSource("/events");
  events.addEventListener("snapshot", (m) => {
    dot.className = "dot live";
    render(JSON.parse((m as MessageEvent<string>).data) as DashboardSnapshot);
  });
  // EventSource reconnects by itself; the dot shows the gap.
  events.onerror = () => {
    dot.className = "dot";
    $("updated").textContent = "reconnecting…";
  };
}

connect();
