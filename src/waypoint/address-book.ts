/**
 * The waypoint's view of the mesh from the control plane's `istio.workload.Address` resources:
 * services by VIP and hostname, workloads by uid, and each service's endpoints. Only xDS updates
 * write it; the request path reads it.
 */
import {
  type Address,
  type Service,
  TunnelProtocol,
  type Workload,
  WorkloadStatus,
} from "../xds/gen/istio/workload/workload_pb.js";

export interface WaypointService {
  /** "namespace/hostname", the xDS resource name. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly string[];
  readonly ports: readonly { readonly servicePort: number; readonly targetPort: number }[];
}

export interface WaypointEndpoint {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  /** SPIFFE URI the endpoint's ztunnel presents for it. */
  readonly identity: string;
  /** `app` / `version` as the control plane sends them (canonical name / revision). */
  readonly labels: Readonly<Record<string, string>>;
  readonly healthy: boolean;
  readonly hbone: boolean;
  /** Key "namespace/hostname" → [servicePort, targetPort]. */
  readonly services: ReadonlyMap<string, readonly { servicePort: number; targetPort: number }[]>;
}

export function ipFromBytes(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length === 16) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    return parts.join(":");
  }
  throw new Error(`address of ${b.length} bytes is neither IPv4 nor IPv6`);
}

function serviceFrom(s: Service): WaypointService {
  return {
    key: `${s.namespace}/${s.hostname}`,
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.addresses.map((a) => ipFromBytes(a.address)),
    ports: s.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort })),
  };
}

function endpointFrom(w: Workload): WaypointEndpoint {
  const services = new Map<string, { servicePort: number; targetPort: number }[]>();
  for (const [key, list] of Object.entries(w.services)) {
    services.set(
      key,
      list.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort })),
    );
  }
  const td = w.trustDomain === "" ? "cluster.local" : w.trustDomain;
  const sa = w.serviceAccount === "" ? "default" : w.serviceAccount;
  const labels: Record<string, string> = {};
  if (w.canonicalName !== "") labels["app"] = w.canonicalName;
  if (w.canonicalRevision !== "") labels["version"] = w.canonicalRevision;
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    ip: w.addresses[0] === undefined ? "" : ipFromBytes(w.addresses[0]),
    identity: `spiffe://${td}/ns/${w.namespace}/sa/${sa}`,
    labels,
    healthy: w.status === WorkloadStatus.HEALTHY,
    hbone: w.tunnelProtocol === TunnelProtocol.HBONE,
    services,
  };
}

export class AddressBook {
  readonly #services = new Map<string, WaypointService>();
  readonly #workloads = new Map<string, WaypointEndpoint>();

  upsert(name: string, address: Address): void {
    if (address.type.case === "service") this.#services.set(name, serviceFrom(address.type.value));
    else if (address.type.case === "workload") this.#workloads.set(name, endpointFrom(address.type.value));
  }

  remove(name: string): void {
    this.#services.delete(name);
    this.#workloads.delete(name);
  }

  serviceByVip(ip: string): WaypointService | undefined {
    for (const s of this.#services.values()) if (s.vips.includes(ip)) return s;
    return undefined;
  }

  serviceByHost(hostname: string): WaypointService | undefined {
    for (const s of this.#services.values()) if (s.hostname === hostname) return s;
    return undefined;
  }

  workloadByIp(ip: string): WaypointEndpoint | undefined {
    for (const w of this.#workloads.values()) if (w.ip === ip) return w;
    return undefined;
  }

  /** Healthy, addressed endpoints of a service, with the target port for `servicePort`. */
  endpoints(service: WaypointService, servicePort: number): { endpoint: WaypointEndpoint; port: number }[] {
    const out: { endpoint: WaypointEndpoint; port: number }[] = [];
    for (const w of this.#workloads.values()) {
      const own = w.services.get(service.key);
      if (own === undefined || !w.healthy || w.ip === "") continue;
      const mine = own.find((p) => p.servicePort === servicePort);
      const svc = service.ports.find((p) => p.servicePort === servicePort);
      const port =
        mine !== undefined && mine.targetPort !== 0
          ? mine.targetPort
          : svc !== undefined && svc.targetPort !== 0
            ? svc.targetPort
            : servicePort;
      out.push({ endpoint: w, port });
    }
    return out.sort((a, b) => a.endpoint.uid.localeCompare(b.endpoint.uid));
  }
}
