/**
 * The ztunnel's view of the mesh, built from xDS: workloads (by uid and IP), services (by VIP and by
 * namespace/hostname), L4 authorization policies. Decisions (`decide-outbound.ts`,
 * `decide-inbound.ts`) read it; only xDS updates write it. `version` changes on every write, so
 * caches keyed on it (compiled policies) stay correct.
 */
import {
  type Authorization,
  Action as AuthzAction,
  Scope as AuthzScope,
} from "../xds/gen/istio/security/authorization_pb.js";
import {
  type Address,
  type GatewayAddress,
  type Service,
  TunnelProtocol,
  type Workload,
  WorkloadStatus,
} from "../xds/gen/istio/workload/workload_pb.js";
import { canonicalIp, ipFromBytes } from "./addresses.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";

export const DEFAULT_TRUST_DOMAIN = "cluster.local";
/** Istio's HBONE port; a GatewayAddress with hbone_mtls_port 0 means this. */
export const HBONE_PORT = 15008;
/**
 * ambit's extension on `Workload.extensions` marking a workload in `monitor` dataplane mode
 * (namespace label `istio.io/dataplane-mode: monitor`); the control plane sends it with no config.
 * Istio has no monitor mode, so it rides in an extension, which Istio's ztunnel ignores.
 */
export const MONITOR_EXTENSION = "ambit.dev/dataplane-mode-monitor";

export type DataplaneMode = "ambient" | "monitor";

export type GatewayRef =
  | { readonly kind: "address"; readonly ip: string; readonly port: number }
  | {
      readonly kind: "hostname";
      readonly namespace: string;
      readonly hostname: string;
      readonly port: number;
    };

export interface ServicePort {
  readonly servicePort: number;
  /** 0 = same as the service port. */
  readonly targetPort: number;
}

export interface WorkloadInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly addresses: readonly string[];
  readonly node: string;
  readonly trustDomain: string;
  readonly serviceAccount: string;
  /** SPIFFE URI, `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  readonly identity: string;
  readonly workloadName: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly clusterId: string;
  /** HBONE when the workload is enrolled in the ambient mesh (its traffic is captured). */
  readonly tunnel: "hbone" | "none";
  readonly mode: DataplaneMode;
  readonly waypoint: GatewayRef | undefined;
  /** Key "namespace/hostname" → port overrides of this endpoint. */
  readonly services: ReadonlyMap<string, readonly ServicePort[]>;
  readonly authorizationPolicies: readonly string[];
  readonly healthy: boolean;
}

export interface ServiceInfo {
  /** "namespace/hostname", the xDS resource name. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly waypoint: GatewayRef | undefined;
  readonly subjectAltNames: readonly string[];
}

export interface PolicyInfo {
  /** "namespace/name", the xDS resource name. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly scope: "global" | "namespace" | "workload";
  readonly action: "allow" | "deny";
  readonly proto: Authorization;
}

export function identityOf(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function bad(name: string, path: string, why: string): ZtunnelError {
  return new ZtunnelError(ZtunnelErrorCode.BadResource, `resource "${name}": ${path}: ${why}`);
}

const DNS_LABELISH = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9._-]{1,253}$/;

function gatewayRef(g: GatewayAddress | undefined, name: string, path: string): GatewayRef | undefined {
  if (g === undefined) return undefined;
  const port = g.hboneMtlsPort === 0 ? HBONE_PORT : g.hboneMtlsPort;
  if (port > 65535) throw bad(name, `${path}.hbone_mtls_port`, `${port} is not a port`);
  switch (g.destination.case) {
    case "address": {
      const ip = ipFromBytes(g.destination.value.address);
      if (ip === undefined) throw bad(name, `${path}.address.address`, "must be 4 or 16 bytes");
      return { kind: "address", ip, port };
    }
    case "hostname": {
      const h = g.destination.value;
      if (!DNS_LABELISH.test(h.hostname))
        throw bad(name, `${path}.hostname.hostname`, `"${h.hostname}" is not a hostname`);
      return { kind: "hostname", namespace: h.namespace, hostname: h.hostname, port };
    }
    default:
      throw bad(name, path, "has neither an address nor a hostname");
  }
}

function portList(
  ports: readonly { servicePort: number; targetPort: number }[],
  name: string,
  path: string,
): ServicePort[] {
  return ports.map((p, i) => {
    if (p.servicePort < 1 || p.servicePort > 65535)
      throw bad(name, `${path}[${i}].service_port`, `${p.servicePort} is not a port`);
    if (p.targetPort > 65535) throw bad(name, `${path}[${i}].target_port`, `${p.targetPort} is not a port`);
    return { servicePort: p.servicePort, targetPort: p.targetPort };
  });
}

function modeOf(w: Workload): DataplaneMode {
  return w.extensions.some((e) => e.name === MONITOR_EXTENSION) ? "monitor" : "ambient";
}

/** Validates and converts a Workload; throws `ZT_ERR_BAD_RESOURCE` naming the field. */
export function workloadFromProto(name: string, w: Workload): WorkloadInfo {
  if (w.uid === "") throw bad(name, "workload.uid", "is empty");
  if (name !== w.uid) throw bad(name, "workload.uid", `"${w.uid}" differs from the resource name`);
  if (!SEGMENT.test(w.namespace))
    throw bad(name, "workload.namespace", `"${w.namespace}" is not a namespace name`);
  if (w.name === "") throw bad(name, "workload.name", "is empty");
  const addresses = w.addresses.map((b, i) => {
    const ip = ipFromBytes(b);
    if (ip === undefined)
      throw bad(name, `workload.addresses[${i}]`, `must be 4 or 16 bytes, got ${b.length}`);
    return ip;
  });
  const trustDomain = w.trustDomain === "" ? DEFAULT_TRUST_DOMAIN : w.trustDomain;
  if (!/^[a-z0-9._-]{1,255}$/.test(trustDomain))
    throw bad(name, "workload.trust_domain", `"${trustDomain}" is not a trust domain`);
  const serviceAccount = w.serviceAccount === "" ? "default" : w.serviceAccount;
  if (!SEGMENT.test(serviceAccount))
    throw bad(name, "workload.service_account", `"${serviceAccount}" is not a service account name`);
  const services = new Map<string, ServicePort[]>();
  for (const [key, list] of Object.entries(w.services)) {
    if (!key.includes("/"))
      throw bad(name, `workload.services["${key}"]`, 'key must be "namespace/hostname"');
    services.set(key, portList(list.ports, name, `workload.services["${key}"].ports`));
  }
  return Object.freeze({
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses,
    node: w.node,
    trustDomain,
    serviceAccount,
    identity: identityOf(trustDomain, w.namespace, serviceAccount),
    workloadName: w.workloadName === "" ? w.name : w.workloadName,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    clusterId: w.clusterId,
    tunnel: w.tunnelProtocol === TunnelProtocol.HBONE ? "hbone" : "none",
    mode: modeOf(w),
    waypoint: gatewayRef(w.waypoint, name, "workload.waypoint"),
    services,
    authorizationPolicies: [...w.authorizationPolicies],
    healthy: w.status === WorkloadStatus.HEALTHY,
  });
}

export function serviceFromProto(name: string, s: Service): ServiceInfo {
  if (!SEGMENT.test(s.namespace))
    throw bad(name, "service.namespace", `"${s.namespace}" is not a namespace name`);
  if (!DNS_LABELISH.test(s.hostname))
    throw bad(name, "service.hostname", `"${s.hostname}" is not a hostname`);
  const key = `${s.namespace}/${s.hostname}`;
  if (name !== key) throw bad(name, "service", `resource name must be "${key}"`);
  const vips = s.addresses.map((a, i) => {
    const ip = ipFromBytes(a.address);
    if (ip === undefined) throw bad(name, `service.addresses[${i}].address`, "must be 4 or 16 bytes");
    return ip;
  });
  return Object.freeze({
    key,
    name: s.name === "" ? s.hostname.split(".")[0]! : s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips,
    ports: portList(s.ports, name, "service.ports"),
    waypoint: gatewayRef(s.waypoint, name, "service.waypoint"),
    subjectAltNames: [...s.subjectAltNames],
  });
}

/** Checks an Authorization's shape; the L4 matcher (`authz.ts`) relies on what is checked here. */
export function policyFromProto(name: string, a: Authorization): PolicyInfo {
  if (!SEGMENT.test(a.namespace))
    throw bad(name, "authorization.namespace", `"${a.namespace}" is not a namespace name`);
  if (a.name === "") throw bad(name, "authorization.name", "is empty");
  if (name !== `${a.namespace}/${a.name}`)
    throw bad(name, "authorization", `resource name must be "${a.namespace}/${a.name}"`);
  for (const [ri, r] of a.rules.entries()) {
    for (const [ci, c] of r.clauses.entries()) {
      for (const [mi, m] of c.matches.entries()) {
        const path = `authorization.rules[${ri}].clauses[${ci}].matches[${mi}]`;
        for (const [field, list] of [
          ["source_ips", m.sourceIps],
          ["not_source_ips", m.notSourceIps],
          ["destination_ips", m.destinationIps],
          ["not_destination_ips", m.notDestinationIps],
        ] as const) {
          for (const [k, cidr] of list.entries()) {
            const bits = cidr.address.length * 8;
            if (bits !== 32 && bits !== 128)
              throw bad(name, `${path}.${field}[${k}].address`, "must be 4 or 16 bytes");
            if (cidr.length > bits)
              throw bad(name, `${path}.${field}[${k}].length`, `${cidr.length} exceeds ${bits}`);
          }
        }
        for (const [field, list] of [
          ["destination_ports", m.destinationPorts],
          ["not_destination_ports", m.notDestinationPorts],
        ] as const) {
          for (const [k, p] of list.entries()) {
            if (p < 1 || p > 65535) throw bad(name, `${path}.${field}[${k}]`, `${p} is not a port`);
          }
        }
      }
    }
  }
  const scope =
    a.scope === AuthzScope.GLOBAL ? "global" : a.scope === AuthzScope.NAMESPACE ? "namespace" : "workload";
  if (a.action !== AuthzAction.ALLOW && a.action !== AuthzAction.DENY) {
    throw bad(
      name,
      "authorization.action",
      `unknown action ${a.action}; ztunnel enforces ALLOW and DENY only`,
    );
  }
  return Object.freeze({
    key: name,
    name: a.name,
    namespace: a.namespace,
    scope,
    action: a.action === AuthzAction.DENY ? "deny" : "allow",
    proto: a,
  });
}

export type AddressEntry =
  | { kind: "workload"; workload: WorkloadInfo }
  | { kind: "service"; service: ServiceInfo };

export function addressFromProto(name: string, a: Address): AddressEntry {
  switch (a.type.case) {
    case "workload":
      return { kind: "workload", workload: workloadFromProto(name, a.type.value) };
    case "service":
      return { kind: "service", service: serviceFromProto(name, a.type.value) };
    default:
      throw bad(name, "address", "holds neither a workload nor a service");
  }
}

export interface StateOptions {
  /** This ztunnel's node: workloads with `node` equal to it are local. */
  readonly node: string;
}

export class ZtunnelState {
  readonly node: string;
  #version = 0;
  readonly #workloads = new Map<string, WorkloadInfo>();
  readonly #workloadByIp = new Map<string, WorkloadInfo>();
  readonly #services = new Map<string, ServiceInfo>();
  readonly #serviceByVip = new Map<string, ServiceInfo>();
  readonly #endpoints = new Map<string, Set<string>>();
  readonly #policies = new Map<string, PolicyInfo>();
  /** Round-robin cursor per service. */
  readonly #cursor = new Map<string, number>();

  constructor(options: StateOptions) {
    this.node = options.node;
  }

  get version(): number {
    return this.#version;
  }

  // ---- writes (xDS) ----

  upsertAddress(name: string, entry: AddressEntry): void {
    this.removeAddress(name);
    if (entry.kind === "workload") {
      const w = entry.workload;
      this.#workloads.set(w.uid, w);
      for (const ip of w.addresses) this.#workloadByIp.set(ip, w);
      for (const key of w.services.keys()) {
        let set = this.#endpoints.get(key);
        if (set === undefined) {
          set = new Set();
          this.#endpoints.set(key, set);
        }
        set.add(w.uid);
      }
    } else {
      const s = entry.service;
      this.#services.set(s.key, s);
      for (const vip of s.vips) this.#serviceByVip.set(vip, s);
    }
    this.#version++;
  }

  removeAddress(name: string): void {
    const w = this.#workloads.get(name);
    if (w !== undefined) {
      this.#workloads.delete(name);
      for (const ip of w.addresses) if (this.#workloadByIp.get(ip) === w) this.#workloadByIp.delete(ip);
      for (const key of w.services.keys()) this.#endpoints.get(key)?.delete(w.uid);
      this.#version++;
    }
    const s = this.#services.get(name);
    if (s !== undefined) {
      this.#services.delete(name);
      for (const vip of s.vips) if (this.#serviceByVip.get(vip) === s) this.#serviceByVip.delete(vip);
      this.#version++;
    }
  }

  upsertPolicy(p: PolicyInfo): void {
    this.#policies.set(p.key, p);
    this.#version++;
  }

  removePolicy(key: string): void {
    if (this.#policies.delete(key)) this.#version++;
  }

  // ---- reads ----

  workloadByIp(ip: string): WorkloadInfo | undefined {
    return this.#workloadByIp.get(canonicalIp(ip));
  }

  workloadByUid(uid: string): WorkloadInfo | undefined {
    return this.#workloads.get(uid);
  }

  serviceByVip(ip: string): ServiceInfo | undefined {
    return this.#serviceByVip.get(canonicalIp(ip));
  }

  serviceByHost(namespace: string, hostname: string): ServiceInfo | undefined {
    return this.#services.get(`${namespace}/${hostname}`);
  }

  isLocal(w: WorkloadInfo): boolean {
    return w.node === this.node;
  }

  workloads(): IterableIterator<WorkloadInfo> {
    return this.#workloads.values();
  }

  services(): IterableIterator<ServiceInfo> {
    return this.#services.values();
  }

  policies(): IterableIterator<PolicyInfo> {
    return this.#policies.values();
  }

  localWorkloads(): WorkloadInfo[] {
    return [...this.#workloads.values()].filter((w) => w.node === this.node);
  }

  endpoints(service: ServiceInfo): WorkloadInfo[] {
    const uids = this.#endpoints.get(service.key);
    if (uids === undefined) return [];
    const out: WorkloadInfo[] = [];
    for (const uid of [...uids].sort()) {
      const w = this.#workloads.get(uid);
      if (w !== undefined) out.push(w);
    }
    return out;
  }

  /** Next index of a round-robin over `n` endpoints of a service. */
  nextIndex(serviceKey: string, n: number): number {
    const i = this.#cursor.get(serviceKey) ?? 0;
    this.#cursor.set(serviceKey, i + 1);
    return i % n;
  }

  /**
   * Policies that apply to a workload, as ztunnel selects them: GLOBAL-scope ones (the control
   * plane gives that scope to selector-less policies of the root namespace), NAMESPACE-scope ones of the workload's namespace, and the selector-based ones the
   * control plane listed in `Workload.authorization_policies`.
   */
  policiesFor(w: WorkloadInfo): PolicyInfo[] {
    const out: PolicyInfo[] = [];
    for (const p of this.#policies.values()) {
      if (p.scope === "global") out.push(p);
      else if (p.scope === "namespace" && p.namespace === w.namespace) out.push(p);
    }
    for (const key of w.authorizationPolicies) {
      const p = this.#policies.get(key);
      if (p !== undefined && p.scope === "workload") out.push(p);
    }
    return out;
  }
}
