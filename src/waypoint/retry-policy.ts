/**
 * When the waypoint retries a request: a pure judgement of one attempt's outcome against the route's
 * retry policy, with the conditions as Envoy's router defines them (`x-envoy-retry-on` values, which
 * Istio's `retries.retryOn` passes through), and Envoy's default back-off between attempts.
 */
import type { Rand, RetrySpec } from "../routing/index.js";

/** How one upstream attempt ended, as far as retrying cares. */
export type AttemptOutcome =
  | { readonly kind: "response"; readonly status: number; readonly grpcStatus?: number }
  /** The HBONE tunnel to the endpoint could not be opened. */
  | { readonly kind: "connect-failure" }
  /** The upstream stream was reset (HTTP/2 REFUSED_STREAM). */
  | { readonly kind: "refused-stream" }
  /** The upstream closed or failed before sending response headers. */
  | { readonly kind: "reset" }
  /** The attempt exceeded `perTryTimeout`. */
  | { readonly kind: "per-try-timeout" };

/** Largest request body kept for re-sending (Envoy buffers a retried request's body up to a per-request limit). */
export const RETRY_BUFFER_LIMIT = 64 * 1024;

/** gRPC status codes of Envoy's `x-envoy-retry-grpc-on` names. */
const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  cancelled: 1,
  "deadline-exceeded": 4,
  "resource-exhausted": 8,
  internal: 13,
  unavailable: 14,
};

/** Envoy's default retry back-off: base 25 ms, capped at 10× the base. */
const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 250;

/** Whether `outcome` is retriable under `spec` (attempt budget aside). */
export function retriable(spec: RetrySpec, outcome: AttemptOutcome): boolean {
  const on = new Set(spec.retryOn);
  switch (outcome.kind) {
    case "connect-failure":
      // 5xx and gateway-error include connection failures (Envoy: "does not respond at all").
      return on.has("connect-failure") || on.has("5xx") || on.has("gateway-error") || on.has("reset");
    case "refused-stream":
      return on.has("refused-stream") || on.has("5xx") || on.has("gateway-error") || on.has("reset");
    case "reset":
    case "per-try-timeout":
      // Envoy treats a per-try timeout like a reset: retried under 5xx, gateway-error and reset only.
      return on.has("5xx") || on.has("gateway-error") || on.has("reset");
    case "response": {
      const s = outcome.status;
      if (on.has("5xx") && s >= 500 && s <= 599) return true;
      if (on.has("gateway-error") && (s === 502 || s === 503 || s === 504)) return true;
      // retriable-4xx is 409 (Conflict) only.
      if (on.has("retriable-4xx") && s === 409) return true;
      if (on.has("retriable-status-codes") && spec.retriableStatusCodes.includes(s)) return true;
      if (outcome.grpcStatus !== undefined)
        for (const [name, code] of Object.entries(GRPC_RETRY_ON))
          if (on.has(name) && outcome.grpcStatus === code) return true;
      return false;
    }
  }
}

/** Fully jittered exponential back-off before retry number `retry` (1-based), in ms. */
export function backoffMs(retry: number, rand: Rand): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * (2 ** Math.max(0, retry) - 1));
  return Math.floor(rand() * ceiling);
}
