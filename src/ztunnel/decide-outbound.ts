/**
 * Where does an outbound connection go? A pure function of the state: the I/O code in
 * `outbound.ts` executes the decision. Istio ambient semantics:
 * - the source must be a workload on this node enrolled in the mesh; otherwise its traffic passes
 *   through unchanged (SOCKS5 has no such excuse: an unknown client is refused);
 * - the destination is a service VIP:port (one healthy endpoint is chosen, round-robin) or a
 *   workload IP; anything else is outside the mesh and passes through;
 * - a service (for VIP traffic) or workload (for pod-IP traffic) with a waypoint is reached through
 *   the waypoint, with the original VIP:port / IP:port as the CONNECT authority;
 * - a destination not enrolled (or in monitor mode) is reached directly, in plaintext;
 * - a source in monitor mode is observed but its traffic passes through unchanged.
 */
import { hostPort } from "./addresses.js";
import type { GatewayRef, ServiceInfo, WorkloadInfo, ZtunnelState } from "./state.js";
import { HBONE_PORT } from "./state.js";

export interface OutboundRequest {
  readonly srcIp: string;
  readonly dst: { readonly ip: string; readonly port: number };
  /** How the connection reached ztunnel: captured (15001) or explicit SOCKS5 (15080). */
  readonly entry: "capture" | "socks5";
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export type OutboundDecision =
  | {
      readonly kind: "passthrough";
      readonly reason: string;
      /** Where to connect in plaintext (the original destination, or the chosen endpoint of a VIP). */
      readonly target: Endpoint;
      readonly source: WorkloadInfo | undefined;
      readonly destination: WorkloadInfo | undefined;
      readonly service: ServiceInfo | undefined;
      /** Monitor mode: observe (metrics, access log, would-deny) but do not change the traffic. */
      readonly monitor: boolean;
    }
  | {
      readonly kind: "hbone";
      readonly source: WorkloadInfo;
      /** The workload the bytes are for (undefined when going through a waypoint to a service). */
      readonly destination: WorkloadInfo | undefined;
      readonly service: ServiceInfo | undefined;
      /** Where the TLS connection goes: the destination's (or waypoint's) IP, port 15008. */
      readonly target: Endpoint;
      /** `:authority` of the CONNECT: the destination ip:port, or the VIP:port when via a waypoint. */
      readonly authority: string;
      /** SPIFFE URIs the server certificate may carry. */
      readonly expectedIdentities: readonly string[];
      readonly waypoint: WorkloadInfo | undefined;
    }
  | { readonly kind: "deny"; readonly reason: string; readonly source: WorkloadInfo | undefined };

export interface DecideOptions {
  /** Picks an endpoint index in [0, n); round-robin per service by default. Tests pass a fixed picker. */
  readonly pick?: (serviceKey: string, n: number) => number;
}

function targetPortFor(service: ServiceInfo, endpoint: WorkloadInfo, port: number): number | undefined {
  const own = endpoint.services.get(service.key)?.find((p) => p.servicePort === port);
  if (own !== undefined && own.targetPort !== 0) return own.targetPort;
  const svc = service.ports.find((p) => p.servicePort === port);
  if (svc !== undefined) return svc.targetPort !== 0 ? svc.targetPort : svc.servicePort;
  // A service that declares no ports forwards every port unchanged (headless-like).
  if (service.ports.length === 0 && own === undefined) return port;
  return own?.servicePort;
}

function pickEndpoint(
  state: ZtunnelState,
  service: ServiceInfo,
  port: number | undefined,
  options: DecideOptions,
): { workload: WorkloadInfo; port: number } | undefined {
  const candidates: { workload: WorkloadInfo; port: number }[] = [];
  for (const w of state.endpoints(service)) {
    if (!w.healthy || w.addresses.length === 0) continue;
    const p = port === undefined ? 0 : targetPortFor(service, w, port);
    if (p === undefined) continue;
    candidates.push({ workload: w, port: p });
  }
  if (candidates.length === 0) return undefined;
  const pick = options.pick ?? ((key, n) => state.nextIndex(key, n));
  return candidates[pick(service.key, candidates.length)] ?? candidates[0];
}

/** The waypoint workload to tunnel to and the port it serves HBONE on. */
function resolveWaypoint(
  state: ZtunnelState,
  ref: GatewayRef,
  options: DecideOptions,
): { workload: WorkloadInfo; ip: string; port: number } | undefined {
  if (ref.kind === "address") {
    const w = state.workloadByIp(ref.ip);
    if (w !== undefined) return { workload: w, ip: ref.ip, port: ref.port };
    const svc = state.serviceByVip(ref.ip);
    if (svc === undefined) return undefined;
    const ep = pickEndpoint(state, svc, undefined, options);
    return ep === undefined
      ? undefined
      : { workload: ep.workload, ip: ep.workload.addresses[0]!, port: ref.port };
  }
  const svc = state.serviceByHost(ref.namespace, ref.hostname);
  if (svc === undefined) return undefined;
  const ep = pickEndpoint(state, svc, undefined, options);
  return ep === undefined
    ? undefined
    : { workload: ep.workload, ip: ep.workload.addresses[0]!, port: ref.port };
}

export function decideOutbound(
  state: ZtunnelState,
  req: OutboundRequest,
  options: DecideOptions = {},
): OutboundDecision {
  const original: Endpoint = { ip: req.dst.ip, port: req.dst.port };
  const src = state.workloadByIp(req.srcIp);
  const pass = (
    reason: string,
    extra: Partial<{
      target: Endpoint;
      destination: WorkloadInfo;
      service: ServiceInfo;
      monitor: boolean;
    }> = {},
  ): OutboundDecision => ({
    kind: "passthrough",
    reason,
    target: extra.target ?? original,
    source: src,
    destination: extra.destination,
    service: extra.service,
    monitor: extra.monitor ?? false,
  });

  if (src === undefined || !state.isLocal(src)) {
    const why =
      src === undefined
        ? `source ${req.srcIp} is not a known workload`
        : `source ${src.uid} runs on node "${src.node}", not here`;
    if (req.entry === "socks5")
      return { kind: "deny", reason: `${why}; SOCKS5 serves only local workloads`, source: src };
    return pass(why);
  }
  const service = state.serviceByVip(req.dst.ip);
  const dstWorkload = service === undefined ? state.workloadByIp(req.dst.ip) : undefined;

  if (src.mode === "monitor") {
    return pass(`source ${src.uid} is in monitor mode`, {
      monitor: true,
      ...(service !== undefined ? { service } : {}),
      ...(dstWorkload !== undefined ? { destination: dstWorkload } : {}),
    });
  }

  if (src.tunnel !== "hbone") {
    if (req.entry === "socks5")
      return { kind: "deny", reason: `source ${src.uid} is not enrolled in the mesh`, source: src };
    return pass(`source ${src.uid} is not enrolled in the mesh`);
  }

  if (service !== undefined) {
    if (service.waypoint !== undefined && !isWaypointOf(src, service.waypoint, state)) {
      const wp = resolveWaypoint(state, service.waypoint, options);
      if (wp === undefined)
        return {
          kind: "deny",
          reason: `waypoint of service ${service.key} has no usable endpoint`,
          source: src,
        };
      return {
        kind: "hbone",
        source: src,
        destination: undefined,
        service,
        target: { ip: wp.ip, port: wp.port },
        authority: hostPort(req.dst.ip, req.dst.port),
        expectedIdentities: [wp.workload.identity],
        waypoint: wp.workload,
      };
    }
    const ep = pickEndpoint(state, service, req.dst.port, options);
    if (ep === undefined) {
      return {
        kind: "deny",
        reason: `service ${service.key} has no healthy endpoint for port ${req.dst.port}`,
        source: src,
      };
    }
    return toWorkload(src, ep.workload, ep.workload.addresses[0]!, ep.port, service, pass);
  }

  if (dstWorkload !== undefined) {
    if (dstWorkload.waypoint !== undefined && !isWaypointOf(src, dstWorkload.waypoint, state)) {
      const wp = resolveWaypoint(state, dstWorkload.waypoint, options);
      if (wp === undefined)
        return {
          kind: "deny",
          reason: `waypoint of workload ${dstWorkload.uid} has no usable endpoint`,
          source: src,
        };
      return {
        kind: "hbone",
        source: src,
        destination: dstWorkload,
        service: undefined,
        target: { ip: wp.ip, port: wp.port },
        authority: hostPort(req.dst.ip, req.dst.port),
        expectedIdentities: [wp.workload.identity],
        waypoint: wp.workload,
      };
    }
    return toWorkload(src, dstWorkload, req.dst.ip, req.dst.port, undefined, pass);
  }

  return pass(`destination ${hostPort(req.dst.ip, req.dst.port)} is outside the mesh`);
}

function toWorkload(
  src: WorkloadInfo,
  dst: WorkloadInfo,
  ip: string,
  port: number,
  service: ServiceInfo | undefined,
  pass: (
    reason: string,
    extra: { target: Endpoint; destination: WorkloadInfo; service?: ServiceInfo },
  ) => OutboundDecision,
): OutboundDecision {
  if (dst.tunnel !== "hbone" || dst.mode === "monitor") {
    const why = dst.mode === "monitor" ? "is in monitor mode" : "is not enrolled in the mesh";
    return pass(`destination ${dst.uid} ${why}`, {
      target: { ip, port },
      destination: dst,
      ...(service ? { service } : {}),
    });
  }
  return {
    kind: "hbone",
    source: src,
    destination: dst,
    service,
    target: { ip, port: HBONE_PORT },
    authority: hostPort(ip, port),
    expectedIdentities: [dst.identity],
    waypoint: undefined,
  };
}

/** A waypoint's own traffic to the service it fronts must not loop back into itself. */
function isWaypointOf(src: WorkloadInfo, ref: GatewayRef, state: ZtunnelState): boolean {
  if (ref.kind === "address") {
    if (src.addresses.includes(ref.ip)) return true;
    const svc = state.serviceByVip(ref.ip);
    return svc !== undefined && src.services.has(svc.key);
  }
  return src.services.has(`${ref.namespace}/${ref.hostname}`);
}
