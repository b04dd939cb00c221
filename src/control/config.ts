/**
 * `ambit control` options → validated, frozen config. The one place the control plane reads
 * the environment (`$AMBIT_HOME`).
 */
import { resolve } from "node:path";
import { SpiffeId } from "../identity/spiffe.js";
import { ControlError, ControlErrorCode } from "./errors.js";

export interface ControlOptions {
  home?: string;
  xdsAddress?: string;
  /** Extra admin listener on loopback TCP, `127.0.0.1:port`; the unix socket is always there. */
  adminAddress?: string;
  trustDomain?: string;
  /** Default (and maximum) workload certificate lifetime, e.g. `1h`, `30m`; at least 5m. */
  certTtl?: string;
  /**
   * Test-only floor below the 5-minute minimum of `certTtl` (seconds), so tests watch renewals at
   * half-life without waiting minutes. Never for production: peers would renew constantly.
   */
  testOnlyMinCertTtlSeconds?: number;
  /** A plug-in CA in Istio's cacerts layout, imported into `<home>/ca/` on first start. */
  caDir?: string;
  debounceMs?: number;
  storeDebounceMs?: number;
}

export interface ControlConfig {
  readonly home: string;
  readonly xdsHost: string;
  readonly xdsPort: number;
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  readonly trustDomain: string;
  readonly certTtlSeconds: number;
  readonly caDir: string | undefined;
  readonly clusterId: string;
  readonly network: string;
  readonly rootNamespace: string;
  readonly domainSuffix: string;
  readonly debounceMs: number;
  readonly storeDebounceMs: number;
}

/** `$AMBIT_HOME`, else `./.ambit` (DESIGN §5). */
export function resolveHome(flag?: string): string {
  return resolve(flag ?? process.env["AMBIT_HOME"] ?? ".ambit");
}

/** Workload certificates live at least 5 minutes (issue 5) and at most 90 days (Istio's max-workload-cert-ttl). */
export const MIN_CERT_TTL_SECONDS = 300;
export const MAX_CERT_TTL_SECONDS = 90 * 86400;

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) {
    throw new ControlError(
      ControlErrorCode.BAD_OPTIONS,
      `${what} ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:15014)`,
    );
  }
  return { host: (m[1] ?? "").replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}

export function controlConfig(o: ControlOptions): ControlConfig {
  const trustDomain = o.trustDomain ?? "cluster.local";
  try {
    SpiffeId.of("ns", "sa", trustDomain);
  } catch (e) {
    throw new ControlError(
      ControlErrorCode.BAD_OPTIONS,
      `--trust-domain ${JSON.stringify(trustDomain)} is not valid`,
      { cause: e },
    );
  }
  const ttl = parseDuration(o.certTtl ?? "1h");
  const minTtl = o.testOnlyMinCertTtlSeconds ?? MIN_CERT_TTL_SECONDS;
  if (ttl === undefined || ttl < minTtl || ttl > MAX_CERT_TTL_SECONDS) {
    throw new ControlError(
      ControlErrorCode.BAD_OPTIONS,
      `--cert-ttl ${JSON.stringify(o.certTtl)} must be a duration between ${minTtl >= 60 ? `${minTtl / 60}m` : `${minTtl}s`} and 90d (e.g. 1h)`,
    );
  }
  const xds = parseHostPort(o.xdsAddress ?? "0.0.0.0:15012", "--xds-address");
  const admin = o.adminAddress === undefined ? undefined : parseHostPort(o.adminAddress, "--admin-address");
  return Object.freeze({
    home: resolveHome(o.home),
    xdsHost: xds.host,
    xdsPort: xds.port,
    admin,
    trustDomain,
    certTtlSeconds: Math.floor(ttl),
    caDir: o.caDir === undefined ? undefined : resolve(o.caDir),
    clusterId: "Kubernetes",
    network: "",
    rootNamespace: "istio-system",
    domainSuffix: "cluster.local",
    debounceMs: o.debounceMs ?? 100,
    storeDebounceMs: o.storeDebounceMs ?? 100,
  });
}
