/**
 * What the dashboard page shows, in one JSON document: `GET /api/snapshot` answers it and the
 * `/events` stream pushes it every second. The web code imports these types only.
 */
import type { TrafficReport } from "../control/traffic-collector.js";
import type { HealthReport } from "../telemetry/health/model.js";

export interface CertificateView {
  readonly name: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface DashboardSnapshot {
  readonly at: number;
  /** null when the health model could not be computed; `healthError` says why. */
  readonly health: HealthReport | null;
  readonly healthError: string | null;
  readonly traffic: TrafficReport;
  /** Leaves in use and the CA's certificates, soonest expiry first. */
  readonly certificates: CertificateView[];
}

export interface SnapshotSources {
  health(): Promise<HealthReport>;
  certificates(): readonly CertificateView[];
  traffic(): Promise<TrafficReport>;
  now?: () => number;
}

export async function buildSnapshot(s: SnapshotSources): Promise<DashboardSnapshot> {
  const [health, traffic] = await Promise.all([
    s.health().then(
      (r) => ({ report: r, error: null }),
      (e: unknown) => ({ report: null, error: e instanceof Error ? e.message : String(e) }),
    ),
    s.traffic(),
  ]);
  return {
    at: (s.now ?? Date.now)(),
    health: health.report,
    healthError: health.error,
    traffic,
    certificates: [...s.certificates()].sort((a, b) => a.notAfter - b.notAfter),
  };
}
