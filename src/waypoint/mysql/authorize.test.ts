import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuthorizationPolicy } from "../../api/types.js";
import { compilePolicies } from "../../policy/index.js";
import { policyAuthorizer } from "./authorize.js";
import type { StatementKind } from "./statement.js";

function allowMethods(methods: string[]): AuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "db", namespace: "shop" },
    spec: {
      targetRefs: [{ kind: "Service", group: "", name: "db" }],
      action: "ALLOW",
      rules: [{ to: [{ operation: { ports: ["3306"], methods } }] }],
    },
  };
}

const denyDelete: AuthorizationPolicy = {
  apiVersion: "security.istio.io/v1",
  kind: "AuthorizationPolicy",
  metadata: { name: "no-delete", namespace: "shop" },
  spec: {
    targetRefs: [{ kind: "Service", group: "", name: "db" }],
    action: "DENY",
    rules: [{ to: [{ operation: { methods: ["DELETE"] } }] }],
  },
};

/** [policy methods, statement kind, allowed?] */
const ROWS: readonly (readonly [string[], StatementKind, boolean])[] = [
  [["SELECT", "UPDATE"], "SELECT", true],
  [["SELECT", "UPDATE"], "DELETE", false],
  [["SELECT"], "UNKNOWN", false],
  [["UNKNOWN"], "UNKNOWN", true],
  [["*"], "UNKNOWN", true],
  [["*"], "DROP", true],
  [["select"], "SELECT", false], // methods compare case-sensitively
];

for (const [methods, kind, want] of ROWS) {
  test(`methods ${JSON.stringify(methods)} and a ${kind} statement: ${want ? "allowed" : "denied"}`, () => {
    const { set, errors } = compilePolicies([allowMethods(methods)]);
    assert.deepEqual(errors, []);
    const authorize = policyAuthorizer(() => set, {
      source: { principal: "cluster.local/ns/shop/sa/web", ip: "10.0.0.1", mtls: true },
      destination: { namespace: "shop", labels: {}, service: "db", ip: "10.0.0.2", port: 3306 },
    });
    assert.equal(authorize(kind, { command: "COM_QUERY", kinds: [kind] }).allow, want);
  });
}

test("a DENY policy is named in the decision", () => {
  const { set } = compilePolicies([denyDelete]);
  const authorize = policyAuthorizer(() => set, {
    source: { principal: "cluster.local/ns/shop/sa/web", ip: "10.0.0.1", mtls: true },
    destination: { namespace: "shop", labels: {}, service: "db", ip: "10.0.0.2", port: 3306 },
  });
  const d = authorize("DELETE", { command: "COM_QUERY", kinds: ["DELETE"] });
  assert.deepEqual(d.allow ? null : d.policy, "shop/no-delete");
  assert.equal(authorize("SELECT", { command: "COM_QUERY", kinds: ["SELECT"] }).allow, true);
});
