import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "./backoff.js";

test("backoff doubles from initialMs up to maxMs, jittered between half and all of the step", () => {
  const opts = { initialMs: 100, maxMs: 1000 };
  const low = (a: number) => backoffDelay(a, opts, () => 0);
  const high = (a: number) => backoffDelay(a, opts, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map(low), [50, 100, 200, 400, 500, 500, 500]);
  assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map(high), [100, 200, 400, 800, 1000, 1000, 1000]);
});

test("backoff defaults: 200 ms first, 15 s cap", () => {
  assert.equal(
    backoffDelay(0, {}, () => 1),
    200,
  );
  assert.equal(
    backoffDelay(50, {}, () => 1),
    15_000,
  );
});
