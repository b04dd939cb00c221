/**
 * The mesh health model (DESIGN §8): five weighted indicators, each compared with its threshold,
 * each with a state and a recommended action, folded into one score from 0 to 100. Pure: the
 * collector in the control plane gathers plain numbers and lists, this decides.
 * docs/health.md is the user's reference of every formula below.
 */
import { HealthError, HealthErrorCode } from "./errors.js";

export type HealthState = "ok" | "notice" | "warning" | "critical";

export const HEALTH_STATES: readonly HealthState[] = ["ok", "notice", "warning", "critical"];

/** How much of its weight an indicator keeps in each state. */
export const STATE_FRACTION: Readonly<Record<HealthState, number>> = Object.freeze({
  ok: 1,
  notice: 0.75,
  warning: 0.4,
  critical: 0,
});

export type IndicatorName =
  | "certificate_expiry"
  | "pool_hit_rate"
  | "hbone_error_rate"
  | "zone_imbalance"
  | "config_freshness";

export const WEIGHTS: Readonly<Record<IndicatorName, number>> = Object.freeze({
  certificate_expiry: 0.3,
  pool_hit_rate: 0.2,
  hbone_error_rate: 0.25,
  zone_imbalance: 0.15,
  config_freshness: 0.1,
});

export const ACTIONS: Readonly<Record<IndicatorName, string>> = Object.freeze({
  certificate_expiry: "rotate the CA / check renewal",
  pool_hit_rate: "scale ztunnel / check churn",
  hbone_error_rate: "check handshake and TLS parameters",
  zone_imbalance: "adjust load balancing / locality",
  config_freshness: "check the node's xDS errors (ambit status)",
});

/** The action of an indicator that is ok, and of one without data. */
export const NO_ACTION = "none";
export const NO_DATA = "no data";

export interface HealthThresholds {
  /** Hours left below which a certificate in use is a warning. */
  readonly certificateHours: number;
  /** Pool hit rate (%) below which the pool is a warning. */
  readonly poolHitPercent: number;
  /** HBONE handshake error rate (%) above which it is critical. */
  readonly hboneErrorPercent: number;
  /** Largest zone traffic-vs-endpoint share gap (percentage points) above which it is a notice. */
  readonly zoneImbalancePercent: number;
  /** Nodes behind on config above which freshness is a warning. */
  readonly staleNodes: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = Object.freeze({
  certificateHours: 72,
  poolHitPercent: 85,
  hboneErrorPercent: 2,
  zoneImbalancePercent: 15,
  staleNodes: 0,
});

/**
 * A certificate in use. A workload leaf lives an hour by default and is renewed at half-life, so
 * 72 h would flag every healthy leaf: a certificate's own threshold is the smaller of the
 * configured hours and a quarter of its lifetime (renewal is overdue by then).
 */
export interface CertificateInput {
  readonly name: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface ZoneInput {
  readonly zone: string;
  /** Connections accepted in this zone (inbound, reporter="destination"). */
  readonly connections: number;
  /** Running workloads (endpoints) scheduled in this zone. */
  readonly endpoints: number;
}

export interface NodeConfigInput {
  readonly node: string;
  /** True when some resource type's latest push is not ACKed, or the node NACKed it. */
  readonly behind: boolean;
}

export interface HealthInputs {
  /** Milliseconds since the epoch. */
  readonly now: number;
  readonly certificates: readonly CertificateInput[];
  readonly poolHits: number;
  readonly poolMisses: number;
  readonly hboneAttempts: number;
  readonly hboneErrors: number;
  readonly zones: readonly ZoneInput[];
  readonly nodes: readonly NodeConfigInput[];
}

export interface Indicator {
  readonly name: IndicatorName;
  readonly weight: number;
  /** null: no data yet (the indicator counts as ok). */
  readonly value: number | null;
  readonly threshold: number;
  readonly state: HealthState;
  readonly action: string;
}

export interface HealthReport {
  readonly score: number;
  readonly indicators: readonly Indicator[];
}

export function assessHealth(inputs: HealthInputs, overrides: Partial<HealthThresholds> = {}): HealthReport {
  const t = thresholdsOf(overrides);
  const indicators = [
    certificateExpiry(inputs, t),
    poolHitRate(inputs, t),
    hboneErrorRate(inputs, t),
    zoneImbalance(inputs, t),
    configFreshness(inputs, t),
  ];
  const sum = indicators.reduce((acc, i) => acc + i.weight * STATE_FRACTION[i.state], 0);
  // Rounded to a tenth so float noise (0.1 + 0.2…) never shows; 100 only when every indicator is ok.
  return { score: Math.round(sum * 1000) / 10, indicators };
}

/** The worst state of a report; `ambit health` turns it into its exit code. */
export function worstState(report: HealthReport): HealthState {
  let worst = 0;
  for (const i of report.indicators) worst = Math.max(worst, HEALTH_STATES.indexOf(i.state));
  return HEALTH_STATES[worst] ?? "ok";
}

export function exitCodeOf(state: HealthState): number {
  return HEALTH_STATES.indexOf(state);
}

function thresholdsOf(overrides: Partial<HealthThresholds>): HealthThresholds {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides };
  for (const [k, v] of Object.entries(t)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new HealthError(
        HealthErrorCode.BadThreshold,
        `threshold ${k}=${String(v)} must be a finite number ≥ 0 (default ${String(DEFAULT_THRESHOLDS[k as keyof HealthThresholds])})`,
      );
    }
  }
  return t;
}

function indicator(
  name: IndicatorName,
  value: number | null,
  threshold: number,
  state: HealthState,
): Indicator {
  const action = value === null ? NO_DATA : state === "ok" ? NO_ACTION : ACTIONS[name];
  return { name, weight: WEIGHTS[name], value, threshold, state, action };
}

const HOUR_MS = 3_600_000;

/** Hours, rounded to a hundredth (36 s) for display; comparisons use the exact numbers. */
function hours(ms: number): number {
  return Math.round((ms / HOUR_MS) * 100) / 100;
}

function percent(ratio: number): number {
  return Math.round(ratio * 10_000) / 100;
}

/**
 * The most urgent certificate is the one with the least time left relative to its own threshold;
 * value and threshold are that certificate's, so `value < threshold` ⇔ not ok. Expired → critical.
 */
function certificateExpiry(inputs: HealthInputs, t: HealthThresholds): Indicator {
  let urgent: { leftMs: number; thresholdMs: number } | undefined;
  for (const c of inputs.certificates) {
    const leftMs = c.notAfter - inputs.now;
    const thresholdMs = Math.min(t.certificateHours * HOUR_MS, (c.notAfter - c.notBefore) / 4);
    const candidate = { leftMs, thresholdMs };
    if (urgent === undefined || moreUrgent(candidate, urgent)) urgent = candidate;
  }
  if (urgent === undefined) return indicator("certificate_expiry", null, t.certificateHours, "ok");
  const state: HealthState =
    urgent.leftMs <= 0 ? "critical" : urgent.leftMs < urgent.thresholdMs ? "warning" : "ok";
  return indicator("certificate_expiry", hours(urgent.leftMs), hours(urgent.thresholdMs), state);
}

/** An expired certificate beats any live one; among the rest, the least margin over its threshold. */
function moreUrgent(
  a: { leftMs: number; thresholdMs: number },
  b: { leftMs: number; thresholdMs: number },
): boolean {
  const aExpired = a.leftMs <= 0;
  const bExpired = b.leftMs <= 0;
  if (aExpired !== bExpired) return aExpired;
  if (aExpired) return a.leftMs < b.leftMs;
  return a.leftMs - a.thresholdMs < b.leftMs - b.thresholdMs;
}

function poolHitRate(inputs: HealthInputs, t: HealthThresholds): Indicator {
  const total = inputs.poolHits + inputs.poolMisses;
  if (total <= 0) return indicator("pool_hit_rate", null, t.poolHitPercent, "ok");
  const rate = (100 * inputs.poolHits) / total;
  return indicator(
    "pool_hit_rate",
    percent(rate / 100),
    t.poolHitPercent,
    rate < t.poolHitPercent ? "warning" : "ok",
  );
}

function hboneErrorRate(inputs: HealthInputs, t: HealthThresholds): Indicator {
  // Errors without a counted attempt (a counter reset on one node) must not exceed 100 %.
  const attempts = Math.max(inputs.hboneAttempts, inputs.hboneErrors);
  if (attempts <= 0) return indicator("hbone_error_rate", null, t.hboneErrorPercent, "ok");
  const rate = (100 * inputs.hboneErrors) / attempts;
  return indicator(
    "hbone_error_rate",
    percent(rate / 100),
    t.hboneErrorPercent,
    rate > t.hboneErrorPercent ? "critical" : "ok",
  );
}

/**
 * max over zones of |zone's share of connections − zone's share of endpoints|, in percentage
 * points. Needs two zones and some traffic: one zone cannot be imbalanced against itself.
 */
function zoneImbalance(inputs: HealthInputs, t: HealthThresholds): Indicator {
  const totalConnections = inputs.zones.reduce((a, z) => a + z.connections, 0);
  const totalEndpoints = inputs.zones.reduce((a, z) => a + z.endpoints, 0);
  if (inputs.zones.length < 2 || totalConnections <= 0 || totalEndpoints <= 0) {
    return indicator("zone_imbalance", null, t.zoneImbalancePercent, "ok");
  }
  let gap = 0;
  for (const z of inputs.zones) {
    gap = Math.max(gap, Math.abs(z.connections / totalConnections - z.endpoints / totalEndpoints));
  }
  const value = percent(gap);
  return indicator(
    "zone_imbalance",
    value,
    t.zoneImbalancePercent,
    // Compared after rounding so 15.000000000000002 (float noise) is not above 15.
    value > t.zoneImbalancePercent ? "notice" : "ok",
  );
}

function configFreshness(inputs: HealthInputs, t: HealthThresholds): Indicator {
  if (inputs.nodes.length === 0) return indicator("config_freshness", null, t.staleNodes, "ok");
  const behind = inputs.nodes.filter((n) => n.behind).length;
  return indicator("config_freshness", behind, t.staleNodes, behind > t.staleNodes ? "warning" : "ok");
}
