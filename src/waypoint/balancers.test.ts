import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRand } from "../routing/index.js";
import type { WaypointEndpoint, WaypointService } from "./address-book.js";
import { Balancers, endpointAddress } from "./balancers.js";
import type { UpstreamChoice } from "./upstream.js";

const service: WaypointService = {
  key: "default/api.default.svc.cluster.local",
  name: "api",
  namespace: "default",
  hostname: "api.default.svc.cluster.local",
  vips: ["10.96.0.1"],
  ports: [{ servicePort: 80, targetPort: 8080 }],
};

function choice(ip: string): UpstreamChoice {
  const endpoint: WaypointEndpoint = {
    uid: ip,
    name: ip,
    namespace: "default",
    ip,
    identity: "spiffe://cluster.local/ns/default/sa/api",
    labels: {},
    healthy: true,
    hbone: true,
    services: new Map(),
  };
  return { service, endpoint, port: 8080 };
}

/** Endpoints with requests in flight. */
const held = (active: Record<string, number>) => Object.entries(active).filter(([, n]) => n > 0);

const three = [choice("10.0.0.1"), choice("10.0.0.2"), choice("10.0.0.3")];

test("ROUND_ROBIN rotates over the backend's endpoints", () => {
  const b = new Balancers(seededRand(1));
  const picked = Array.from({ length: 6 }, () => {
    const lease = b.pick("k", "ROUND_ROBIN", three);
    lease?.release();
    return lease?.choice.endpoint.ip;
  });
  assert.deepEqual(picked, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
});

test("LEAST_REQUEST (the default) avoids an endpoint holding requests", () => {
  const b = new Balancers(seededRand(2));
  // 10.0.0.1 holds 5 requests that have not finished.
  const busy = three[0]!;
  let onBusy = 0;
  const leases = [];
  for (let i = 0; i < 5; i++) leases.push(b.pick("k", undefined, [busy]));
  assert.deepEqual(held(b.active("k", "LEAST_REQUEST")), [["10.0.0.1:8080", 5]]);
  for (let i = 0; i < 300; i++) {
    const l = b.pick("k", "LEAST_REQUEST", three);
    if (l?.choice === busy) onBusy++;
    l?.release();
  }
  // Two samples must both land on the busy endpoint: p = 1/9, about 33 of 300; round robin gives 100.
  assert.ok(onBusy < 60, `busy endpoint got ${onBusy} of 300`);
  for (const l of leases) l?.release();
  assert.deepEqual(held(b.active("k", "LEAST_REQUEST")), []);
});

test("a retry avoids endpoints already tried when another exists (previous_hosts)", () => {
  const b = new Balancers(seededRand(5));
  for (let i = 0; i < 50; i++) {
    const tried = new Set([endpointAddress(three[0]!), endpointAddress(three[1]!)]);
    // Round robin reaches the untried endpoint within Envoy's 5 host-selection draws.
    const l = b.pick("k", "ROUND_ROBIN", three, tried);
    assert.equal(l?.choice.endpoint.ip, "10.0.0.3");
    l?.release();
  }
  // With every endpoint tried, a repeat is accepted.
  const all = new Set(three.map(endpointAddress));
  assert.ok(b.pick("k", "RANDOM", three, all));
});

test("no endpoints: no lease; release is idempotent", () => {
  const b = new Balancers(seededRand(6));
  assert.equal(b.pick("k", "ROUND_ROBIN", []), null);
  const l = b.pick("k", "LEAST_REQUEST", three);
  l?.release();
  l?.release();
  assert.deepEqual(held(b.active("k", "LEAST_REQUEST")), []);
});
