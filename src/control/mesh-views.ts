/**
 * The mesh as an operator reads it (`ambit get workloads|services|policies|waypoints`, `ambit
 * describe`): pure functions from the registry snapshot and the stored objects to stable JSON
 * documents. Where a policy is enforced follows Istio's ambient rules: an AuthorizationPolicy with
 * `targetRefs` (a Service, ServiceEntry or waypoint Gateway) is enforced by the waypoint at L7; one
 * with a `selector`, or none (namespace- or mesh-wide), by the destination's ztunnel at L4, where
 * HTTP attributes are out of reach (an ALLOW rule using them never matches, a DENY rule is enforced
 * on its L4 parts only) and AUDIT is ignored. PeerAuthentication is enforced by ztunnel.
 */
import type { ResourceBase } from "../api/types.js";
import {
  compilePolicies,
  DEFAULT_ROOT_NAMESPACE,
  type EffectiveMtls,
  effectiveMtlsMode,
  type PolicySet,
} from "../policy/index.js";
import type { ApplicablePolicies, CompiledPolicy } from "../policy/types.js";
import {
  DATAPLANE_MODE_LABEL,
  type Enrollment,
  MESH_DATAPLANE_MODE_LABEL,
  type Registry,
  type ServiceInfo,
  type ServicePortInfo,
  USE_WAYPOINT_LABEL,
  USE_WAYPOINT_NAMESPACE_LABEL,
  WAYPOINT_CLASS,
  WAYPOINT_FOR_LABEL,
  type WorkloadInfo,
} from "./registry.js";

type AnyResource = ResourceBase<string, unknown>;

export interface MeshInputs {
  readonly registry: Registry;
  /** Stored objects; only Namespace, MeshConfig, Gateway, AuthorizationPolicy and PeerAuthentication are read. */
  readonly resources: readonly AnyResource[];
  readonly trustDomain: string;
  readonly rootNamespace?: string;
}

/** Where a label that decided something sits. */
export type LabelSource = "pod" | "service" | "namespace" | "mesh" | "default";

export interface WaypointUse {
  readonly namespace: string;
  readonly name: string;
  /** The object whose `istio.io/use-waypoint` label chose it. */
  readonly from: LabelSource;
}

export interface WorkloadView {
  readonly namespace: string;
  readonly name: string;
  readonly kind: "Pod" | "WorkloadEntry";
  readonly owner: string | null;
  readonly phase: "Running" | "Pending";
  readonly node: string | null;
  readonly ip: string | null;
  readonly serviceAccount: string;
  readonly identity: string;
  readonly enrollment: Enrollment;
  readonly enrollmentFrom: LabelSource;
  /** The waypoint for traffic addressed to this workload directly (waypoint-for workload/all). */
  readonly waypoint: WaypointUse | null;
  /** HBONE when ztunnel tunnels its traffic (ambient, or a waypoint itself), else plain TCP. */
  readonly protocol: "HBONE" | "TCP";
  readonly isWaypoint: boolean;
  /** `namespace/name` of the Services this workload backs. */
  readonly services: readonly string[];
}

export interface ServicePortView {
  readonly name: string | null;
  readonly port: number;
  readonly targetPort: number | string;
  /** The L4 protocol declared on the port (TCP/UDP/SCTP). */
  readonly transport: string;
  /** The application protocol: HTTP, HTTP2, GRPC, MySQL, TCP, TLS …, or `auto` (sniffed by the waypoint). */
  readonly protocol: string;
  /** How it was chosen: appProtocol, the port name's prefix, or detection at the waypoint. */
  readonly protocolFrom: "appProtocol" | "name" | "detected";
}

export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly kind: "Service" | "ServiceEntry";
  readonly hostname: string;
  readonly vip: string | null;
  readonly ports: readonly ServicePortView[];
  /** `namespace/name` of the endpoints. */
  readonly endpoints: readonly string[];
  readonly waypoint: WaypointUse | null;
}

export type PolicyScope = "mesh" | "namespace" | "workload" | "waypoint-targeted";
export type EnforcementPoint = "ztunnel" | "waypoint" | "none";

export interface PolicyView {
  readonly kind: "AuthorizationPolicy" | "PeerAuthentication";
  readonly namespace: string;
  readonly name: string;
  readonly scope: PolicyScope;
  /** ALLOW/DENY/AUDIT/CUSTOM for AuthorizationPolicy; the mTLS mode for PeerAuthentication. */
  readonly action: string;
  readonly selector: Record<string, string> | null;
  /** `Kind/name` targets of a waypoint-targeted policy. */
  readonly targets: readonly string[];
  readonly enforcedAt: EnforcementPoint;
  /** L4 for ztunnel, L7 for a waypoint. */
  readonly layer: "L4" | "L7" | null;
  readonly dryRun: boolean;
  /** What the policy will not do where it is enforced, and why it may not apply at all. */
  readonly warnings: readonly string[];
}

export interface WaypointView {
  readonly namespace: string;
  readonly name: string;
  /** `istio.io/waypoint-for`: which traffic it takes (service, workload, all, none). */
  readonly for: string;
  readonly vip: string | null;
  readonly pod: string | null;
  readonly node: string | null;
  readonly ip: string | null;
  readonly ready: boolean;
  readonly namespaces: readonly string[];
  readonly services: readonly string[];
  readonly workloads: readonly string[];
}

export interface AppliedPolicyView {
  readonly namespace: string;
  readonly name: string;
  readonly action: string;
  readonly enforcedAt: "ztunnel" | "waypoint";
  /** The waypoint, for waypoint-enforced policies; null at ztunnel. */
  readonly waypoint: string | null;
  /** The service whose traffic the waypoint checks; null at ztunnel. */
  readonly via: string | null;
  readonly dryRun: boolean;
  readonly effect: string;
  readonly warnings: readonly string[];
}

export interface MtlsView {
  readonly mode: EffectiveMtls["mode"];
  readonly policy: string | null;
  readonly level: EffectiveMtls["level"];
}

export interface EventView {
  readonly type: "Warning";
  readonly reason: string;
  readonly message: string;
}

export interface PodDescription {
  readonly kind: "PodDescription";
  readonly workload: WorkloadView;
  readonly labels: Record<string, string>;
  readonly enrollmentReason: string;
  /** Waypoints on the way to this pod: its own, and those of the services it backs. */
  readonly waypoints: readonly (WaypointUse & { readonly for: string; readonly reason: string })[];
  readonly services: readonly { readonly name: string; readonly vip: string | null }[];
  readonly policies: readonly AppliedPolicyView[];
  readonly mtls: MtlsView;
  readonly events: readonly EventView[];
}

export interface ServiceDescription {
  readonly kind: "ServiceDescription";
  readonly service: ServiceView;
  readonly labels: Record<string, string>;
  readonly waypointReason: string;
  readonly endpoints: readonly {
    readonly name: string;
    readonly ip: string | null;
    readonly node: string | null;
    readonly identity: string;
    readonly enrollment: Enrollment;
  }[];
  readonly policies: readonly AppliedPolicyView[];
  readonly events: readonly EventView[];
}

/** The inputs compiled once: namespaces' labels, mesh default, policies. */
export class MeshView {
  readonly #in: MeshInputs;
  readonly #root: string;
  readonly #nsLabels = new Map<string, Record<string, string>>();
  readonly #meshDefault: Enrollment | undefined;
  readonly #policies: PolicySet;
  readonly #compileWarnings = new Map<string, string[]>();
  readonly #compileErrors = new Map<string, string[]>();

  constructor(inputs: MeshInputs) {
    this.#in = inputs;
    this.#root = inputs.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    for (const r of inputs.resources) {
      if (r.kind === "Namespace") this.#nsLabels.set(r.metadata.name, r.metadata.labels ?? {});
    }
    const mesh = inputs.resources
      .filter((r) => r.kind === "MeshConfig")
      .map((r) => r.metadata.labels?.[MESH_DATAPLANE_MODE_LABEL])
      .find((v) => v === "ambient" || v === "monitor");
    this.#meshDefault = mesh;
    const compiled = compilePolicies(inputs.resources, { rootNamespace: this.#root });
    this.#policies = compiled.set;
    for (const w of compiled.warnings) push(this.#compileWarnings, w.policy, w.message);
    for (const e of compiled.errors) push(this.#compileErrors, e.policy, e.message);
  }

  workloads(namespace?: string): WorkloadView[] {
    return this.#in.registry.workloads
      .filter((w) => namespace === undefined || w.namespace === namespace)
      .map((w) => this.#workload(w))
      .sort(byNsName);
  }

  services(namespace?: string): ServiceView[] {
    return this.#in.registry.services
      .filter((s) => namespace === undefined || s.namespace === namespace)
      .map((s) => this.#service(s))
      .sort(byNsName);
  }

  policies(namespace?: string): PolicyView[] {
    const out: PolicyView[] = [];
    for (const r of this.#in.resources) {
      const ns = r.metadata.namespace ?? "default";
      if (namespace !== undefined && ns !== namespace) continue;
      if (r.kind === "AuthorizationPolicy") out.push(this.#authz(r));
      else if (r.kind === "PeerAuthentication") out.push(this.#peerAuth(r));
    }
    return out.sort((a, b) => byNsName(a, b) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  }

  waypoints(namespace?: string): WaypointView[] {
    const out: WaypointView[] = [];
    for (const g of this.#in.resources) {
      if (g.kind !== "Gateway") continue;
      if ((g.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName !== WAYPOINT_CLASS)
        continue;
      const ns = g.metadata.namespace ?? "default";
      if (namespace !== undefined && ns !== namespace) continue;
      const name = g.metadata.name;
      const pod = this.#in.registry.workloads.find(
        (w) => w.isWaypoint && w.namespace === ns && w.owner === name,
      );
      const svc = this.#in.registry.services.find(
        (s) => s.kind === "Service" && s.namespace === ns && s.name === name,
      );
      const isIt = (w: { namespace: string; name: string } | undefined): boolean =>
        w !== undefined && w.namespace === ns && w.name === name;
      out.push({
        namespace: ns,
        name,
        for: g.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? "service",
        vip: svc?.vip ?? null,
        pod: pod?.name ?? null,
        node: pod?.node ?? null,
        ip: pod?.ip ?? null,
        ready: pod?.phase === "Running",
        namespaces: [...this.#nsLabels.keys()]
          .filter((n) => {
            const l = this.#labelsOfNs(n);
            return l[USE_WAYPOINT_LABEL] === name && (l[USE_WAYPOINT_NAMESPACE_LABEL] ?? n) === ns;
          })
          .sort(),
        services: this.#in.registry.services
          .filter((s) => isIt(s.waypoint))
          .map((s) => `${s.namespace}/${s.name}`)
          .sort(),
        workloads: this.#in.registry.workloads
          .filter((w) => isIt(w.waypoint))
          .map((w) => `${w.namespace}/${w.name}`)
          .sort(),
      });
    }
    return out.sort(byNsName);
  }

  /** Names of the pods and services in `namespace` (for "did you mean"). */
  names(kind: "pod" | "svc", namespace: string): string[] {
    const list =
      kind === "pod"
        ? this.#in.registry.workloads.filter((w) => w.kind === "Pod")
        : this.#in.registry.services;
    return list.filter((x) => x.namespace === namespace).map((x) => x.name);
  }

  describePod(namespace: string, name: string): PodDescription | undefined {
    const w = this.#in.registry.workloads.find(
      (x) => x.kind === "Pod" && x.namespace === namespace && x.name === name,
    );
    if (w === undefined) return undefined;
    const view = this.#workload(w);
    const backed = this.#in.registry.services.filter((s) => s.endpoints.includes(w.uid));
    const waypoints: PodDescription["waypoints"][number][] = [];
    if (view.waypoint !== null) {
      waypoints.push({
        ...view.waypoint,
        for: "workload",
        reason: `traffic addressed to the pod goes through it (${labelWhere(view.waypoint.from)} ${USE_WAYPOINT_LABEL})`,
      });
    }
    for (const s of backed) {
      const sv = this.#service(s);
      if (sv.waypoint === null) continue;
      waypoints.push({
        ...sv.waypoint,
        for: "service",
        reason: `traffic to service ${s.name} goes through it (${labelWhere(sv.waypoint.from)} ${USE_WAYPOINT_LABEL})`,
      });
    }
    const policies = [
      ...this.#atZtunnel(w),
      ...backed.flatMap((s) => this.#atWaypoint(s, w.labels, w.namespace)),
    ];
    const eff = effectiveMtlsMode(this.#policies, { namespace: w.namespace, labels: w.labels });
    return {
      kind: "PodDescription",
      workload: view,
      labels: w.labels,
      enrollmentReason: this.#enrollmentReason(w, view),
      waypoints,
      services: backed.map((s) => ({ name: `${s.namespace}/${s.name}`, vip: s.vip ?? null })),
      policies,
      mtls: { mode: eff.mode, policy: eff.policy, level: eff.level },
      events: this.#events([w.uid, `Pod/${w.namespace}/${w.name}`, `Deployment/${w.namespace}/${w.owner}`]),
    };
  }

  describeService(namespace: string, name: string): ServiceDescription | undefined {
    const s = this.#in.registry.services.find((x) => x.namespace === namespace && x.name === name);
    if (s === undefined) return undefined;
    const view = this.#service(s);
    const endpoints = this.#in.registry.workloads.filter((w) => s.endpoints.includes(w.uid));
    const labels = this.#serviceLabels(s);
    // ztunnel enforces per endpoint: list each policy once, with the endpoints' union.
    const atZtunnel = new Map<string, AppliedPolicyView>();
    for (const w of endpoints)
      for (const p of this.#atZtunnel(w)) atZtunnel.set(`${p.namespace}/${p.name}`, p);
    const waypointReason =
      view.waypoint === null
        ? "no waypoint: ztunnel tunnels traffic straight to the endpoints"
        : `${labelWhere(view.waypoint.from)} ${USE_WAYPOINT_LABEL}=${view.waypoint.name}`;
    return {
      kind: "ServiceDescription",
      service: view,
      labels,
      waypointReason,
      endpoints: endpoints.map((w) => ({
        name: w.name,
        ip: w.ip ?? null,
        node: w.node ?? null,
        identity: this.#identity(w),
        enrollment: w.enrollment,
      })),
      policies: [...this.#atWaypoint(s, endpoints[0]?.labels ?? {}, s.namespace), ...atZtunnel.values()],
      events: this.#events([`${s.kind}/${s.namespace}/${s.name}`]),
    };
  }

  #labelsOfNs(ns: string): Record<string, string> {
    const own = this.#nsLabels.get(ns) ?? {};
    return this.#meshDefault === undefined ? own : { [DATAPLANE_MODE_LABEL]: this.#meshDefault, ...own };
  }

  #identity(w: WorkloadInfo): string {
    return `spiffe://${this.#in.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
  }

  #workload(w: WorkloadInfo): WorkloadView {
    const nsOwn = this.#nsLabels.get(w.namespace) ?? {};
    const enrollmentFrom: LabelSource = w.isWaypoint
      ? "default"
      : w.labels[DATAPLANE_MODE_LABEL] !== undefined
        ? "pod"
        : nsOwn[DATAPLANE_MODE_LABEL] !== undefined
          ? "namespace"
          : this.#meshDefault !== undefined
            ? "mesh"
            : "default";
    return {
      namespace: w.namespace,
      name: w.name,
      kind: w.kind,
      owner: w.owner ?? null,
      phase: w.phase,
      node: w.node ?? null,
      ip: w.ip ?? null,
      serviceAccount: w.serviceAccount,
      identity: this.#identity(w),
      enrollment: w.enrollment,
      enrollmentFrom,
      waypoint:
        w.waypoint === undefined
          ? null
          : {
              namespace: w.waypoint.namespace,
              name: w.waypoint.name,
              from: w.labels[USE_WAYPOINT_LABEL] !== undefined ? "pod" : "namespace",
            },
      protocol: w.enrollment === "ambient" || w.isWaypoint ? "HBONE" : "TCP",
      isWaypoint: w.isWaypoint,
      services: Object.keys(w.services)
        .map((k) => this.#serviceNameOf(k))
        .sort(),
    };
  }

  #serviceNameOf(key: string): string {
    const [ns = "", hostname = ""] = key.split(/\/(.*)/s);
    const s = this.#in.registry.services.find((x) => x.namespace === ns && x.hostname === hostname);
    return `${ns}/${s?.name ?? hostname}`;
  }

  #serviceLabels(s: ServiceInfo): Record<string, string> {
    const r = this.#in.resources.find(
      (x) =>
        x.kind === s.kind &&
        (x.metadata.namespace ?? "default") === s.namespace &&
        x.metadata.name === s.name,
    );
    return r?.metadata.labels ?? {};
  }

  #service(s: ServiceInfo): ServiceView {
    const own = this.#serviceLabels(s);
    return {
      namespace: s.namespace,
      name: s.name,
      kind: s.kind,
      hostname: s.hostname,
      vip: s.vip ?? null,
      ports: s.ports.map(portView),
      endpoints: this.#in.registry.workloads
        .filter((w) => s.endpoints.includes(w.uid))
        .map((w) => `${w.namespace}/${w.name}`),
      waypoint:
        s.waypoint === undefined
          ? null
          : {
              namespace: s.waypoint.namespace,
              name: s.waypoint.name,
              from: own[USE_WAYPOINT_LABEL] !== undefined ? "service" : "namespace",
            },
    };
  }

  #enrollmentReason(w: WorkloadInfo, v: WorkloadView): string {
    if (w.isWaypoint) return "a waypoint proxy: it speaks HBONE itself and is never captured";
    const value = (l: Record<string, string>): string => `${DATAPLANE_MODE_LABEL}=${l[DATAPLANE_MODE_LABEL]}`;
    switch (v.enrollmentFrom) {
      case "pod":
        return `pod label ${value(w.labels)}`;
      case "namespace":
        return `namespace ${w.namespace} label ${value(this.#nsLabels.get(w.namespace) ?? {})}`;
      case "mesh":
        return `mesh default (MeshConfig label ${MESH_DATAPLANE_MODE_LABEL}=${this.#meshDefault ?? ""})`;
      default:
        return `no ${DATAPLANE_MODE_LABEL} label on the pod or namespace ${w.namespace}`;
    }
  }

  #authz(r: AnyResource): PolicyView {
    const spec = (r.spec ?? {}) as {
      action?: string;
      selector?: { matchLabels?: Record<string, string> };
      targetRef?: { kind: string; name: string };
      targetRefs?: { kind: string; name: string }[];
    };
    const ns = r.metadata.namespace ?? "default";
    const key = `${ns}/${r.metadata.name}`;
    const action = spec.action ?? "ALLOW";
    const targets = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])].map(
      (t) => `${t.kind}/${t.name}`,
    );
    const errors = this.#compileErrors.get(key) ?? [];
    const scope: PolicyScope =
      targets.length > 0
        ? "waypoint-targeted"
        : spec.selector !== undefined
          ? "workload"
          : ns === this.#root
            ? "mesh"
            : "namespace";
    const enforcedAt: EnforcementPoint =
      errors.length > 0 || action === "CUSTOM"
        ? "none"
        : targets.length > 0
          ? "waypoint"
          : action === "AUDIT"
            ? "none"
            : "ztunnel";
    return {
      kind: "AuthorizationPolicy",
      namespace: ns,
      name: r.metadata.name,
      scope,
      action,
      selector: spec.selector?.matchLabels ?? null,
      targets,
      enforcedAt,
      layer: enforcedAt === "ztunnel" ? "L4" : enforcedAt === "waypoint" ? "L7" : null,
      dryRun: r.metadata.annotations?.["istio.io/dry-run"]?.toLowerCase() === "true",
      warnings: [...errors, ...(this.#compileWarnings.get(key) ?? [])],
    };
  }

  #peerAuth(r: AnyResource): PolicyView {
    const spec = (r.spec ?? {}) as {
      selector?: { matchLabels?: Record<string, string> };
      mtls?: { mode?: string };
    };
    const ns = r.metadata.namespace ?? "default";
    const key = `${ns}/${r.metadata.name}`;
    const selector = spec.selector?.matchLabels ?? null;
    const ignored = ns === this.#root && selector !== null && Object.keys(selector).length > 0;
    const errors = this.#compileErrors.get(key) ?? [];
    return {
      kind: "PeerAuthentication",
      namespace: ns,
      name: r.metadata.name,
      scope: selector !== null ? "workload" : ns === this.#root ? "mesh" : "namespace",
      action: spec.mtls?.mode ?? "UNSET",
      selector,
      targets: [],
      enforcedAt: ignored || errors.length > 0 ? "none" : "ztunnel",
      layer: ignored || errors.length > 0 ? null : "L4",
      dryRun: false,
      warnings: [...errors, ...(this.#compileWarnings.get(key) ?? [])],
    };
  }

  #atZtunnel(w: WorkloadInfo): AppliedPolicyView[] {
    if (w.isWaypoint) return [];
    const found = this.#policies.forZtunnel(w.namespace, w.labels);
    const observed = w.enrollment === "monitor" ? " (monitor mode: logged as would-deny, not enforced)" : "";
    const notCaptured =
      w.enrollment === "none"
        ? " (the pod is not enrolled: no ztunnel sees its traffic, so this is not enforced)"
        : "";
    return applied(found, (p) => ({
      enforcedAt: "ztunnel",
      waypoint: null,
      via: null,
      effect: `${effectOf(p, found)} at L4${observed}${notCaptured}`,
      warnings: p.warnings[0],
    }));
  }

  #atWaypoint(s: ServiceInfo, labels: Record<string, string>, namespace: string): AppliedPolicyView[] {
    if (s.waypoint === undefined) return [];
    const wp = `${s.waypoint.namespace}/${s.waypoint.name}`;
    const found = this.#policies.forWaypoint({
      namespace,
      labels,
      service: s.name,
      serviceKind: s.kind,
      waypoint: wp,
      ip: s.vip ?? "",
      port: s.ports[0]?.port ?? 0,
    });
    // The waypoint parses HTTP (and MySQL on declared ports); other ports it proxies as opaque TCP.
    const l7 = s.ports.some((p) => portView(p).protocol !== "TCP");
    return applied(found, (p) => ({
      enforcedAt: "waypoint",
      waypoint: wp,
      via: `${s.namespace}/${s.name}`,
      effect: `${effectOf(p, found)} at L7 for traffic to ${s.name}`,
      warnings: p.warnings[l7 ? 2 : 1],
    }));
  }

  #events(objects: readonly string[]): EventView[] {
    return this.#in.registry.problems
      .filter((p) => objects.includes(p.object))
      .map((p) => ({ type: "Warning" as const, reason: p.code, message: p.message }));
  }
}

function applied(
  found: ApplicablePolicies,
  where: (p: CompiledPolicy) => Omit<AppliedPolicyView, "namespace" | "name" | "action" | "dryRun">,
): AppliedPolicyView[] {
  return [...found.deny, ...found.allow, ...found.audit, ...found.dryRun].map((p) => ({
    namespace: p.namespace,
    name: p.name,
    action: p.action,
    dryRun: p.dryRun,
    ...where(p),
  }));
}

/** One line on what the policy does here, with Istio's evaluation order (CUSTOM, DENY, ALLOW). */
function effectOf(p: CompiledPolicy, found: ApplicablePolicies): string {
  const dry = p.dryRun ? "dry run: would " : "";
  if (p.action === "DENY") return `${dry}denies requests matching its rules`;
  if (p.action === "AUDIT") return "audits (logs) requests matching its rules";
  if (p.rules.length === 0) return `${dry}allows nothing (an ALLOW policy without rules)`;
  const others = found.allow.length > 1 ? ` (with ${found.allow.length - 1} other ALLOW policies)` : "";
  return `${dry}allows only requests matching its rules${others}; everything else is denied`;
}

function labelWhere(from: LabelSource): string {
  switch (from) {
    case "pod":
      return "pod label";
    case "service":
      return "service label";
    case "namespace":
      return "namespace label";
    case "mesh":
      return "mesh default";
    default:
      return "default";
  }
}

/** Istio's protocol selection: `appProtocol`, else the port name `<protocol>[-<suffix>]`, else sniffing. */
const NAMED_PROTOCOLS: Record<string, string> = {
  http: "HTTP",
  http2: "HTTP2",
  https: "HTTPS",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  h2c: "HTTP2",
  tcp: "TCP",
  tls: "TLS",
  mongo: "Mongo",
  mysql: "MySQL",
  redis: "Redis",
  udp: "UDP",
};

export function portView(p: ServicePortInfo): ServicePortView {
  const fromName = (text: string): string | undefined => {
    const lower = text.toLowerCase();
    if (NAMED_PROTOCOLS[lower] !== undefined) return NAMED_PROTOCOLS[lower];
    const prefix = lower.split("-")[0] ?? "";
    return lower.startsWith("grpc-web") ? "GRPC-Web" : NAMED_PROTOCOLS[prefix];
  };
  const base = { name: p.name ?? null, port: p.port, targetPort: p.targetPort, transport: p.protocol };
  if (p.appProtocol !== undefined && p.appProtocol !== "") {
    return { ...base, protocol: fromName(p.appProtocol) ?? p.appProtocol, protocolFrom: "appProtocol" };
  }
  const named = p.name === undefined ? undefined : fromName(p.name);
  if (named !== undefined) return { ...base, protocol: named, protocolFrom: "name" };
  return { ...base, protocol: p.protocol === "UDP" ? "UDP" : "auto", protocolFrom: "detected" };
}

function byNsName(a: { namespace: string; name: string }, b: { namespace: string; name: string }): number {
  const k = (x: { namespace: string; name: string }): string => `${x.namespace}\u0000${x.name}`;
  return k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0;
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

/** Case-insensitive edit distance ≤ a third of the name (at least 2), or a substring: the best three. */
export function closeMatches(name: string, candidates: readonly string[]): string[] {
  const n = name.toLowerCase();
  const limit = Math.max(2, Math.floor(n.length / 3));
  return candidates
    .map((c) => ({
      c,
      d: c.toLowerCase().includes(n) || n.includes(c.toLowerCase()) ? 0 : distance(n, c.toLowerCase()),
    }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.c);
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
