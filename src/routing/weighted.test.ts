import assert from "node:assert/strict";
import { test } from "node:test";
import { chance, seededRand, weightedIndex } from "./weighted.js";

test("seededRand is deterministic per seed and stays in [0, 1)", () => {
  const a = seededRand(42);
  const b = seededRand(42);
  const c = seededRand(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b()),
  );
  assert.notDeepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => c()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("weightedIndex follows the weights within 1 percentage point over 10,000 draws", () => {
  const rand = seededRand(7);
  const weights = [5, 95];
  const counts = [0, 0];
  for (let i = 0; i < 10_000; i++) counts[weightedIndex(weights, rand)]! += 1;
  assert.ok(Math.abs(counts[0]! / 10_000 - 0.05) <= 0.01, `v2 share ${counts[0]! / 10_000}`);
  assert.ok(Math.abs(counts[1]! / 10_000 - 0.95) <= 0.01, `v1 share ${counts[1]! / 10_000}`);
});

test("weightedIndex never picks a zero weight and returns -1 when all are zero", () => {
  assert.equal(
    weightedIndex([0, 0], () => 0.5),
    -1,
  );
  assert.equal(
    weightedIndex([], () => 0.5),
    -1,
  );
  for (const r of [0, 0.3, 0.999999])
    assert.equal(
      weightedIndex([0, 3, 0], () => r),
      1,
    );
  assert.equal(
    weightedIndex([1, 1], () => 0.4999),
    0,
  );
  assert.equal(
    weightedIndex([1, 1], () => 0.5),
    1,
  );
});

test("chance: 0 % never, 100 % always, otherwise compares the draw", () => {
  assert.equal(
    chance(0, () => 0),
    false,
  );
  assert.equal(
    chance(100, () => 0.99999),
    true,
  );
  assert.equal(
    chance(0.5, () => 0.004),
    true,
  );
  assert.equal(
    chance(0.5, () => 0.006),
    false,
  );
});
