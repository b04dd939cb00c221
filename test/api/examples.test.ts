/** The shipped examples: payment-system loads cleanly with the brief's content; invalid/ reports its mistakes. */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSources, resourceKey } from "../../src/api/load.js";
import type { Resource } from "../../src/api/types.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function find<K extends Resource["kind"]>(
  rs: Resource[],
  kind: K,
  name: string,
): Extract<Resource, { kind: K }> {
  const r = rs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(r, `${kind} ${name} not found`);
  return r as Extract<Resource, { kind: K }>;
}

describe("examples/payment-system", async () => {
  const result = await loadSources([join(ROOT, "examples", "payment-system")]);

  test("validates cleanly", () => {
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.resources.map(resourceKey), [
      "Namespace/payment-system",
      "ServiceAccount/payment-system/payment-service",
      "ServiceAccount/payment-system/payment-db",
      "ServiceAccount/payment-system/client",
      "Deployment/payment-system/payment-service-v1",
      "Deployment/payment-system/payment-service-v2",
      "Deployment/payment-system/payment-db",
      "Deployment/payment-system/client",
      "Service/payment-system/payment-service",
      "Service/payment-system/payment-db",
      "Gateway/payment-system/waypoint",
      "DestinationRule/payment-system/payment-service",
      "TrafficSplit/payment-system/payments-split",
      "AuthorizationPolicy/payment-system/payment-db-access",
    ]);
  });

  test("namespace enrolled in ambient mode with a waypoint", () => {
    const ns = find(result.resources, "Namespace", "payment-system");
    assert.deepEqual(ns.metadata.labels, {
      "istio.io/dataplane-mode": "ambient",
      "istio.io/use-waypoint": "waypoint",
    });
  });

  test("canary split: 5 % v2, 95 % v1, at L7", () => {
    const ts = find(result.resources, "TrafficSplit", "payments-split");
    assert.equal(ts.spec?.layer, "L7");
    assert.deepEqual(ts.spec?.workloadSelector.labels, { app: "payment-service" });
    assert.deepEqual(
      ts.spec?.rules[0]?.route.map((r) => [r.destination.subset, r.weight]),
      [
        ["v2", 5],
        ["v1", 95],
      ],
    );
  });

  test("payment-db policy is attached to the Service for the waypoint", () => {
    const ap = find(result.resources, "AuthorizationPolicy", "payment-db-access");
    assert.equal(ap.spec?.action, "ALLOW");
    assert.equal(ap.spec?.selector, undefined);
    assert.deepEqual(ap.spec?.targetRefs, [{ kind: "Service", group: "", name: "payment-db" }]);
    const rule = ap.spec?.rules?.[0];
    assert.deepEqual(rule?.from?.[0]?.source?.principals, [
      "cluster.local/ns/payment-system/sa/payment-service",
    ]);
    assert.deepEqual(rule?.from?.[0]?.source?.namespaces, ["payment-system"]);
    assert.deepEqual(rule?.to?.[0]?.operation, { ports: ["3306"], methods: ["SELECT", "UPDATE"] });
  });

  test("workloads run ambit demo-app with their identities", () => {
    const v1 = find(result.resources, "Deployment", "payment-service-v1");
    const c = v1.spec?.template.spec.containers[0];
    assert.deepEqual(c?.command, [
      "ambit",
      "demo-app",
      "http",
      "--service",
      "payment-service",
      "--version",
      "v1",
      "--port",
      "8080",
    ]);
    assert.equal(v1.spec?.template.spec.serviceAccountName, "payment-service");
    const db = find(result.resources, "Deployment", "payment-db");
    assert.deepEqual(db.spec?.template.spec.containers[0]?.command, [
      "ambit",
      "demo-app",
      "mariadb",
      "--port",
      "3306",
    ]);
    const svc = find(result.resources, "Service", "payment-db");
    assert.deepEqual(svc.spec?.ports, [
      { name: "mysql", port: 3306, targetPort: 3306, appProtocol: "mysql" },
    ]);
    const gw = find(result.resources, "Gateway", "waypoint");
    assert.equal(gw.spec?.gatewayClassName, "istio-waypoint");
    assert.deepEqual(gw.spec?.listeners, [{ name: "mesh", port: 15008, protocol: "HBONE" }]);
  });
});

test("examples/invalid reports each deliberate mistake", async () => {
  const result = await loadSources([join(ROOT, "examples", "invalid")]);
  assert.deepEqual(
    result.errors.map((e) => [e.code, e.line, e.column, e.path]),
    [
      ["CFG_ERR_PORT", 15, 21, "spec.rules[0].to[0].operation.ports[0]"],
      ["CFG_ERR_UNKNOWN_FIELD", 16, 3, "spec.rulez"],
      ["CFG_ERR_ENUM", 17, 11, "spec.action"],
      ["CFG_ERR_NAME", 22, 9, "metadata.name"],
      ["CFG_ERR_WEIGHT_SUM", 30, 9, "spec.rules[0].route"],
      ["CFG_ERR_ENUM", 45, 30, 'metadata.labels["istio.io/dataplane-mode"]'],
      ["CFG_ERR_PORT", 57, 13, "spec.ports[0].port"],
    ],
  );
});
