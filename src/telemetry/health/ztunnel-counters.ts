/**
 * The counters of one ztunnel's /metrics that the health model reads. Names are those
 * src/telemetry/metrics.ts registers; counters are cumulative since the ztunnel started.
 */
import { type Sample, sumOf } from "./prometheus-text.js";

export const POOL_HITS = "ambit_hbone_pool_hits_total";
export const POOL_MISSES = "ambit_hbone_pool_misses_total";
export const HANDSHAKE_ERRORS = "ambit_hbone_handshake_errors_total";
export const TCP_OPENED = "istio_tcp_connections_opened_total";

export interface ZtunnelCounters {
  readonly poolHits: number;
  readonly poolMisses: number;
  /** Failed mTLS handshakes this ztunnel started (direction="outbound"). */
  readonly handshakeErrors: number;
  /** Connections this ztunnel accepted for its own workloads (reporter="destination"). */
  readonly inboundConnections: number;
}

export function ztunnelCounters(samples: readonly Sample[]): ZtunnelCounters {
  return {
    poolHits: sumOf(samples, POOL_HITS),
    poolMisses: sumOf(samples, POOL_MISSES),
    // Inbound handshake failures are the same failures seen from the other end (or non-mesh
    // scanners): counting them too would double every mesh-internal failure.
    handshakeErrors: sumOf(samples, HANDSHAKE_ERRORS, { direction: "outbound" }),
    inboundConnections: sumOf(samples, TCP_OPENED, { reporter: "destination" }),
  };
}
