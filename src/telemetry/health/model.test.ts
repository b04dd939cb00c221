import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isAmbitError } from "../../errors.js";
import { HealthErrorCode } from "./errors.js";
import {
  ACTIONS,
  assessHealth,
  exitCodeOf,
  type HealthInputs,
  type HealthState,
  type Indicator,
  type IndicatorName,
  NO_ACTION,
  NO_DATA,
  worstState,
} from "./model.js";

const NOW = Date.parse("2026-11-26T00:00:00Z");
const HOUR = 3_600_000;
const YEAR = 365 * 24 * HOUR;

/** Every indicator without data. */
const EMPTY: HealthInputs = {
  now: NOW,
  certificates: [],
  poolHits: 0,
  poolMisses: 0,
  hboneAttempts: 0,
  hboneErrors: 0,
  zones: [],
  nodes: [],
};

function pick(inputs: Partial<HealthInputs>, name: IndicatorName): Indicator {
  const found = assessHealth({ ...EMPTY, ...inputs }).indicators.find((i) => i.name === name);
  assert.ok(found, name);
  return found;
}

/** A long-lived certificate (a CA) with `hoursLeft` hours to go. */
function caCert(hoursLeft: number): HealthInputs["certificates"][number] {
  return { name: "CA", notBefore: NOW - YEAR, notAfter: NOW + hoursLeft * HOUR };
}

describe("assessHealth", () => {
  test("no data anywhere: every indicator ok with value null and says no data; score 100", () => {
    const r = assessHealth(EMPTY);
    assert.equal(r.score, 100);
    assert.deepEqual(
      r.indicators.map((i) => [i.name, i.weight, i.value, i.state, i.action]),
      [
        ["certificate_expiry", 0.3, null, "ok", NO_DATA],
        ["pool_hit_rate", 0.2, null, "ok", NO_DATA],
        ["hbone_error_rate", 0.25, null, "ok", NO_DATA],
        ["zone_imbalance", 0.15, null, "ok", NO_DATA],
        ["config_freshness", 0.1, null, "ok", NO_DATA],
      ],
    );
    assert.equal(worstState(r), "ok");
  });

  const certCases: [string, HealthInputs["certificates"], number | null, number, HealthState][] = [
    ["CA with 73 h left", [caCert(73)], 73, 72, "ok"],
    ["CA with exactly 72 h left", [caCert(72)], 72, 72, "ok"],
    ["CA with 71.99 h left", [caCert(71.99)], 71.99, 72, "warning"],
    ["CA with 1 h left", [caCert(1)], 1, 72, "warning"],
    ["CA expired an hour ago", [caCert(-1)], -1, 72, "critical"],
    ["CA expiring right now", [caCert(0)], 0, 72, "critical"],
    // A 1 h leaf: its own threshold is a quarter of its life (15 min), not 72 h.
    [
      "fresh 1 h leaf",
      [{ name: "leaf", notBefore: NOW - 0.1 * HOUR, notAfter: NOW + 0.9 * HOUR }],
      0.9,
      0.25,
      "ok",
    ],
    [
      "1 h leaf at exactly a quarter of its life left",
      [{ name: "leaf", notBefore: NOW - 0.75 * HOUR, notAfter: NOW + 0.25 * HOUR }],
      0.25,
      0.25,
      "ok",
    ],
    [
      "1 h leaf not renewed (10 min left)",
      [{ name: "leaf", notBefore: NOW - (50 / 60) * HOUR, notAfter: NOW + (10 / 60) * HOUR }],
      0.17,
      0.25,
      "warning",
    ],
    [
      "the overdue leaf is more urgent than a healthy CA",
      [caCert(10_000), { name: "leaf", notBefore: NOW - 0.9 * HOUR, notAfter: NOW + 0.1 * HOUR }],
      0.1,
      0.25,
      "warning",
    ],
    [
      "an expired leaf beats a CA in warning",
      [caCert(50), { name: "leaf", notBefore: NOW - 2 * HOUR, notAfter: NOW - 0.5 * HOUR }],
      -0.5,
      0.38,
      "critical",
    ],
  ];
  for (const [name, certificates, value, threshold, state] of certCases) {
    test(`certificate_expiry: ${name} → ${state}`, () => {
      const i = pick({ certificates }, "certificate_expiry");
      assert.deepEqual([i.value, i.threshold, i.state], [value, threshold, state]);
      assert.equal(i.action, state === "ok" ? NO_ACTION : ACTIONS.certificate_expiry);
    });
  }

  const poolCases: [number, number, number, HealthState][] = [
    [86, 14, 86, "ok"],
    [85, 15, 85, "ok"],
    [84, 16, 84, "warning"],
    [0, 5, 0, "warning"],
    [10, 0, 100, "ok"],
  ];
  for (const [hits, misses, value, state] of poolCases) {
    test(`pool_hit_rate: ${hits} hits / ${misses} misses → ${value} % ${state}`, () => {
      const i = pick({ poolHits: hits, poolMisses: misses }, "pool_hit_rate");
      assert.deepEqual([i.value, i.threshold, i.state], [value, 85, state]);
      assert.equal(i.action, state === "ok" ? NO_ACTION : ACTIONS.pool_hit_rate);
    });
  }

  const hboneCases: [number, number, number, HealthState][] = [
    [1000, 19, 1.9, "ok"],
    [1000, 20, 2, "ok"],
    [1000, 21, 2.1, "critical"],
    [1000, 0, 0, "ok"],
    // Errors with no counted attempt (a restarted node) count as 100 %, never more.
    [0, 3, 100, "critical"],
  ];
  for (const [attempts, errors, value, state] of hboneCases) {
    test(`hbone_error_rate: ${errors} errors / ${attempts} attempts → ${value} % ${state}`, () => {
      const i = pick({ hboneAttempts: attempts, hboneErrors: errors }, "hbone_error_rate");
      assert.deepEqual([i.value, i.threshold, i.state], [value, 2, state]);
      assert.equal(i.action, state === "ok" ? NO_ACTION : ACTIONS.hbone_error_rate);
    });
  }

  const zoneCases: [string, HealthInputs["zones"], number | null, HealthState][] = [
    [
      "balanced",
      [
        { zone: "a", connections: 50, endpoints: 2 },
        { zone: "b", connections: 50, endpoints: 2 },
      ],
      0,
      "ok",
    ],
    [
      "exactly 15 points off",
      [
        { zone: "a", connections: 65, endpoints: 1 },
        { zone: "b", connections: 35, endpoints: 1 },
      ],
      15,
      "ok",
    ],
    [
      "16 points off",
      [
        { zone: "a", connections: 66, endpoints: 1 },
        { zone: "b", connections: 34, endpoints: 1 },
      ],
      16,
      "notice",
    ],
    [
      "traffic follows unequal endpoints (3:1) — balanced",
      [
        { zone: "a", connections: 75, endpoints: 3 },
        { zone: "b", connections: 25, endpoints: 1 },
      ],
      0,
      "ok",
    ],
    [
      "all traffic to one of three equal zones",
      [
        { zone: "a", connections: 90, endpoints: 1 },
        { zone: "b", connections: 0, endpoints: 1 },
        { zone: "c", connections: 0, endpoints: 1 },
      ],
      66.67,
      "notice",
    ],
    ["one zone only: no data", [{ zone: "a", connections: 90, endpoints: 2 }], null, "ok"],
    [
      "no traffic yet: no data",
      [
        { zone: "a", connections: 0, endpoints: 1 },
        { zone: "b", connections: 0, endpoints: 1 },
      ],
      null,
      "ok",
    ],
  ];
  for (const [name, zones, value, state] of zoneCases) {
    test(`zone_imbalance: ${name} → ${state}`, () => {
      const i = pick({ zones }, "zone_imbalance");
      assert.deepEqual([i.value, i.threshold, i.state], [value, 15, state]);
      assert.equal(i.action, value === null ? NO_DATA : state === "ok" ? NO_ACTION : ACTIONS.zone_imbalance);
    });
  }

  const freshnessCases: [boolean[], number, HealthState][] = [
    [[false, false], 0, "ok"],
    [[false, true], 1, "warning"],
    [[true, true], 2, "warning"],
  ];
  for (const [behind, value, state] of freshnessCases) {
    test(`config_freshness: ${value} of ${behind.length} nodes behind → ${state}`, () => {
      const nodes = behind.map((b, n) => ({ node: `node-${n}`, behind: b }));
      const i = pick({ nodes }, "config_freshness");
      assert.deepEqual([i.value, i.threshold, i.state], [value, 0, state]);
    });
  }

  test("score: weight × state fraction (ok 1, notice 0.75, warning 0.4, critical 0), times 100", () => {
    const r = assessHealth({
      ...EMPTY,
      certificates: [caCert(10)], // warning: 0.3 × 0.4 = 0.12
      poolHits: 90, // ok: 0.2
      poolMisses: 10,
      hboneAttempts: 100, // critical: 0
      hboneErrors: 50,
      zones: [
        { zone: "a", connections: 100, endpoints: 1 }, // notice: 0.15 × 0.75 = 0.1125
        { zone: "b", connections: 0, endpoints: 1 },
      ],
      nodes: [{ node: "n", behind: false }], // ok: 0.1
    });
    assert.equal(r.score, 53.3); // 100 × 0.5325, to a tenth
    assert.equal(worstState(r), "critical");
    assert.equal(exitCodeOf(worstState(r)), 3);
  });

  test("exit codes follow the states", () => {
    assert.deepEqual((["ok", "notice", "warning", "critical"] as const).map(exitCodeOf), [0, 1, 2, 3]);
  });

  test("thresholds can be overridden; a bad one is refused with HEALTH_ERR_BAD_THRESHOLD", () => {
    const i = assessHealth({ ...EMPTY, certificates: [caCert(100)] }, { certificateHours: 200 })
      .indicators[0];
    assert.equal(i?.state, "warning");
    assert.throws(
      () => assessHealth(EMPTY, { poolHitPercent: Number.NaN }),
      (e: unknown) => isAmbitError(e, HealthErrorCode.BadThreshold),
    );
  });
});
