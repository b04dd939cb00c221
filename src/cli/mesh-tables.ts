/**
 * Text renderings of the mesh views (src/control/mesh-views.ts) and of a ztunnel's admin views, in
 * kubectl's habits: aligned columns, `<none>` for nothing, NAMESPACE first with `-A`; `-o wide`
 * adds columns. `describe` prints kubectl-describe's "Key: value" blocks. Pure: string in, string out.
 */
import type {
  AppliedPolicyView,
  PodDescription,
  PolicyView,
  ServiceDescription,
  ServicePortView,
  ServiceView,
  WaypointUse,
  WaypointView,
  WorkloadView,
} from "../control/mesh-views.js";
import type { LiveConnectionView } from "../ztunnel/connections.js";
import { table } from "./admin-client.js";

/** `-o json` of a view list: a versioned envelope, so scripts can rely on the shape (docs/cli.md). */
export function viewList<T>(
  kind: string,
  items: readonly T[],
): { apiVersion: string; kind: string; items: readonly T[] } {
  return { apiVersion: "ambit.dev/v1", kind, items };
}

/** Prepends the NAMESPACE cell when listing across namespaces (`-A`), as kubectl does. */
export function withNs(allNs: boolean, ns: string | undefined, cells: string[]): string[] {
  return allNs ? [ns ?? "", ...cells] : cells;
}

function orNone(v: string | null | undefined, none = "<none>"): string {
  return v === null || v === undefined || v === "" ? none : v;
}

function list(xs: readonly string[]): string {
  return xs.length === 0 ? "<none>" : xs.join(",");
}

function waypointName(w: WaypointUse | null): string {
  return w === null ? "<none>" : w.name;
}

const ENROLLMENT_TEXT = { ambient: "ambient", monitor: "monitor", none: "not enrolled" } as const;

export function workloadsTable(items: readonly WorkloadView[], allNs: boolean, wide: boolean): string {
  const header = withNs(allNs, "NAMESPACE", [
    "NAME",
    "ADDRESS",
    "NODE",
    "ENROLLMENT",
    "WAYPOINT",
    "PROTOCOL",
  ]);
  if (wide) header.push("IDENTITY", "SERVICES");
  return table(
    header,
    items.map((w) => {
      const row = withNs(allNs, w.namespace, [
        w.name,
        orNone(w.ip),
        orNone(w.node),
        w.isWaypoint ? "waypoint" : ENROLLMENT_TEXT[w.enrollment],
        waypointName(w.waypoint),
        w.protocol,
      ]);
      if (wide) row.push(w.identity, list(w.services));
      return row;
    }),
  );
}

/** `8080/HTTP`, `3306/MySQL`, `9000/auto`: the port and the application protocol the mesh uses on it. */
export function portText(p: ServicePortView): string {
  return `${p.port}/${p.protocol}`;
}

export function servicesTable(items: readonly ServiceView[], allNs: boolean, wide: boolean): string {
  const header = withNs(allNs, "NAMESPACE", ["NAME", "VIP", "PORTS", "ENDPOINTS", "WAYPOINT"]);
  if (wide) header.push("HOSTNAME", "PROTOCOL-FROM");
  return table(
    header,
    items.map((s) => {
      const row = withNs(allNs, s.namespace, [
        s.name,
        orNone(s.vip, "None"),
        list(s.ports.map(portText)),
        String(s.endpoints.length),
        waypointName(s.waypoint),
      ]);
      if (wide) row.push(s.hostname, list(s.ports.map((p) => `${p.port}:${p.protocolFrom}`)));
      return row;
    }),
  );
}

function enforcedText(p: PolicyView): string {
  if (p.enforcedAt === "none") return "not enforced";
  return `${p.enforcedAt} (${p.layer ?? ""})`;
}

function attachText(p: PolicyView): string {
  if (p.targets.length > 0) return p.targets.join(",");
  if (p.selector !== null)
    return (
      Object.entries(p.selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "<all>"
    );
  return "<all>";
}

export function policiesTable(items: readonly PolicyView[], allNs: boolean, wide: boolean): string {
  const header = withNs(allNs, "NAMESPACE", ["KIND", "NAME", "SCOPE", "ACTION", "ENFORCED-AT", "WARNINGS"]);
  if (wide) header.push("SELECTOR/TARGETS", "DRY-RUN");
  return table(
    header,
    items.map((p) => {
      const row = withNs(allNs, p.namespace, [
        p.kind,
        p.name,
        p.scope,
        p.action,
        enforcedText(p),
        String(p.warnings.length),
      ]);
      if (wide) row.push(attachText(p), p.dryRun ? "yes" : "no");
      return row;
    }),
  );
}

export function waypointsTable(items: readonly WaypointView[], allNs: boolean, wide: boolean): string {
  const header = withNs(allNs, "NAMESPACE", ["NAME", "FOR", "READY", "POD", "NODE", "SERVICES"]);
  if (wide) header.push("VIP", "NAMESPACES", "WORKLOADS");
  return table(
    header,
    items.map((w) => {
      const row = withNs(allNs, w.namespace, [
        w.name,
        w.for,
        w.ready ? "True" : "False",
        orNone(w.pod),
        orNone(w.node),
        list(w.services),
      ]);
      if (wide) row.push(orNone(w.vip), list(w.namespaces), list(w.workloads));
      return row;
    }),
  );
}

/** kubectl describe's aligned "Key:  value" lines. */
function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join("");
}

function indent(text: string, by = "  "): string {
  return text
    .split("\n")
    .map((l) => (l === "" ? l : by + l))
    .join("\n");
}

function labelsText(labels: Record<string, string>): string {
  const e = Object.entries(labels);
  return e.length === 0 ? "<none>" : e.map(([k, v]) => `${k}=${v}`).join(",");
}

function policiesBlock(policies: readonly AppliedPolicyView[]): string {
  if (policies.length === 0)
    return "Policies:  <none> (no AuthorizationPolicy applies: everything is allowed)\n";
  const rows = table(
    ["NAME", "ACTION", "ENFORCED-AT", "EFFECT"],
    policies.map((p) => [
      `${p.namespace}/${p.name}`,
      p.dryRun ? `${p.action} (dry-run)` : p.action,
      p.enforcedAt === "waypoint" ? `waypoint ${p.waypoint ?? ""} (L7)` : "ztunnel (L4)",
      p.effect,
    ]),
  );
  const warnings = policies.flatMap((p) => p.warnings.map((w) => `Warning: ${w}`));
  return `Policies:\n${indent(rows)}${warnings.length > 0 ? `${indent(warnings.join("\n"))}\n` : ""}`;
}

function eventsBlock(events: PodDescription["events"]): string {
  if (events.length === 0) return "Events:  <none>\n";
  return `Events:\n${indent(
    table(
      ["TYPE", "REASON", "MESSAGE"],
      events.map((e) => [e.type, e.reason, e.message]),
    ),
  )}`;
}

export function describePodText(d: PodDescription): string {
  const w = d.workload;
  const head = fields([
    ["Name", w.name],
    ["Namespace", w.namespace],
    [
      "Kind",
      w.owner === null ? w.kind : `${w.kind} (of ${w.isWaypoint ? "Gateway" : "Deployment"} ${w.owner})`,
    ],
    ["Status", w.phase],
    ["Node", orNone(w.node)],
    ["IP", orNone(w.ip)],
    ["Service Account", w.serviceAccount],
    ["Identity", w.identity],
    ["Labels", labelsText(d.labels)],
    ["Enrollment", `${ENROLLMENT_TEXT[w.enrollment]} (${d.enrollmentReason})`],
    ["Protocol", w.protocol],
    [
      "mTLS",
      `${d.mtls.mode} (${d.mtls.policy === null ? "default: no PeerAuthentication applies" : `${d.mtls.level} PeerAuthentication ${d.mtls.policy}`})`,
    ],
    [
      "Services",
      d.services.length === 0
        ? "<none>"
        : d.services.map((s) => `${s.name} (${orNone(s.vip, "None")})`).join(", "),
    ],
  ]);
  const waypoints =
    d.waypoints.length === 0
      ? "Waypoints:  <none> (ztunnel tunnels traffic straight to the pod)\n"
      : `Waypoints:\n${indent(
          table(
            ["WAYPOINT", "FOR", "WHY"],
            d.waypoints.map((x) => [`${x.namespace}/${x.name}`, x.for, x.reason]),
          ),
        )}`;
  return head + waypoints + policiesBlock(d.policies) + eventsBlock(d.events);
}

export function describeServiceText(d: ServiceDescription): string {
  const s = d.service;
  const head = fields([
    ["Name", s.name],
    ["Namespace", s.namespace],
    ["Kind", s.kind],
    ["Hostname", s.hostname],
    ["VIP", orNone(s.vip, "None")],
    ["Labels", labelsText(d.labels)],
    [
      "Ports",
      s.ports.length === 0
        ? "<none>"
        : s.ports
            .map(
              (p) =>
                `${p.name ?? "<unnamed>"} ${p.port}→${p.targetPort}/${p.transport} ${p.protocol} (${p.protocolFrom})`,
            )
            .join(", "),
    ],
    [
      "Waypoint",
      s.waypoint === null
        ? `<none> (${d.waypointReason})`
        : `${s.waypoint.namespace}/${s.waypoint.name} (${d.waypointReason})`,
    ],
  ]);
  const endpoints =
    d.endpoints.length === 0
      ? "Endpoints:  <none>\n"
      : `Endpoints:\n${indent(
          table(
            ["NAME", "IP", "NODE", "ENROLLMENT", "IDENTITY"],
            d.endpoints.map((e) => [
              e.name,
              orNone(e.ip),
              orNone(e.node),
              ENROLLMENT_TEXT[e.enrollment],
              e.identity,
            ]),
          ),
        )}`;
  return head + endpoints + policiesBlock(d.policies) + eventsBlock(d.events);
}

// ---------------------------------------------------------------- ztunnel-config

export interface ZtunnelWorkloadRow {
  namespace: string;
  name: string;
  addresses: string[];
  node: string;
  identity: string;
  protocol: string;
  mode: string;
  waypoint: string | null;
  local: boolean;
}

export interface ZtunnelCertificateRow {
  identity: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  secondsLeft: number;
  state: string;
}

export interface ZtunnelPolicyRow {
  namespace: string;
  name: string;
  scope: string;
  action: string;
  rules: number;
}

/** `1h2m`, `59m59s`, `12s`: kubectl's AGE style. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s % 60}s`;
  return `${s}s`;
}

export function ztWorkloadsTable(rows: readonly ZtunnelWorkloadRow[], wide: boolean): string {
  const header = ["NAMESPACE", "POD-NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"];
  if (wide) header.push("IDENTITY", "MODE", "LOCAL");
  return table(
    header,
    rows.map((w) => {
      const row = [w.namespace, w.name, list(w.addresses), w.node, w.waypoint ?? "None", w.protocol];
      if (wide) row.push(w.identity, w.mode, w.local ? "yes" : "no");
      return row;
    }),
  );
}

export function ztCertificatesTable(rows: readonly ZtunnelCertificateRow[], wide: boolean): string {
  const header = ["IDENTITY", "STATE", "SERIAL", "NOT-AFTER", "TIME-LEFT"];
  if (wide) header.push("NOT-BEFORE");
  return table(
    header,
    rows.map((c) => {
      const row = [c.identity, c.state, c.serial, c.notAfter, duration(c.secondsLeft)];
      if (wide) row.push(c.notBefore);
      return row;
    }),
  );
}

export function ztPoliciesTable(rows: readonly ZtunnelPolicyRow[]): string {
  return table(
    ["NAMESPACE", "POLICY-NAME", "ACTION", "SCOPE", "RULES"],
    rows.map((p) => [p.namespace, p.name, p.action.toUpperCase(), p.scope.toUpperCase(), String(p.rules)]),
  );
}

function endpointText(addr: string, workload: string | undefined, namespace: string | undefined): string {
  return workload === undefined ? addr : `${namespace ?? ""}/${workload} (${addr})`;
}

export function ztConnectionsTable(rows: readonly LiveConnectionView[], wide: boolean): string {
  // Byte columns by direction of flow: what the source sent towards the destination, and back.
  const header = ["DIRECTION", "SOURCE", "DESTINATION", "VIA", "BYTES-SRC>DST", "BYTES-DST>SRC", "AGE"];
  if (wide) header.push("SRC-IDENTITY", "DST-IDENTITY", "WAYPOINT", "ID");
  return table(
    header,
    rows.map((c) => {
      const row = [
        c.direction,
        endpointText(c.src.address, c.src.workload, c.src.namespace),
        endpointText(c.dst.address, c.dst.workload, c.dst.namespace),
        c.via,
        String(c.bytes.received),
        String(c.bytes.sent),
        duration(c.ageSeconds),
      ];
      if (wide)
        row.push(orNone(c.src.identity), orNone(c.dst.identity), orNone(c.dst.waypoint), c.id.slice(0, 12));
      return row;
    }),
  );
}
