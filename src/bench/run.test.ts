import assert from "node:assert/strict";
import { test } from "node:test";
import { combineRounds, roundOrder, type ScenarioResult } from "./run.js";

function measured(gbps: number, p90: number, newconn: number, errors: number, rss: number): ScenarioResult {
  return {
    throughput_gbps: gbps,
    throughput_multi_gbps: gbps * 2,
    rps: 1000 * gbps,
    p50_ms: p90 / 2,
    p90_ms: p90,
    p99_ms: p90 * 2,
    newconn_p50_ms: newconn,
    newconn_p99_ms: newconn * 3,
    cpu_s_per_1k_req: 0.3,
    proxy_rss_mb: rss,
    proxy_anon_mb: rss / 2,
    rate: { target: 1000, achieved: 990 + errors, errors },
    errors: { fixed_rate: errors, max_rps: 1, newconn: 0 },
    proxies: [
      {
        role: "ztunnel node-1",
        pid: 7,
        rss_mb: rss,
        anon_mb: rss / 2,
        cpu_s: gbps,
        cores_at_max: 0.5,
        cores_at_multi: gbps / 4,
      },
    ],
    machine_cores_at_max: 1.5,
    machine_cores_at_multi: 1.8,
    cdf: [[p90, 0.9]],
  };
}

test("bench rounds: each round starts one scenario later", () => {
  const s = ["direct", "ambient-l4", "sidecar"];
  assert.deepEqual(roundOrder(s, 0), ["direct", "ambient-l4", "sidecar"]);
  assert.deepEqual(roundOrder(s, 1), ["ambient-l4", "sidecar", "direct"]);
  assert.deepEqual(roundOrder(s, 3), s);
});

test("bench rounds: medians per figure, errors summed, the typical round's CDF, each round kept", () => {
  const one = measured(2, 2, 3, 0, 70);
  assert.equal(combineRounds([one]), one, "one round is reported as measured");
  const c = combineRounds([
    measured(1.7, 2.4, 4.5, 2, 72),
    measured(2.6, 2.0, 3.1, 0, 70),
    measured(2.2, 2.1, 3.0, 1, 69),
  ]);
  assert.equal(c.throughput_gbps, 2.2);
  assert.equal(c.throughput_multi_gbps, 4.4);
  assert.equal(c.p90_ms, 2.1);
  assert.equal(c.newconn_p50_ms, 3.1);
  assert.equal(c.proxy_rss_mb, 70);
  assert.equal(c.proxies[0]?.rss_mb, 70);
  assert.equal(c.proxies[0]?.cpu_s, 2.2);
  assert.equal(c.proxies[0]?.pid, 7);
  assert.deepEqual(c.errors, { fixed_rate: 3, max_rps: 3, newconn: 0 });
  assert.deepEqual(c.rate, { target: 1000, achieved: 991, errors: 3 });
  assert.deepEqual(c.cdf, [[2.1, 0.9]], "the round whose p90 is the median");
  assert.deepEqual(
    c.rounds?.map((r) => r.throughput_gbps),
    [1.7, 2.6, 2.2],
  );
  const even = combineRounds([measured(2, 2, 3, 0, 70), measured(3, 2, 3, 0, 70)]);
  assert.equal(even.throughput_gbps, 2.5, "two rounds: the mean of the middle pair");
  assert.throws(() => combineRounds([]), /no rounds/);
});
