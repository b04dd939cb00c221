import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { AuthorizationPolicy, AuthorizationPolicySpec } from "../api/types.js";
import { compilePolicies } from "./compile.js";
import { evaluate } from "./evaluate.js";
import type { AuthzRequest } from "./request.js";

function ap(
  namespace: string,
  name: string,
  spec: AuthorizationPolicySpec,
  dryRun = false,
): AuthorizationPolicy {
  const metadata: AuthorizationPolicy["metadata"] = { name, namespace };
  if (dryRun) metadata.annotations = { "istio.io/dry-run": "true" };
  return { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata, spec };
}

const labels = { app: "payment-db" };
const req = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({
  enforcement: "ztunnel",
  source: { principal: "cluster.local/ns/payment-system/sa/payment-service", ip: "10.0.0.10", mtls: true },
  destination: { namespace: "payment-system", labels, service: "payment-db", ip: "10.0.1.10", port: 3306 },
  ...over,
});

test("the warning for an L7 ALLOW rule at ztunnel names the rule, policy, field and fix", () => {
  const { set, warnings } = compilePolicies([
    ap("payment-system", "payment-db-access", {
      selector: { matchLabels: labels },
      rules: [{ to: [{ operation: { methods: ["SELECT"] } }] }],
    }),
  ]);
  const expected =
    "rule 0 of payment-system/payment-db-access uses methods, which ztunnel cannot enforce: this ALLOW rule will never match at ztunnel; attach it to a waypoint with targetRefs";
  assert.deepEqual(
    warnings.map((w) => w.message),
    [expected],
  );
  assert.deepEqual(evaluate(set, req()).warnings, [expected]);
});

test("a targetRef policy gets no ztunnel warning at compile time, and its L7 fields are fine at the waypoint", () => {
  const { set, warnings } = compilePolicies([
    ap("payment-system", "db", {
      targetRefs: [{ kind: "Service", group: "", name: "payment-db" }],
      rules: [{ to: [{ operation: { methods: ["SELECT"] } }] }],
    }),
  ]);
  assert.deepEqual(warnings, []);
  const d = evaluate(set, req({ enforcement: "waypoint", http: { method: "SELECT", path: "", host: "" } }));
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.warnings, []);
});

test("experimental.* conditions are accepted, never available: ALLOW never matches, a waypoint DENY drops them", () => {
  const key = "experimental.envoy.filters.network.mysql_proxy[db.table]";
  const { set, errors, warnings } = compilePolicies([
    ap("payment-system", "allow-exp", { rules: [{ when: [{ key, values: ["[update]"] }] }] }),
  ]);
  assert.deepEqual(errors, []);
  assert.match(warnings[0]?.message ?? "", /which ambit cannot enforce/);
  assert.equal(evaluate(set, req()).decision, "deny");
  const deny = compilePolicies([
    ap("payment-system", "deny-exp", {
      action: "DENY",
      targetRefs: [{ kind: "Service", group: "", name: "payment-db" }],
      rules: [{ when: [{ key, values: ["x"] }] }],
    }),
  ]);
  const atWaypoint = req({ enforcement: "waypoint", http: { method: "SELECT", path: "", host: "" } });
  const d = evaluate(deny.set, atWaypoint);
  assert.equal(d.decision, "deny");
  assert.match(d.warnings[0] ?? "", /which ambit cannot enforce: this DENY rule is enforced without it/);
});

test("the compiled set and its policies are frozen", () => {
  const { set } = compilePolicies([ap("payment-system", "a", { rules: [{}] })]);
  assert.ok(Object.isFrozen(set));
  assert.ok(Object.isFrozen(set.policies));
  assert.ok(Object.isFrozen(set.policies[0]));
  assert.throws(() => {
    (set.policies as unknown as unknown[]).push(ap("x", "y", {}));
  });
});

test("applicable policies are memoised per workload labels object and namespace", () => {
  const { set } = compilePolicies([
    ap("payment-system", "a", { selector: { matchLabels: labels }, rules: [{}] }),
  ]);
  const first = set.forZtunnel("payment-system", labels);
  assert.equal(set.forZtunnel("payment-system", labels), first);
  assert.notEqual(set.forZtunnel("other", labels), first);
  // An equal but distinct labels object gives an equal result.
  assert.deepEqual(set.forZtunnel("payment-system", { ...labels }), first);
});

test("evaluate does not modify the request", () => {
  const { set } = compilePolicies([
    ap("payment-system", "a", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] }),
  ]);
  const r = req();
  const before = structuredClone(r);
  evaluate(set, r);
  assert.deepEqual(r, before);
});

test("dry-run: a matching dry-run DENY on top of an allow reports would-deny; enforced result unchanged", () => {
  const { set } = compilePolicies([
    ap("payment-system", "allow-all", { rules: [{}] }),
    ap(
      "payment-system",
      "dry-deny",
      { action: "DENY", rules: [{ to: [{ operation: { ports: ["3306"] } }] }] },
      true,
    ),
  ]);
  const d = evaluate(set, req());
  assert.equal(d.decision, "allow");
  assert.equal(d.policy, "payment-system/allow-all");
  assert.deepEqual(d.dryRun, [{ policy: "payment-system/dry-deny", action: "DENY", matched: true, rule: 0 }]);
  assert.equal(d.dryRunDecision, "deny");
});

test("dry-run: a matching dry-run ALLOW rescues a request only under dry-run", () => {
  const { set } = compilePolicies([
    ap("payment-system", "allow-other", { rules: [{ from: [{ source: { namespaces: ["other"] } }] }] }),
    ap(
      "payment-system",
      "dry-allow",
      { rules: [{ from: [{ source: { namespaces: ["payment-system"] } }] }] },
      true,
    ),
  ]);
  const d = evaluate(set, req());
  assert.equal(d.decision, "deny");
  assert.equal(d.dryRunDecision, "allow");
});

test("decisions without dry-run or audit policies carry no such keys", () => {
  const { set } = compilePolicies([]);
  const d = evaluate(set, req());
  assert.equal("dryRun" in d, false);
  assert.equal("audit" in d, false);
  assert.deepEqual(d.warnings, []);
});

test("several targetRefs: the policy attaches through any of them", () => {
  const { set } = compilePolicies([
    ap("payment-system", "two", {
      targetRefs: [
        { kind: "Service", group: "", name: "a" },
        { kind: "Service", group: "core", name: "payment-db" },
      ],
    }),
  ]);
  const d = evaluate(set, req({ enforcement: "waypoint", http: { method: "GET", path: "/", host: "" } }));
  assert.equal(d.decision, "deny");
  assert.equal(d.reasonCode, "no-allow-matched");
});

test("the legacy singular targetRef attaches like targetRefs", () => {
  const { set } = compilePolicies([
    ap("payment-system", "one", {
      targetRef: { kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" },
    }),
  ]);
  const d = evaluate(
    set,
    req({ enforcement: "waypoint", destination: { ...req().destination, waypoint: "waypoint" } }),
  );
  assert.equal(d.decision, "deny");
});

test("compile errors name the policy and path; invalid policies are left out, valid ones kept", () => {
  const { set, errors } = compilePolicies([
    ap("payment-system", "good", { rules: [{}] }),
    ap("payment-system", "both", {
      targetRef: { kind: "Service", name: "a" },
      targetRefs: [{ kind: "Service", name: "b" }],
    }),
    ap("payment-system", "xns", { targetRefs: [{ kind: "Service", name: "a", namespace: "other" }] }),
    ap("payment-system", "gw-no-group", { targetRefs: [{ kind: "Gateway", name: "waypoint" }] }),
    ap("payment-system", "empty-source", { rules: [{ from: [{ source: {} }] }] }),
    ap("payment-system", "provider", { action: "DENY", provider: { name: "x" }, rules: [{}] }),
    ap("payment-system", "bad-action", { action: "LOG" as "ALLOW" }),
  ]);
  assert.deepEqual(
    errors.map((e) => [e.policy, e.code, e.path]),
    [
      ["payment-system/both", "POL_ERR_INVALID_POLICY", "spec.targetRef"],
      ["payment-system/xns", "POL_ERR_INVALID_POLICY", "spec.targetRefs[0].namespace"],
      ["payment-system/gw-no-group", "POL_ERR_INVALID_POLICY", "spec.targetRefs[0]"],
      ["payment-system/empty-source", "POL_ERR_INVALID_POLICY", "spec.rules[0].from[0].source"],
      ["payment-system/provider", "POL_ERR_INVALID_POLICY", "spec.provider"],
      ["payment-system/bad-action", "POL_ERR_INVALID_POLICY", "spec.action"],
    ],
  );
  assert.deepEqual(
    set.policies.map((p) => p.key),
    ["payment-system/good"],
  );
});

test("a GatewayClass target outside the root namespace warns that it never applies", () => {
  const { set, warnings } = compilePolicies([
    ap("payment-system", "gc", {
      targetRefs: [{ kind: "GatewayClass", group: "gateway.networking.k8s.io", name: "istio-waypoint" }],
    }),
  ]);
  assert.match(warnings[0]?.message ?? "", /never applies/);
  const d = evaluate(
    set,
    req({ enforcement: "waypoint", destination: { ...req().destination, waypoint: "waypoint" } }),
  );
  assert.equal(d.decision, "allow");
});

test("a configurable root namespace", () => {
  const { set } = compilePolicies([ap("mesh-root", "deny-all", { action: "DENY", rules: [{}] })], {
    rootNamespace: "mesh-root",
  });
  assert.equal(evaluate(set, req()).decision, "deny");
  const other = compilePolicies([ap("mesh-root", "deny-all", { action: "DENY", rules: [{}] })]);
  assert.equal(evaluate(other.set, req()).decision, "allow");
});

test("a mapped IPv4 source address matches IPv4 blocks", () => {
  const { set } = compilePolicies([
    ap("payment-system", "a", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/24"] } }] }] }),
  ]);
  const d = evaluate(set, req({ source: { principal: null, ip: "::ffff:10.0.0.9", mtls: false } }));
  assert.equal(d.decision, "allow");
});

test("property: adding a DENY policy never turns a deny into an allow, and never allows what it matches", () => {
  const principal = fc.constantFrom(null, "cluster.local/ns/a/sa/x", "cluster.local/ns/b/sa/y");
  const port = fc.constantFrom(80, 8080, 9090);
  const source = fc.record({
    principals: fc.subarray(["cluster.local/ns/a/*", "*", "cluster.local/ns/b/sa/y"], { minLength: 1 }),
  });
  const op = fc.record({ ports: fc.subarray(["80", "8080"], { minLength: 1 }) });
  const rule = fc.record({
    from: fc.array(fc.record({ source }), { maxLength: 2 }),
    to: fc.array(fc.record({ operation: op }), { maxLength: 2 }),
  });
  const spec = fc.record({
    action: fc.constantFrom<"ALLOW" | "DENY">("ALLOW", "DENY"),
    rules: fc.array(rule, { maxLength: 2 }),
  });
  fc.assert(
    fc.property(fc.array(spec, { maxLength: 4 }), spec, principal, port, (specs, extra, p, dport) => {
      const policies = specs.map((s, i) => ap("payment-system", `p${i}`, s));
      const request = req({
        source: { principal: p, ip: "10.0.0.1", mtls: p !== null },
        destination: { ...req().destination, port: dport },
      });
      const before = evaluate(compilePolicies(policies).set, request);
      const deny = ap("payment-system", "zz-extra", { ...extra, action: "DENY" });
      const after = evaluate(compilePolicies([...policies, deny]).set, request);
      if (before.decision === "deny") assert.equal(after.decision, "deny");
      if (after.decision === "allow") assert.equal(before.decision, "allow");
      if (after.reasonCode === "allow-matched") assert.ok(after.policy !== null && after.rule !== null);
    }),
    { numRuns: 300 },
  );
});
