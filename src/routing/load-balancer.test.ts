import assert from "node:assert/strict";
import { test } from "node:test";
import { LoadBalancer, policyOf } from "./load-balancer.js";
import { seededRand } from "./weighted.js";

const eps = [{ address: "10.0.0.1:80" }, { address: "10.0.0.2:80" }, { address: "10.0.0.3:80" }];

test("round robin visits every endpoint in turn", () => {
  const lb = new LoadBalancer("ROUND_ROBIN", eps, seededRand(1));
  const picks = Array.from({ length: 6 }, () => lb.pick()?.address);
  assert.deepEqual(
    picks,
    [...eps, ...eps].map((e) => e.address),
  );
});

test("least request (power of two choices) prefers the endpoint with fewer active requests", () => {
  // Draws 0.0 and 0.5 sample endpoints 0 and 1.
  const seq = [0, 0.5];
  let i = 0;
  const lb = new LoadBalancer("LEAST_REQUEST", eps.slice(0, 2), () => seq[i++ % seq.length] ?? 0);
  assert.equal(lb.pick()?.address, "10.0.0.1:80"); // tie: the first sample
  assert.equal(lb.pick()?.address, "10.0.0.2:80"); // endpoint 0 now has 1 active
  assert.equal(lb.pick()?.address, "10.0.0.1:80"); // 1 vs 1: the first sample
  lb.release("10.0.0.1:80");
  lb.release("10.0.0.1:80");
  assert.equal(lb.activeOf("10.0.0.1:80"), 0);
  assert.deepEqual(lb.snapshot(), [
    { address: "10.0.0.1:80", active: 0 },
    { address: "10.0.0.2:80", active: 1 },
  ]);
});

test("least request spreads load: no endpoint far above the mean under steady load", () => {
  const lb = new LoadBalancer("LEAST_REQUEST", eps, seededRand(3));
  for (let i = 0; i < 300; i++) lb.pick();
  const active = lb.snapshot().map((s) => s.active);
  assert.equal(
    active.reduce((a, b) => a + b, 0),
    300,
  );
  assert.ok(Math.max(...active) - Math.min(...active) <= 3, JSON.stringify(active));
});

test("random stays within the endpoints; empty sets give null; update keeps counts", () => {
  const lb = new LoadBalancer("RANDOM", eps, seededRand(9));
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const a = lb.pick()?.address;
    assert.ok(eps.some((e) => e.address === a));
    seen.add(a ?? "");
  }
  assert.equal(seen.size, 3);
  lb.update([{ address: "10.0.0.9:80" }]);
  assert.equal(lb.pick()?.address, "10.0.0.9:80");
  assert.equal(new LoadBalancer("ROUND_ROBIN", [], seededRand(1)).pick(), null);
});

test("policyOf maps Istio names", () => {
  assert.equal(policyOf("ROUND_ROBIN"), "ROUND_ROBIN");
  assert.equal(policyOf("RANDOM"), "RANDOM");
  assert.equal(policyOf("LEAST_CONN"), "LEAST_REQUEST");
  assert.equal(policyOf(undefined), "LEAST_REQUEST");
});
