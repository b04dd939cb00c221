/**
 * The request headers an HBONE CONNECT carries, as istio/ztunnel writes and reads them
 * (src/proxy/outbound.rs `baggage()`, src/proxy/metadata-style `parse_baggage_header`):
 *   baggage:     k8s.cluster.name=…,k8s.namespace.name=…,k8s.<kind>.name=…,service.name=…,service.version=…
 *   forwarded:   for=<source ip>            (RFC 7239; IPv6 quoted and bracketed)
 *   traceparent: 00-<trace-id>-<parent-id>-<flags>   (W3C Trace Context)
 * They describe the source for telemetry only: the peer identity always comes from the
 * certificate, never from these headers.
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

/** Source workload metadata (OpenTelemetry resource attribute names, as Istio uses them). */
export interface SourceMetadata {
  cluster?: string;
  namespace?: string;
  /** Kubernetes workload kind in lower case: deployment, cronjob, job, pod, statefulset, … */
  workloadKind?: string;
  workloadName?: string;
  serviceName?: string;
  serviceVersion?: string;
  region?: string;
  zone?: string;
}

/** Workload kinds whose `k8s.<kind>.name` key ztunnel reads back as the workload name. */
const WORKLOAD_NAME_KEYS = new Set([
  "k8s.deployment.name",
  "k8s.cronjob.name",
  "k8s.job.name",
  "k8s.pod.name",
  "k8s.statefulset.name",
  "k8s.daemonset.name",
  "k8s.replicaset.name",
]);

// W3C baggage values are percent-encoded where they are not "baggage-octets"; our values are
// Kubernetes names so this is normally a no-op, but an odd value must not break the list syntax.
function encodeValue(v: string): string {
  return encodeURIComponent(v);
}
function decodeValue(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export function buildBaggage(m: SourceMetadata): string {
  const parts: string[] = [];
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined && value !== "") parts.push(`${key}=${encodeValue(value)}`);
  };
  add("k8s.cluster.name", m.cluster);
  add("k8s.namespace.name", m.namespace);
  add(`k8s.${(m.workloadKind ?? "deployment").toLowerCase()}.name`, m.workloadName);
  add("service.name", m.serviceName);
  add("service.version", m.serviceVersion);
  add("cloud.region", m.region);
  add("cloud.availability_zone", m.zone);
  return parts.join(",");
}

/** Lenient like ztunnel: unknown keys and malformed members are skipped, never an error. */
export function parseBaggage(value: string | readonly string[] | undefined): SourceMetadata {
  const out: SourceMetadata = {};
  if (value === undefined) return out;
  const values = typeof value === "string" ? [value] : value;
  for (const v of values) {
    for (const member of v.split(",")) {
      const eq = member.indexOf("=");
      if (eq <= 0) continue;
      const key = member.slice(0, eq).trim();
      // Properties after ';' are metadata about the entry, not part of the value.
      const raw =
        member
          .slice(eq + 1)
          .split(";")[0]
          ?.trim() ?? "";
      if (raw === "") continue;
      const val = decodeValue(raw);
      switch (key) {
        case "k8s.cluster.name":
          out.cluster = val;
          break;
        case "k8s.namespace.name":
          out.namespace = val;
          break;
        case "service.name":
          out.serviceName = val;
          break;
        case "service.version":
          out.serviceVersion = val;
          break;
        case "cloud.region":
          out.region = val;
          break;
        case "cloud.availability_zone":
          out.zone = val;
          break;
        default:
          if (WORKLOAD_NAME_KEYS.has(key)) {
            out.workloadName = val;
            out.workloadKind = key.slice("k8s.".length, -".name".length);
          }
      }
    }
  }
  return out;
}

export function buildForwarded(sourceIp: string): string {
  // RFC 7239 §6: an IPv6 node must be bracketed and, since ':' is not a token char, quoted.
  return isIP(sourceIp) === 6 ? `for="[${sourceIp}]"` : `for=${sourceIp}`;
}

/** The first `for=` address in a Forwarded header (the original client), or undefined. */
export function parseForwarded(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      if (v.startsWith("[")) {
        const close = v.indexOf("]");
        if (close > 0) v = v.slice(1, close);
      }
      return v === "" ? undefined : v;
    }
  }
  return undefined;
}

export interface TraceParent {
  traceId: string;
  parentId: string;
  flags: number;
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_PARENT = "0".repeat(16);

/** A fresh trace context (not sampled, like ztunnel's TraceParent::new). `traceId` may be reused. */
export function newTraceParent(traceId?: string): TraceParent {
  const id =
    traceId !== undefined && /^[0-9a-f]{32}$/.test(traceId) && traceId !== ZERO_TRACE
      ? traceId
      : randomBytes(16).toString("hex");
  return { traceId: id, parentId: randomBytes(8).toString("hex"), flags: 0 };
}

export function formatTraceParent(t: TraceParent): string {
  return `00-${t.traceId}-${t.parentId}-${t.flags.toString(16).padStart(2, "0")}`;
}

/** Version 00 only; all-zero ids are invalid per W3C Trace Context §3.2.2. */
export function parseTraceParent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT_RE.exec(value.trim().toLowerCase());
  if (m === null) return undefined;
  const [, traceId, parentId, flags] = m;
  if (traceId === undefined || parentId === undefined || flags === undefined) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/** Header values an HBONE client adds to its CONNECT; every field optional. */
export interface ConnectHeaders {
  baggage?: string;
  forwarded?: string;
  traceparent?: string;
}

export interface ConnectTarget {
  host: string;
  port: number;
}

/** `:authority` of an HBONE CONNECT: `ip:port`, `[ipv6]:port` or `name:port` (RFC 9113 §8.5). */
export function formatAuthority(target: ConnectTarget): string {
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

const HOST_NAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Undefined when the authority is not `host:port` with a port 1–65535 (the server answers 400). */
export function parseAuthority(authority: string | undefined): ConnectTarget | undefined {
  if (authority === undefined || authority.length === 0 || authority.length > 300) return undefined;
  let host: string;
  let portText: string;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0 || authority[close + 1] !== ":") return undefined;
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    // node's isIP accepts a zone id (`fe80::1%eth0`); a CONNECT target is an address, never an interface.
    if (isIP(host) !== 6 || host.includes("%")) return undefined;
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon <= 0) return undefined;
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (isIP(host) !== 4 && !HOST_NAME_RE.test(host)) return undefined;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}
