/**
 * `ambit authz check` end to end: real processes of the built CLI, the payment-system example, and
 * small manifests written to a temporary directory.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { example, runCli, tempManifests } from "./cli-fixture.js";

function run(args: string[], input?: string): ReturnType<typeof runCli> {
  return runCli(args, input, 30_000);
}

function dbRequest(principal: string | null, method: string): string {
  return JSON.stringify({
    enforcement: "waypoint",
    source: { principal, ip: "10.0.0.10", mtls: principal !== null },
    destination: {
      namespace: "payment-system",
      labels: { app: "payment-db" },
      service: "payment-db",
      ip: "10.0.1.10",
      port: 3306,
    },
    http: { method, path: "", host: "" },
  });
}

const PAYMENT = "cluster.local/ns/payment-system/sa/payment-service";

const file = tempManifests("ambit-authz-cli-");

describe("ambit authz check with examples/payment-system", {
  skip: existsSync(example) ? false : "example missing",
}, () => {
  test("payment-service may SELECT at the waypoint", () => {
    const r = run(["authz", "check", "-f", example, "--request", dbRequest(PAYMENT, "SELECT"), "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(d).slice(0, 4), ["decision", "policy", "rule", "reason"]);
    assert.equal(d["decision"], "allow");
    assert.equal(d["policy"], "payment-system/payment-db-access");
    assert.equal(d["rule"], 0);
  });

  test("payment-service may not DELETE (exit 0 by default, 1 with --exit-code)", () => {
    const r = run(["authz", "check", "-f", example, "--request", dbRequest(PAYMENT, "DELETE"), "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(d["decision"], "deny");
    assert.equal(d["policy"], null);
    assert.equal(d["rule"], null);
    assert.equal(d["reasonCode"], "no-allow-matched");
    const strict = run([
      "authz",
      "check",
      "-f",
      example,
      "--request",
      dbRequest(PAYMENT, "DELETE"),
      "--exit-code",
    ]);
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /^DENY /);
  });

  test("another principal may not SELECT", () => {
    const other = "cluster.local/ns/payment-system/sa/client";
    const r = run(["authz", "check", "-f", example, "--request", dbRequest(other, "SELECT"), "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { decision: string }).decision, "deny");
  });

  test("the human output explains the decision and the waypoint it found", () => {
    const r = run(["authz", "check", "-f", example, "--request", dbRequest(PAYMENT, "SELECT")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ALLOW /);
    assert.match(r.stdout, /policy: payment-system\/payment-db-access, rule 0/);
    assert.match(r.stdout, /waypoint payment-system\/waypoint \(from Namespace payment-system/);
  });

  test("the request can come from a file or from stdin", () => {
    const p = file("req.json", dbRequest(PAYMENT, "UPDATE"));
    const fromFile = run(["authz", "check", "-f", example, "--request", p, "-o", "json"]);
    assert.equal((JSON.parse(fromFile.stdout) as { decision: string }).decision, "allow");
    const fromStdin = run(
      ["authz", "check", "-f", example, "--request", "-", "-o", "json"],
      dbRequest(PAYMENT, "INSERT"),
    );
    assert.equal((JSON.parse(fromStdin.stdout) as { decision: string }).decision, "deny");
  });
});

const selectorWithMethods = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payment-db-access
  namespace: payment-system
spec:
  selector:
    matchLabels:
      app: payment-db
  rules:
  - from:
    - source:
        principals: ["${PAYMENT}"]
    to:
    - operation:
        methods: ["SELECT"]
`;

const ztRequest = (principal: string | null) =>
  JSON.stringify({
    enforcement: "ztunnel",
    source: { principal, ip: "10.0.0.10", mtls: principal !== null },
    destination: { namespace: "payment-system", labels: { app: "payment-db" }, ip: "10.0.1.10", port: 3306 },
  });

describe("ambit authz check: warnings, PeerAuthentication, input errors", () => {
  test("a selector policy with methods is explained and warned about at ztunnel", () => {
    const p = file("selector.yaml", selectorWithMethods);
    const r = run(["authz", "check", "-f", p, "--request", ztRequest(PAYMENT)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^DENY /);
    assert.match(
      r.stdout,
      /rule 0 of payment-system\/payment-db-access uses methods, which ztunnel cannot enforce: this ALLOW rule will never match at ztunnel; attach it to a waypoint with targetRefs/,
    );
    const j = JSON.parse(
      run(["authz", "check", "-f", p, "--request", ztRequest(PAYMENT), "-o", "json"]).stdout,
    ) as {
      warnings: string[];
    };
    assert.equal(j.warnings.length, 1);
  });

  test("PeerAuthentication STRICT in the same input rejects plaintext", () => {
    const p = file(
      "strict.yaml",
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
`,
    );
    const r = run(["authz", "check", "-f", p, "--request", ztRequest(null), "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(d["decision"], "deny");
    assert.equal(d["policy"], "istio-system/default");
    assert.equal(d["reasonCode"], "mtls-strict");
    assert.equal(
      (
        JSON.parse(
          run(["authz", "check", "-f", p, "--request", ztRequest(PAYMENT), "-o", "json"]).stdout,
        ) as { decision: string }
      ).decision,
      "allow",
    );
  });

  test("a CUSTOM policy is an input error (exit 2, POL_ERR_CUSTOM_UNSUPPORTED)", () => {
    const p = file(
      "custom.yaml",
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: payment-system
spec:
  action: CUSTOM
  provider:
    name: my-ext
  rules:
  - {}
`,
    );
    const r = run(["authz", "check", "-f", p, "--request", ztRequest(PAYMENT)]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /POL_ERR_CUSTOM_UNSUPPORTED/);
    assert.match(r.stderr, /not supported/);
  });

  test("a malformed request is an input error naming the field (exit 2)", () => {
    const p = file("empty.yaml", selectorWithMethods);
    const bad = JSON.stringify({
      enforcement: "ztunnel",
      source: { principal: null, ip: "nope" },
      destination: {},
    });
    const r = run(["authz", "check", "-f", p, "--request", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /source\.ip/);
    assert.match(r.stderr, /POL_ERR_BAD_REQUEST/);
    const notJson = run(["authz", "check", "-f", p, "--request", "{not json"]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /POL_ERR_BAD_REQUEST/);
  });

  test("invalid manifests are an input error (exit 2) and nothing is evaluated", () => {
    const p = file(
      "broken.yaml",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: [\n",
    );
    const r = run(["authz", "check", "-f", p, "--request", ztRequest(PAYMENT), "-o", "json"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /CFG_ERR_/);
  });
});
