import assert from "node:assert/strict";
import { test } from "node:test";
import { ISTIO_DEFAULT_RETRIES, type RetrySpec, seededRand } from "../routing/index.js";
import { type AttemptOutcome, backoffMs, retriable } from "./retry-policy.js";

const spec = (retryOn: string[], retriableStatusCodes: number[] = []): RetrySpec => ({
  attempts: 2,
  retryOn,
  retriableStatusCodes,
});
const status = (s: number, grpcStatus?: number): AttemptOutcome =>
  grpcStatus === undefined ? { kind: "response", status: s } : { kind: "response", status: s, grpcStatus };

test("retriable: Envoy's retry_on conditions", () => {
  const cases: [string, RetrySpec, AttemptOutcome, boolean][] = [
    ["5xx: any 5xx", spec(["5xx"]), status(500), true],
    ["5xx: 503", spec(["5xx"]), status(503), true],
    ["5xx: not 4xx", spec(["5xx"]), status(404), false],
    ["5xx: connect failure", spec(["5xx"]), { kind: "connect-failure" }, true],
    ["5xx: reset", spec(["5xx"]), { kind: "reset" }, true],
    ["5xx: refused stream", spec(["5xx"]), { kind: "refused-stream" }, true],
    ["5xx: per-try timeout", spec(["5xx"]), { kind: "per-try-timeout" }, true],
    ["gateway-error: 502", spec(["gateway-error"]), status(502), true],
    ["gateway-error: 504", spec(["gateway-error"]), status(504), true],
    ["gateway-error: not 500", spec(["gateway-error"]), status(500), false],
    ["gateway-error: per-try timeout", spec(["gateway-error"]), { kind: "per-try-timeout" }, true],
    ["reset: reset", spec(["reset"]), { kind: "reset" }, true],
    ["reset: not a 503 response", spec(["reset"]), status(503), false],
    ["connect-failure: connect failure", spec(["connect-failure"]), { kind: "connect-failure" }, true],
    ["connect-failure: not a reset", spec(["connect-failure"]), { kind: "reset" }, false],
    ["connect-failure: not a per-try timeout", spec(["connect-failure"]), { kind: "per-try-timeout" }, false],
    ["refused-stream", spec(["refused-stream"]), { kind: "refused-stream" }, true],
    ["refused-stream: not a reset", spec(["refused-stream"]), { kind: "reset" }, false],
    ["retriable-4xx: 409", spec(["retriable-4xx"]), status(409), true],
    ["retriable-4xx: not 429", spec(["retriable-4xx"]), status(429), false],
    ["retriable-status-codes: listed", spec(["retriable-status-codes"], [418]), status(418), true],
    ["retriable-status-codes: not listed", spec(["retriable-status-codes"], [418]), status(503), false],
    ["codes without the condition", spec([], [503]), status(503), false],
    ["gRPC unavailable", spec(["unavailable"]), status(200, 14), true],
    ["gRPC cancelled", spec(["cancelled"]), status(200, 1), true],
    ["gRPC deadline-exceeded", spec(["deadline-exceeded"]), status(200, 4), true],
    ["gRPC internal is not unavailable", spec(["unavailable"]), status(200, 13), false],
    ["Istio default: 503", ISTIO_DEFAULT_RETRIES, status(503), true],
    ["Istio default: 500", ISTIO_DEFAULT_RETRIES, status(500), false],
    ["Istio default: connect failure", ISTIO_DEFAULT_RETRIES, { kind: "connect-failure" }, true],
    ["Istio default: reset", ISTIO_DEFAULT_RETRIES, { kind: "reset" }, false],
    ["Istio default: per-try timeout", ISTIO_DEFAULT_RETRIES, { kind: "per-try-timeout" }, false],
  ];
  for (const [name, s, outcome, want] of cases) assert.equal(retriable(s, outcome), want, name);
});

test("backoffMs: fully jittered, base 25 ms, capped at 250 ms", () => {
  const rand = seededRand(3);
  for (let retry = 1; retry <= 8; retry++) {
    const ceiling = Math.min(250, 25 * (2 ** retry - 1));
    for (let i = 0; i < 200; i++) {
      const ms = backoffMs(retry, rand);
      assert.ok(ms >= 0 && ms < ceiling, `retry ${retry}: ${ms} not in [0, ${ceiling})`);
    }
  }
  assert.equal(
    backoffMs(1, () => 0.999),
    24,
  );
});
