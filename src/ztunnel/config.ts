/**
 * `ZtunnelOptions` (what the CLI or a test passes) → validated, frozen `ZtunnelConfig`.
 * Ports default to Istio's; 0 asks the OS for an ephemeral port (tests).
 */

import type { Socket } from "node:net";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import type { CaClient } from "../identity/cert-store.js";
import type { BackoffOptions } from "../xds/backoff.js";
import type { ClientTlsOptions } from "../xds/credentials.js";
import { isLoopback } from "./addresses.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";
import { DEFAULT_SOCKS5_LIMITS, type Socks5Limits } from "./socks5.js";

export const LISTENERS = [
  "outbound",
  "inboundPlaintext",
  "inbound",
  "socks5",
  "metrics",
  "readiness",
  "admin",
] as const;
export type ListenerName = (typeof LISTENERS)[number];

export const DEFAULT_PORTS: Readonly<Record<ListenerName, number>> = Object.freeze({
  outbound: 15001,
  inboundPlaintext: 15006,
  inbound: 15008,
  socks5: 15080,
  metrics: 15020,
  readiness: 15021,
  admin: 15000,
});

export const LISTENER_ROLES: Readonly<Record<ListenerName, string>> = Object.freeze({
  outbound: "outbound capture",
  inboundPlaintext: "inbound plaintext",
  inbound: "HBONE inbound",
  socks5: "SOCKS5",
  metrics: "Prometheus metrics",
  readiness: "readiness",
  admin: "admin",
});

export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
}

/** Reads where a captured socket was going; throws when it cannot (the connection is dropped). */
export type OriginalDstFn = (
  socket: Socket,
  listener: "outbound" | "inboundPlaintext" | "inbound",
) => OriginalDestination;

/**
 * Opens a plain TCP connection to a pod or an outside address (must set allowHalfOpen). `origin`
 * is the in-pod netns the connection must leave from, when there is one.
 */
export type UpstreamConnector = (target: { host: string; port: number }, origin?: string) => Promise<Duplex>;

export interface ControlPlaneOptions {
  /** host:port of the control plane's xDS + CA endpoint (15012). */
  readonly address: string;
  readonly tls: ClientTlsOptions;
  /** Bearer token identifying this node (or a function re-reading a token file). */
  readonly token?: string | (() => string | Promise<string>);
  /** Reconnect backoff of the xDS stream. */
  readonly backoff?: BackoffOptions;
}

export interface ZtunnelOptions {
  /** This node's name: workloads whose `node` equals it are local. */
  readonly node: string;
  readonly control: ControlPlaneOptions;
  /** Address of the capture listeners (15001, 15006, 15008); default 0.0.0.0. */
  readonly bindAddress?: string;
  /** Address of the SOCKS5 listener; default 127.0.0.1 (it is an explicit proxy for local clients). */
  readonly socks5Address?: string;
  /** Address of the metrics and readiness listeners; default: `bindAddress`. */
  readonly observabilityAddress?: string;
  /** Address of the admin listener; must be loopback (default 127.0.0.1). */
  readonly adminAddress?: string;
  /** Per-listener address overrides (e.g. an HBONE listener on 0.0.0.0 in tests). */
  readonly addresses?: Partial<Record<ListenerName, string>>;
  readonly ports?: Partial<Record<ListenerName, number>>;
  /** Disable a listener entirely (e.g. no 15001 where nothing is captured). */
  readonly disabled?: readonly ListenerName[];
  /** Replaces the CA client built from `control` (tests with an in-process CA). */
  readonly caClient?: CaClient;
  readonly certificateTtlSeconds?: number;
  /** Mesh trust bundle for workload certificates when the CA answer carries none; default: `control.tls.rootsPem`. */
  readonly meshRootsPem?: string;
  readonly originalDst?: OriginalDstFn;
  /** Dials HBONE peers (`ip:15008`); tests map it onto ephemeral ports. */
  readonly hboneConnector?: (destination: { host: string; port: number }, origin?: string) => Promise<Duplex>;
  readonly upstreamConnector?: UpstreamConnector;
  readonly socks5Limits?: Partial<Socks5Limits>;
  /** Upstream TCP connect timeout (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Bind every listener with SO_REUSEPORT (native addon), so a successor ztunnel can bind the same
   * ports and take over (docs/ztunnel.md "Hand-over"). Off by default: a taken port must fail start-up.
   */
  readonly reusePort?: boolean;
  /**
   * How pooled HBONE sessions write: "unblocked" (default) through `UnblockedWrites`, or "kernel"
   * on their TLS socket with a send buffer reserved for the server's whole window (SO_SNDBUFFORCE,
   * CAP_NET_ADMIN; a session falls back to "unblocked" when the kernel refuses). Measured in
   * docs/performance.md: "kernel" saves the client side's JavaScript write path per request and
   * loses some single-stream throughput; the default stays "unblocked".
   */
  readonly hboneWrites?: HboneWrites;
}

export const HBONE_WRITES = ["unblocked", "kernel"] as const;
export type HboneWrites = (typeof HBONE_WRITES)[number];

export interface ZtunnelConfig {
  readonly node: string;
  readonly control: ControlPlaneOptions;
  readonly listen: Readonly<
    Record<ListenerName, { readonly host: string; readonly port: number } | undefined>
  >;
  readonly caClient: CaClient | undefined;
  readonly certificateTtlSeconds: number;
  readonly meshRootsPem: string;
  readonly originalDst: OriginalDstFn | undefined;
  readonly hboneConnector: ZtunnelOptions["hboneConnector"];
  readonly upstreamConnector: UpstreamConnector | undefined;
  readonly socks5Limits: Socks5Limits;
  readonly connectTimeoutMs: number;
  readonly reusePort: boolean;
  readonly hboneWrites: HboneWrites;
}

function bad(message: string): ZtunnelError {
  return new ZtunnelError(ZtunnelErrorCode.Config, message);
}

function checkHost(field: string, host: string): string {
  if (isIP(host) === 0) throw bad(`${field} "${host}" is not an IP address; pass e.g. 0.0.0.0 or 127.0.0.2`);
  return host;
}

export function ztunnelConfig(o: ZtunnelOptions): ZtunnelConfig {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(o.node ?? "")) {
    throw bad(
      `node name "${o.node}" is not a DNS-1123 name; pass --node <name> as the control plane knows the node`,
    );
  }
  if (!/^.+:\d{1,5}$/.test(o.control?.address ?? "")) {
    throw bad(`control plane address "${o.control?.address}" is not host:port; pass --control <host:15012>`);
  }
  const bind = checkHost("bindAddress", o.bindAddress ?? "0.0.0.0");
  const admin = checkHost("adminAddress", o.adminAddress ?? "127.0.0.1");
  if (!isLoopback(admin))
    throw bad(`adminAddress ${admin} is not loopback; the admin API serves only the node itself`);
  const defaults: Record<ListenerName, string> = {
    outbound: bind,
    inboundPlaintext: bind,
    inbound: bind,
    socks5: checkHost("socks5Address", o.socks5Address ?? "127.0.0.1"),
    metrics: checkHost("observabilityAddress", o.observabilityAddress ?? bind),
    readiness: checkHost("observabilityAddress", o.observabilityAddress ?? bind),
    admin,
  };
  const disabled = new Set(o.disabled ?? []);
  const listen = {} as Record<ListenerName, { host: string; port: number } | undefined>;
  for (const name of LISTENERS) {
    const port = o.ports?.[name] ?? DEFAULT_PORTS[name];
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw bad(`port of the ${LISTENER_ROLES[name]} listener (${port}) must be 0-65535`);
    const host = checkHost(`addresses.${name}`, o.addresses?.[name] ?? defaults[name]);
    if (name === "admin" && !isLoopback(host)) throw bad(`admin address ${host} is not loopback`);
    listen[name] = disabled.has(name) ? undefined : { host, port };
  }
  const ttl = o.certificateTtlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl < 60) throw bad(`certificateTtlSeconds ${ttl} must be an integer ≥ 60`);
  const limits: Socks5Limits = { ...DEFAULT_SOCKS5_LIMITS, ...o.socks5Limits };
  if (!(limits.timeoutMs > 0) || !(limits.maxBytes >= 262))
    throw bad("socks5Limits need timeoutMs > 0 and maxBytes ≥ 262");
  const hboneWrites = o.hboneWrites ?? "unblocked";
  if (!(HBONE_WRITES as readonly string[]).includes(hboneWrites))
    throw bad(`hboneWrites "${hboneWrites}" must be one of ${HBONE_WRITES.join(", ")}`);
  return Object.freeze({
    node: o.node,
    control: o.control,
    listen: Object.freeze(listen),
    caClient: o.caClient,
    certificateTtlSeconds: ttl,
    meshRootsPem: o.meshRootsPem ?? o.control.tls.rootsPem,
    originalDst: o.originalDst,
    hboneConnector: o.hboneConnector,
    upstreamConnector: o.upstreamConnector,
    socks5Limits: Object.freeze(limits),
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    reusePort: o.reusePort ?? false,
    hboneWrites,
  });
}
