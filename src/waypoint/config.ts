/** `WaypointOptions` (what the CLI or a test passes) → validated, frozen `WaypointConfig`. */
import type { Duplex } from "node:stream";
import type { Resource } from "../api/types.js";
import type { CaClient } from "../identity/cert-store.js";
import type { Rand } from "../routing/index.js";
import { WaypointError, WaypointErrorCode } from "./errors.js";

export interface WaypointOptions {
  /** The waypoint's Gateway name; its service account (and so its SPIFFE identity) has the same name. */
  name: string;
  namespace: string;
  trustDomain?: string;
  control: {
    address: string;
    tls: { rootsPem: string; serverIdentity?: string };
    /** Bearer token (or a function re-reading a token file at every reconnect). */
    token?: string | (() => string | Promise<string>);
    backoff?: { initialMs: number; maxMs: number };
  };
  /** PEM roots that verify mesh peers (default: the control plane's roots). */
  meshRootsPem?: string;
  bindAddress?: string;
  /** 0 = ephemeral (tests). Defaults: Istio's 15008, 15020, 15021. */
  ports?: { hbone?: number; metrics?: number; readiness?: number };
  /** The L7 resources (routes, destination rules, policies); see docs/waypoint.md for delivery. */
  resources?: readonly Resource[];
  /** Opens the TCP connection to an HBONE peer (tests map pod IPs to in-process ztunnels). */
  hboneConnector?: (d: { host: string; port: number }) => Promise<Duplex>;
  caClient?: CaClient;
  certificateTtlSeconds?: number;
  /** Randomness for weighted routing and faults (tests inject a seeded one). */
  rand?: Rand;
  /** A silent client (a server-first protocol) is treated as opaque TCP after this long. */
  detectTimeoutMs?: number;
}

export interface WaypointConfig {
  readonly name: string;
  readonly namespace: string;
  readonly trustDomain: string;
  readonly control: WaypointOptions["control"];
  readonly meshRootsPem: string;
  readonly bindAddress: string;
  readonly ports: { readonly hbone: number; readonly metrics: number; readonly readiness: number };
  readonly resources: readonly Resource[];
  readonly hboneConnector: WaypointOptions["hboneConnector"];
  readonly caClient: CaClient | undefined;
  readonly certificateTtlSeconds: number;
  readonly rand: Rand;
  readonly detectTimeoutMs: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function port(v: number | undefined, dflt: number, what: string): number {
  const p = v ?? dflt;
  if (!Number.isInteger(p) || p < 0 || p > 65535)
    throw new WaypointError(WaypointErrorCode.Config, `${what} port ${p} is not in 0..65535`);
  return p;
}

export function waypointConfig(o: WaypointOptions): WaypointConfig {
  for (const [what, v] of [
    ["name", o.name],
    ["namespace", o.namespace],
  ] as const) {
    if (!DNS_LABEL.test(v))
      throw new WaypointError(
        WaypointErrorCode.Config,
        `waypoint ${what} ${JSON.stringify(v)} is not a DNS-1123 label (lower-case letters, digits, '-')`,
      );
  }
  if (!/^[^:]+:\d+$/.test(o.control.address) && !/^\[.+\]:\d+$/.test(o.control.address))
    throw new WaypointError(
      WaypointErrorCode.Config,
      `control plane address ${JSON.stringify(o.control.address)} is not host:port (e.g. 10.0.0.1:15012)`,
    );
  return Object.freeze({
    name: o.name,
    namespace: o.namespace,
    trustDomain: o.trustDomain ?? "cluster.local",
    control: o.control,
    meshRootsPem: o.meshRootsPem ?? o.control.tls.rootsPem,
    bindAddress: o.bindAddress ?? "0.0.0.0",
    ports: Object.freeze({
      hbone: port(o.ports?.hbone, 15008, "HBONE"),
      metrics: port(o.ports?.metrics, 15020, "metrics"),
      readiness: port(o.ports?.readiness, 15021, "readiness"),
    }),
    resources: o.resources ?? [],
    hboneConnector: o.hboneConnector,
    caClient: o.caClient,
    certificateTtlSeconds: o.certificateTtlSeconds ?? 24 * 3600,
    rand: o.rand ?? Math.random,
    detectTimeoutMs: o.detectTimeoutMs ?? 1000,
  });
}
