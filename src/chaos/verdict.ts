/**
 * A run's verdict against its scenario's SLO: pure, from the load's samples and the time the
 * first fault was injected. Recovery time is measured from that fault to the end of the last
 * failed request (0 when nothing failed); a load still failing in its last tenth never recovered.
 */
import type { LoadSample } from "./load.js";
import { quantile, summarize } from "./load.js";
import type { Slo } from "./scenario.js";

export interface StepOutcome {
  readonly atS: number;
  readonly action: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ChaosResult {
  readonly scenario: string;
  readonly verdict: "pass" | "fail";
  readonly requests: number;
  readonly failed_requests: number;
  readonly p99_ms: number;
  readonly recovery_s: number;
  /** p99 of the successful requests before the first step (the steady state). */
  readonly baseline_p99_ms: number;
  readonly recovered: boolean;
  /** Each SLO limit that was exceeded, in words; empty on pass. */
  readonly breaches: readonly string[];
  readonly errors: Readonly<Record<string, number>>;
  readonly steps: readonly StepOutcome[];
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function judge(o: {
  scenario: string;
  slo: Slo;
  samples: readonly LoadSample[];
  /** ms since the load started; undefined for a scenario without steps. */
  faultAtMs: number | undefined;
  durationMs: number;
  steps: readonly StepOutcome[];
}): ChaosResult {
  const summary = summarize(o.samples);
  const faultAt = o.faultAtMs ?? o.durationMs;
  const baseline = quantile(
    o.samples.filter((s) => s.ok && s.at < faultAt).map((s) => s.latencyMs),
    0.99,
  );
  const failedAfter = o.samples.filter((s) => !s.ok && s.at + s.latencyMs >= faultAt);
  const lastFailEnd = Math.max(0, ...failedAfter.map((s) => s.at + s.latencyMs));
  const recoveryS = failedAfter.length === 0 ? 0 : Math.max(0, lastFailEnd - faultAt) / 1000;
  const tailStart = o.durationMs * 0.9;
  const recovered = !o.samples.some((s) => !s.ok && s.at >= tailStart);
  const breaches: string[] = [];
  const { slo } = o;
  if (slo.maxFailedRequests !== undefined && summary.failed > slo.maxFailedRequests)
    breaches.push(`failed requests ${summary.failed} > ${slo.maxFailedRequests}`);
  if (
    slo.maxFailedRatio !== undefined &&
    summary.requests > 0 &&
    summary.failed / summary.requests > slo.maxFailedRatio
  )
    breaches.push(`failed ratio ${round(summary.failed / summary.requests, 4)} > ${slo.maxFailedRatio}`);
  if (slo.maxP99Ms !== undefined && summary.p99Ms > slo.maxP99Ms)
    breaches.push(`p99 ${round(summary.p99Ms, 1)} ms > ${slo.maxP99Ms} ms`);
  if (slo.maxRecoveryS !== undefined && recoveryS > slo.maxRecoveryS)
    breaches.push(`recovery ${round(recoveryS, 2)} s > ${slo.maxRecoveryS} s`);
  if (!recovered) breaches.push("requests still failing in the last 10% of the load: not recovered");
  if (summary.requests === 0) breaches.push("no request was made: the load did not run");
  for (const s of o.steps) if (!s.ok) breaches.push(`step ${s.action} at ${s.atS} s failed: ${s.detail}`);
  return {
    scenario: o.scenario,
    verdict: breaches.length === 0 ? "pass" : "fail",
    requests: summary.requests,
    failed_requests: summary.failed,
    p99_ms: round(summary.p99Ms, 1),
    recovery_s: round(recoveryS, 2),
    baseline_p99_ms: round(baseline, 1),
    recovered,
    breaches,
    errors: summary.errors,
    steps: o.steps,
  };
}

export function renderReport(r: ChaosResult, slo: Slo): string {
  const limits = [
    slo.maxFailedRequests !== undefined ? `failed ≤ ${slo.maxFailedRequests}` : undefined,
    slo.maxFailedRatio !== undefined ? `failed ratio ≤ ${slo.maxFailedRatio}` : undefined,
    slo.maxP99Ms !== undefined ? `p99 ≤ ${slo.maxP99Ms} ms` : undefined,
    slo.maxRecoveryS !== undefined ? `recovery ≤ ${slo.maxRecoveryS} s` : undefined,
  ].filter((x) => x !== undefined);
  const lines = [
    `scenario ${r.scenario}: ${r.verdict.toUpperCase()}`,
    `  SLO          ${limits.join(", ")}`,
    `  requests     ${r.requests} (${r.failed_requests} failed)`,
    `  p99          ${r.p99_ms} ms (steady state before the first step: ${r.baseline_p99_ms} ms)`,
    `  recovery     ${r.recovery_s} s${r.recovered ? "" : " (not recovered)"}`,
  ];
  for (const s of r.steps) lines.push(`  step @${s.atS}s  ${s.action}: ${s.ok ? "" : "FAILED "}${s.detail}`);
  const errors = Object.entries(r.errors);
  if (errors.length > 0) lines.push(`  errors       ${errors.map(([k, v]) => `${k} ×${v}`).join(", ")}`);
  for (const b of r.breaches) lines.push(`  breach       ${b}`);
  return `${lines.join("\n")}\n`;
}
