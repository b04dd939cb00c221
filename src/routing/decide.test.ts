import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSources } from "../api/load.js";
import { compileRoutes } from "./compile.js";
import { route } from "./decide.js";
import { RoutingErrorCode } from "./errors.js";
import { parseRouteRequest } from "./request.js";
import { redirectLocation } from "./rewrite.js";
import { seededRand } from "./weighted.js";

const example = fileURLToPath(new URL("../../../examples/payment-system", import.meta.url));

test("the payment-system split: 5 % canary, 95 % stable, within 1 percentage point over 10,000 seeded draws", async () => {
  const loaded = await loadSources([example]);
  assert.deepEqual(loaded.errors, []);
  const table = compileRoutes(loaded.resources);
  assert.deepEqual(table.errors, []);
  const rand = seededRand(2024);
  const req = parseRouteRequest({
    client: { namespace: "payment-system" },
    host: "payment-service.payment-system.svc.cluster.local",
    port: 8080,
    method: "GET",
    path: "/pay",
    headers: {},
  });
  const counts = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    const d = route(table, req, rand);
    assert.equal(d.status, 200);
    assert.equal(d.loadBalancer, "LEAST_REQUEST");
    counts.set(d.backend ?? "", (counts.get(d.backend ?? "") ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), ["payment-service/v1", "payment-service/v2"]);
  const v2 = (counts.get("payment-service/v2") ?? 0) / 10_000;
  assert.ok(Math.abs(v2 - 0.05) <= 0.01, `canary share ${v2}`);
});

test("the route table is immutable", async () => {
  const loaded = await loadSources([example]);
  const table = compileRoutes(loaded.resources);
  assert.ok(Object.isFrozen(table));
  const host = table.hosts.get("payment-service.payment-system.svc.cluster.local");
  assert.ok(host !== undefined && Object.isFrozen(host) && Object.isFrozen(host.trafficSplit?.rules));
});

test("bad requests name the offending field", () => {
  const cases: [unknown, string][] = [
    [[], "(root)"],
    [{ host: "a" }, "client"],
    [{ client: { namespace: "" }, host: "a" }, "client.namespace"],
    [{ client: { namespace: "n" } }, "host"],
    [{ client: { namespace: "n" }, host: "a", port: 0 }, "port"],
    [{ client: { namespace: "n" }, host: "a", path: "nope" }, "path"],
    [{ client: { namespace: "n" }, host: "a", headers: { k: 1 } }, "headers.k"],
    [{ client: { namespace: "n" }, host: "a", extra: 1 }, "extra"],
  ];
  for (const [input, path] of cases) {
    assert.throws(
      () => parseRouteRequest(input),
      (e: unknown) =>
        typeof e === "object" &&
        e !== null &&
        "code" in e &&
        e.code === RoutingErrorCode.BAD_REQUEST &&
        "path" in e &&
        e.path === path,
      path,
    );
  }
});

test("Envoy redirect host handling: the Host's port is dropped when the scheme leaves its default port", () => {
  const req = parseRouteRequest({
    client: { namespace: "n" },
    host: "a",
    port: 80,
    path: "/x?y=1",
    headers: {},
  });
  assert.deepEqual(
    redirectLocation({ code: 301, scheme: "https", gatewayPortRules: false }, req, "a.n:80", undefined),
    {
      location: "https://a.n/x?y=1",
      status: 301,
    },
  );
  assert.equal(
    redirectLocation(
      { code: 301, gatewayPortRules: false, path: { kind: "full", value: "/new?z=2" } },
      req,
      "a.n:8080",
      undefined,
    ).location,
    "http://a.n:8080/new?z=2",
  );
});
