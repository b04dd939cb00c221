/**
 * The workload registry: a pure function from the stored Kubernetes/Istio objects (and the address
 * allocations made so far) to the mesh's workloads and services. No I/O; the caller persists the
 * returned allocations so addresses stay stable across restarts and re-applies.
 */
import type {
  Container,
  Deployment,
  Gateway,
  Namespace,
  Node,
  Pod,
  PodSpec,
  Service,
  ServiceEntry,
  WorkloadEntry,
  WorkloadEntrySpec,
} from "../api/types.js";
import { ControlErrorCode } from "./errors.js";
import { type Cidr, cidrContains, firstFree, formatCidr, ipToInt, parseCidr } from "./ip-pool.js";
import { keyOf } from "./kinds.js";
import type { StoredResource } from "./store.js";

export const DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode";
/** On a MeshConfig: the enrollment of every namespace without its own dataplane-mode label. */
export const MESH_DATAPLANE_MODE_LABEL = "ambit.dev/default-dataplane-mode";
export const USE_WAYPOINT_LABEL = "istio.io/use-waypoint";
export const USE_WAYPOINT_NAMESPACE_LABEL = "istio.io/use-waypoint-namespace";
export const WAYPOINT_FOR_LABEL = "istio.io/waypoint-for";
export const WAYPOINT_CLASS = "istio-waypoint";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const REGION_LABEL = "topology.kubernetes.io/region";
/** Istio's HBONE port; a waypoint's Service exposes it as `mesh`. */
export const HBONE_PORT = 15008;
export const SERVICE_VIP_RANGE = "10.96.0.0/16";
/** Istio auto-allocates ServiceEntry VIPs from Class E space so they never collide with real hosts. */
export const SERVICE_ENTRY_VIP_RANGE = "240.240.0.0/16";

export type Enrollment = "ambient" | "monitor" | "none";

export interface Allocations {
  /** node name → pod CIDR derived for it (nodes without spec.podCIDR). */
  nodes: Record<string, string>;
  /** `Pod/ns/name` (also for Deployment replicas) → IP. */
  pods: Record<string, string>;
  /** `Service/ns/name` or `ServiceEntry/ns/name/host` → VIP. */
  services: Record<string, string>;
}

export function emptyAllocations(): Allocations {
  return { nodes: {}, pods: {}, services: {} };
}

export interface RegistryOptions {
  trustDomain: string;
  /** Istio's cluster id; part of every workload uid (`<cluster>//Pod/<ns>/<name>`). */
  clusterId: string;
  domainSuffix: string;
  network: string;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  podCIDR: string;
  region: string;
  zone: string;
}

export interface WaypointRef {
  namespace: string;
  name: string;
  hostname: string;
  vip: string | undefined;
}

export interface ServicePortInfo {
  name: string | undefined;
  port: number;
  /** A number, or a container port name resolved per endpoint. */
  targetPort: number | string;
  protocol: string;
  appProtocol: string | undefined;
}

/** What a node's runtime needs to start the pod's process (the first container). */
export interface RuntimeSpec {
  kind: "process" | "waypoint";
  image: string | undefined;
  command: readonly string[];
  args: readonly string[];
  env: readonly { name: string; value: string }[];
  ports: readonly number[];
}

export interface WorkloadInfo {
  uid: string;
  kind: "Pod" | "WorkloadEntry";
  name: string;
  namespace: string;
  /** The Deployment that made this pod, if any. */
  owner: string | undefined;
  phase: "Running" | "Pending";
  ip: string | undefined;
  node: string | undefined;
  serviceAccount: string;
  labels: Record<string, string>;
  /** `namespace/hostname` → port mappings of every service this workload backs. */
  services: Record<string, { servicePort: number; targetPort: number }[]>;
  waypoint: WaypointRef | undefined;
  enrollment: Enrollment;
  isWaypoint: boolean;
  canonicalName: string;
  canonicalRevision: string;
  region: string;
  zone: string;
  network: string;
  runtime: RuntimeSpec | undefined;
}

export interface ServiceInfo {
  kind: "Service" | "ServiceEntry";
  name: string;
  namespace: string;
  hostname: string;
  vip: string | undefined;
  ports: ServicePortInfo[];
  /** uids of the workloads backing it. */
  endpoints: string[];
  waypoint: WaypointRef | undefined;
  subjectAltNames: string[];
}

export interface RegistryProblem {
  code: string;
  object: string;
  message: string;
  /** For WAYPOINT_NOT_FOUND: the `namespace/name` the object asks for. */
  waypoint?: string;
}

export interface Registry {
  nodes: NodeInfo[];
  workloads: WorkloadInfo[];
  services: ServiceInfo[];
  problems: RegistryProblem[];
}

export interface RegistryResult {
  registry: Registry;
  allocations: Allocations;
}

interface PodSeed {
  key: string;
  name: string;
  namespace: string;
  owner: string | undefined;
  labels: Record<string, string>;
  spec: PodSpec;
  node: string | undefined;
  waypoint: boolean;
}

export function buildRegistry(
  resources: readonly StoredResource[],
  previous: Allocations,
  opts: RegistryOptions,
): RegistryResult {
  const problems: RegistryProblem[] = [];
  const byKind = (k: string): StoredResource[] =>
    resources.filter((r) => r.kind === k).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const namespaces = new Map<string, Record<string, string>>();
  for (const ns of byKind("Namespace") as unknown as Namespace[]) {
    namespaces.set(ns.metadata.name, ns.metadata.labels ?? {});
  }
  // Mesh-wide default enrollment (`ambit ambient init|upgrade`): the label below on any MeshConfig;
  // a namespace's or pod's own istio.io/dataplane-mode (including `none`) still wins.
  const meshDefault = (byKind("MeshConfig") as unknown as { metadata: { labels?: Record<string, string> } }[])
    .map((m) => m.metadata.labels?.[MESH_DATAPLANE_MODE_LABEL])
    .find((v) => v === "ambient" || v === "monitor");
  const nsLabels = (ns: string): Record<string, string> =>
    meshDefault === undefined
      ? (namespaces.get(ns) ?? {})
      : { [DATAPLANE_MODE_LABEL]: meshDefault, ...(namespaces.get(ns) ?? {}) };
  const allocations: Allocations = { nodes: {}, pods: {}, services: {} };

  // Nodes and their pod CIDRs: explicit, else the derived one kept from before, else the next free /24.
  const nodeObjs = byKind("Node") as unknown as Node[];
  const nodes: NodeInfo[] = [];
  const takenCidrs = new Set<string>();
  for (const n of nodeObjs) {
    const explicit = n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0];
    if (explicit) takenCidrs.add(normaliseCidr(explicit));
  }
  const keptCidrs = new Map<string, string>();
  for (const n of nodeObjs) {
    const kept = previous.nodes[n.metadata.name];
    if (!(n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0]) && kept && !takenCidrs.has(kept)) {
      takenCidrs.add(kept);
      keptCidrs.set(n.metadata.name, kept);
    }
  }
  for (const n of nodeObjs) {
    const labels = n.metadata.labels ?? {};
    let cidr = n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0];
    if (cidr) cidr = normaliseCidr(cidr);
    else {
      cidr = keptCidrs.get(n.metadata.name) ?? nextNodeCidr(takenCidrs);
      takenCidrs.add(cidr);
      allocations.nodes[n.metadata.name] = cidr;
    }
    nodes.push({
      name: n.metadata.name,
      labels,
      podCIDR: cidr,
      region: labels[REGION_LABEL] ?? "",
      zone: labels[ZONE_LABEL] ?? "",
    });
  }
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  // Pods: plain ones, then Deployment replicas spread round-robin over the nodes sorted by name.
  const seeds: PodSeed[] = [];
  for (const p of byKind("Pod") as unknown as Pod[]) {
    const spec = p.spec ?? { containers: [] };
    seeds.push({
      key: keyOf(p),
      name: p.metadata.name,
      namespace: p.metadata.namespace ?? "default",
      owner: undefined,
      labels: p.metadata.labels ?? {},
      spec,
      node: spec.nodeName ?? nodes[seeds.length % Math.max(nodes.length, 1)]?.name,
      waypoint: false,
    });
  }
  for (const d of byKind("Deployment") as unknown as Deployment[]) {
    const replicas = d.spec?.replicas ?? 1;
    const tpl = d.spec?.template;
    for (let i = 0; i < replicas; i++) {
      const name = `${d.metadata.name}-${i}`;
      const spec = tpl?.spec ?? { containers: [] };
      seeds.push({
        key: `Pod/${d.metadata.namespace ?? "default"}/${name}`,
        name,
        namespace: d.metadata.namespace ?? "default",
        owner: d.metadata.name,
        labels: tpl?.metadata?.labels ?? {},
        spec,
        node: spec.nodeName ?? nodes[i % Math.max(nodes.length, 1)]?.name,
        waypoint: false,
      });
    }
  }

  // Waypoints declared by Gateways of class istio-waypoint: Istio deploys one pod and a Service.
  const gateways = (byKind("Gateway") as unknown as Gateway[]).filter(
    (g) => g.spec?.gatewayClassName === WAYPOINT_CLASS,
  );
  const waypointFor = new Map<string, string>();
  gateways.forEach((g, i) => {
    const ns = g.metadata.namespace ?? "default";
    waypointFor.set(`${ns}/${g.metadata.name}`, g.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? "service");
    seeds.push({
      key: `Pod/${ns}/${g.metadata.name}-0`,
      name: `${g.metadata.name}-0`,
      namespace: ns,
      owner: g.metadata.name,
      labels: { "gateway.networking.k8s.io/gateway-name": g.metadata.name, [DATAPLANE_MODE_LABEL]: "none" },
      spec: { containers: [{ name: "waypoint" }], serviceAccountName: g.metadata.name },
      node: nodes[i % Math.max(nodes.length, 1)]?.name,
      waypoint: true,
    });
  });

  // Pod IPs: keep an earlier allocation while it is still inside the pod's node CIDR.
  const usedIps = new Set<string>();
  const ipOf = new Map<string, string>();
  for (const s of seeds) {
    const node = s.node ? nodeByName.get(s.node) : undefined;
    const kept = previous.pods[s.key];
    const cidr = node ? parseCidr(node.podCIDR) : undefined;
    if (kept && cidr && cidrContains(cidr, kept) && !usedIps.has(kept)) {
      usedIps.add(kept);
      ipOf.set(s.key, kept);
    }
  }
  for (const s of seeds) {
    if (ipOf.has(s.key)) continue;
    const node = s.node ? nodeByName.get(s.node) : undefined;
    if (!node) {
      problems.push({
        code: "PENDING",
        object: s.key,
        message: s.node
          ? `node ${s.node} does not exist; apply a Node named ${s.node} or drop nodeName`
          : "no Node to schedule on; apply at least one Node",
      });
      continue;
    }
    const cidr = parseCidr(node.podCIDR) as Cidr;
    const ip = firstFree(cidr, usedIps, 2);
    if (!ip) {
      problems.push({
        code: ControlErrorCode.POOL_EXHAUSTED,
        object: s.key,
        message: `node ${node.name}'s pod CIDR ${node.podCIDR} is full; give the node a larger spec.podCIDR`,
      });
      continue;
    }
    usedIps.add(ip);
    ipOf.set(s.key, ip);
  }

  const workloads: WorkloadInfo[] = [];
  const podSpecs = new Map<string, PodSpec>();
  for (const s of seeds) {
    const ip = ipOf.get(s.key);
    if (ip) allocations.pods[s.key] = ip;
    const node = s.node ? nodeByName.get(s.node) : undefined;
    const isWaypoint = s.waypoint;
    const ns = nsLabels(s.namespace);
    podSpecs.set(podUid(opts, s.namespace, s.name), s.spec);
    workloads.push({
      uid: podUid(opts, s.namespace, s.name),
      kind: "Pod",
      name: s.name,
      namespace: s.namespace,
      owner: s.owner,
      phase: ip && node ? "Running" : "Pending",
      ip,
      node: node?.name ?? s.node,
      serviceAccount: s.spec.serviceAccountName ?? s.spec.serviceAccount ?? "default",
      labels: s.labels,
      services: {},
      waypoint: undefined,
      enrollment: isWaypoint ? "none" : enrollmentOf(s.labels, ns),
      isWaypoint,
      canonicalName: canonicalName(s.labels, s.owner ?? s.name),
      canonicalRevision: s.labels["service.istio.io/canonical-revision"] ?? s.labels["version"] ?? "latest",
      region: node?.region ?? "",
      zone: node?.zone ?? "",
      network: opts.network,
      runtime: runtimeOf(s.spec.containers[0], isWaypoint),
    });
  }

  for (const we of byKind("WorkloadEntry") as unknown as WorkloadEntry[]) {
    const ns = we.metadata.namespace ?? "default";
    workloads.push(
      entryWorkload(opts, `${opts.clusterId}//networking.istio.io/WorkloadEntry/${ns}/${we.metadata.name}`, {
        name: we.metadata.name,
        namespace: ns,
        spec: we.spec ?? {},
        labels: { ...(we.metadata.labels ?? {}), ...(we.spec?.labels ?? {}) },
        nsLabels: nsLabels(ns),
      }),
    );
  }

  // Services. VIPs: explicit clusterIP, else the earlier allocation, else the next free one.
  const services: ServiceInfo[] = [];
  const usedVips = new Set<string>();
  const svcObjs = byKind("Service") as unknown as Service[];
  for (const s of svcObjs) {
    const ip = s.spec?.clusterIP;
    if (ip && ip !== "None" && ipToInt(ip) !== undefined) usedVips.add(ip);
  }
  const vipKeys: { key: string; explicit: string | undefined; headless: boolean; range: string }[] = [];
  for (const s of svcObjs) {
    const ip = s.spec?.clusterIP;
    vipKeys.push({
      key: keyOf(s),
      explicit: ip && ip !== "None" && ipToInt(ip) !== undefined ? ip : undefined,
      headless: ip === "None",
      range: SERVICE_VIP_RANGE,
    });
  }
  for (const g of gateways) {
    vipKeys.push({
      key: `Service/${g.metadata.namespace ?? "default"}/${g.metadata.name}`,
      explicit: undefined,
      headless: false,
      range: SERVICE_VIP_RANGE,
    });
  }
  const seObjs = byKind("ServiceEntry") as unknown as ServiceEntry[];
  for (const se of seObjs) {
    for (const h of se.spec?.hosts ?? []) {
      vipKeys.push({
        key: `${keyOf(se)}/${h}`,
        explicit: se.spec?.addresses?.find((a) => ipToInt(a) !== undefined),
        headless: false,
        range: SERVICE_ENTRY_VIP_RANGE,
      });
    }
  }
  const vipOf = new Map<string, string>();
  for (const v of vipKeys) {
    const kept = previous.services[v.key];
    if (v.explicit) vipOf.set(v.key, v.explicit);
    else if (!v.headless && kept && !usedVips.has(kept) && cidrContains(parseCidr(v.range) as Cidr, kept)) {
      usedVips.add(kept);
      vipOf.set(v.key, kept);
      allocations.services[v.key] = kept;
    }
  }
  for (const v of vipKeys) {
    if (vipOf.has(v.key) || v.headless) continue;
    // .0.1 is the API server's in Kubernetes; start user services at .0.10 as kube's allocator tends to.
    const vip = firstFree(parseCidr(v.range) as Cidr, usedVips, 10);
    if (!vip) {
      problems.push({
        code: ControlErrorCode.POOL_EXHAUSTED,
        object: v.key,
        message: `no free VIP in ${v.range}`,
      });
      continue;
    }
    usedVips.add(vip);
    vipOf.set(v.key, vip);
    allocations.services[v.key] = vip;
  }

  const gatewayVip = (ns: string, name: string): string | undefined => vipOf.get(`Service/${ns}/${name}`);
  const resolveWaypoint = (
    labels: Record<string, string>,
    ns: string,
    attach: "service" | "workload",
    object: string,
  ): WaypointRef | undefined => {
    const own = labels[USE_WAYPOINT_LABEL];
    const fromNs = nsLabels(ns)[USE_WAYPOINT_LABEL];
    const name = own ?? fromNs;
    if (!name || name === "none") return undefined;
    const wpNs =
      (own ? labels[USE_WAYPOINT_NAMESPACE_LABEL] : nsLabels(ns)[USE_WAYPOINT_NAMESPACE_LABEL]) ?? ns;
    const kind = waypointFor.get(`${wpNs}/${name}`);
    if (kind === undefined) {
      problems.push({
        code: "WAYPOINT_NOT_FOUND",
        object,
        waypoint: `${wpNs}/${name}`,
        message: `waypoint ${wpNs}/${name} is not a Gateway of class ${WAYPOINT_CLASS}; apply one or remove the ${USE_WAYPOINT_LABEL} label`,
      });
      return undefined;
    }
    if (kind !== "all" && kind !== attach) return undefined;
    return {
      namespace: wpNs,
      name,
      hostname: `${name}.${wpNs}.svc.${opts.domainSuffix}`,
      vip: gatewayVip(wpNs, name),
    };
  };

  for (const w of workloads) {
    if (!w.isWaypoint) w.waypoint = resolveWaypoint(w.labels, w.namespace, "workload", w.uid);
  }

  const addService = (info: ServiceInfo, selector: Record<string, string> | undefined): void => {
    if (selector && Object.keys(selector).length > 0) {
      for (const w of workloads) {
        if (w.namespace !== info.namespace || !matches(selector, w.labels)) continue;
        info.endpoints.push(w.uid);
        w.services[`${info.namespace}/${info.hostname}`] = info.ports.map((p) => ({
          servicePort: p.port,
          targetPort: resolveTargetPort(p.targetPort, podSpecs.get(w.uid)) ?? p.port,
        }));
      }
    }
    services.push(info);
  };

  for (const s of svcObjs) {
    const ns = s.metadata.namespace ?? "default";
    const labels = s.metadata.labels ?? {};
    addService(
      {
        kind: "Service",
        name: s.metadata.name,
        namespace: ns,
        hostname: `${s.metadata.name}.${ns}.svc.${opts.domainSuffix}`,
        vip: vipOf.get(keyOf(s)),
        ports: (s.spec?.ports ?? []).map((p) => ({
          name: p.name,
          port: p.port,
          targetPort: p.targetPort ?? p.port,
          protocol: p.protocol ?? "TCP",
          appProtocol: p.appProtocol,
        })),
        endpoints: [],
        waypoint: resolveWaypoint(labels, ns, "service", keyOf(s)),
        subjectAltNames: [],
      },
      s.spec?.selector,
    );
  }
  for (const g of gateways) {
    const ns = g.metadata.namespace ?? "default";
    addService(
      {
        kind: "Service",
        name: g.metadata.name,
        namespace: ns,
        hostname: `${g.metadata.name}.${ns}.svc.${opts.domainSuffix}`,
        vip: gatewayVip(ns, g.metadata.name),
        ports: [
          { name: "mesh", port: HBONE_PORT, targetPort: HBONE_PORT, protocol: "TCP", appProtocol: undefined },
        ],
        endpoints: [],
        waypoint: undefined,
        subjectAltNames: [],
      },
      { "gateway.networking.k8s.io/gateway-name": g.metadata.name },
    );
  }
  for (const se of seObjs) {
    const ns = se.metadata.namespace ?? "default";
    const spec = se.spec ?? { hosts: [] };
    // Inline endpoints are workloads of their own, as Istio models them.
    const inline: WorkloadInfo[] = (spec.endpoints ?? []).map((ep, i) =>
      entryWorkload(
        opts,
        `${opts.clusterId}//networking.istio.io/ServiceEntry/${ns}/${se.metadata.name}/${ep.address ?? i}`,
        {
          name: se.metadata.name,
          namespace: ns,
          spec: ep,
          labels: ep.labels ?? {},
          nsLabels: nsLabels(ns),
        },
      ),
    );
    workloads.push(...inline);
    for (const host of spec.hosts) {
      const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
        name: p.name,
        port: p.number,
        targetPort: p.targetPort ?? p.number,
        protocol: p.protocol ?? "TCP",
        appProtocol: undefined,
      }));
      const info: ServiceInfo = {
        kind: "ServiceEntry",
        name: se.metadata.name,
        namespace: ns,
        hostname: host,
        vip: vipOf.get(`${keyOf(se)}/${host}`),
        ports,
        endpoints: [],
        waypoint: resolveWaypoint(se.metadata.labels ?? {}, ns, "service", keyOf(se)),
        subjectAltNames: spec.subjectAltNames ?? [],
      };
      for (const w of inline) {
        info.endpoints.push(w.uid);
        w.services[`${ns}/${host}`] = ports.map((p) => ({
          servicePort: p.port,
          targetPort: typeof p.targetPort === "number" ? p.targetPort : p.port,
        }));
      }
      addService(info, spec.workloadSelector?.labels);
    }
  }

  return { registry: { nodes, workloads, services, problems }, allocations };
}

export function podUid(opts: Pick<RegistryOptions, "clusterId">, namespace: string, name: string): string {
  return `${opts.clusterId}//Pod/${namespace}/${name}`;
}

/** A pod's own label wins over its namespace's (Istio); `none` on a pod opts it out of an ambient namespace. */
export function enrollmentOf(
  podLabels: Record<string, string>,
  nsLabels: Record<string, string>,
): Enrollment {
  const v = podLabels[DATAPLANE_MODE_LABEL] ?? nsLabels[DATAPLANE_MODE_LABEL];
  return v === "ambient" || v === "monitor" ? v : "none";
}

function entryWorkload(
  opts: RegistryOptions,
  uid: string,
  e: {
    name: string;
    namespace: string;
    spec: WorkloadEntrySpec;
    labels: Record<string, string>;
    nsLabels: Record<string, string>;
  },
): WorkloadInfo {
  const [region = "", zone = ""] = (e.spec.locality ?? "").split("/");
  const ip = e.spec.address && ipToInt(e.spec.address) !== undefined ? e.spec.address : undefined;
  return {
    uid,
    kind: "WorkloadEntry",
    name: e.name,
    namespace: e.namespace,
    owner: undefined,
    phase: ip ? "Running" : "Pending",
    ip,
    node: undefined,
    serviceAccount: e.spec.serviceAccount ?? "default",
    labels: e.labels,
    services: {},
    waypoint: undefined,
    enrollment: enrollmentOf(e.labels, e.nsLabels),
    isWaypoint: false,
    canonicalName: canonicalName(e.labels, e.name),
    canonicalRevision: e.labels["version"] ?? "latest",
    region,
    zone,
    network: e.spec.network ?? opts.network,
    runtime: undefined,
  };
}

/** Istio's canonical-service precedence: its own label, then the well-known app labels, then the owner. */
function canonicalName(labels: Record<string, string>, fallback: string): string {
  return (
    labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? fallback
  );
}

function runtimeOf(c: Container | undefined, isWaypoint: boolean): RuntimeSpec | undefined {
  if (isWaypoint)
    return { kind: "waypoint", image: undefined, command: [], args: [], env: [], ports: [HBONE_PORT] };
  if (!c) return undefined;
  return {
    kind: "process",
    image: c.image,
    command: c.command ?? [],
    args: c.args ?? [],
    env: (c.env ?? [])
      .filter((e) => e.value !== undefined)
      .map((e) => ({ name: e.name, value: e.value ?? "" })),
    ports: (c.ports ?? []).map((p) => p.containerPort),
  };
}

function resolveTargetPort(target: number | string, spec: PodSpec | undefined): number | undefined {
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  }
  return undefined;
}

export function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function normaliseCidr(text: string): string {
  const c = parseCidr(text);
  return c ? formatCidr(c) : text;
}

/** Node i without a podCIDR gets 10.244.<k>.0/24 with the lowest k ≥ 1 nobody holds (kind's default range). */
function nextNodeCidr(taken: ReadonlySet<string>): string {
  for (let k = 1; k < 256; k++) {
    const c = `10.244.${k}.0/24`;
    if (!taken.has(c)) return c;
  }
  return "10.244.255.0/24";
}
