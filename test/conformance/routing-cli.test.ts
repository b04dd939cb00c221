/**
 * `ambit route check` end to end: real processes of the built CLI on examples/payment-system and on
 * small manifests written to a temporary directory.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { example, runCli, tempManifests } from "./cli-fixture.js";

const run = runCli;

const PAYMENT = JSON.stringify({
  client: { namespace: "payment-system" },
  host: "payment-service.payment-system.svc.cluster.local",
  port: 8080,
  method: "GET",
  path: "/a?b=c",
  headers: { k: "v" },
});

const file = tempManifests("ambit-route-cli-");

describe("ambit route check on examples/payment-system", {
  skip: existsSync(example) ? false : "example missing",
}, () => {
  test("JSON output: the stable keys first, the split's route and a subset backend", () => {
    const r = run(["route", "check", "-f", example, "--request", PAYMENT, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(d).slice(0, 6), [
      "status",
      "route",
      "backend",
      "upstream",
      "redirect",
      "distribution",
    ]);
    assert.equal(d["status"], 200);
    assert.equal(d["route"], "payment-system/payments-split#0");
    assert.ok(
      d["backend"] === "payment-service/v1" || d["backend"] === "payment-service/v2",
      String(d["backend"]),
    );
    assert.deepEqual(d["upstream"], { path: "/a?b=c", headers: { k: "v" } });
    assert.equal(d["redirect"], null);
    assert.equal(d["distribution"], null);
    assert.equal(d["loadBalancer"], "LEAST_REQUEST");
  });

  test("--samples 10000 reports the 5/95 split within one percentage point, reproducibly", () => {
    const args = ["route", "check", "-f", example, "--request", PAYMENT, "--samples", "10000", "-o", "json"];
    const r = run(args);
    assert.equal(r.code, 0, r.stderr);
    const dist = (JSON.parse(r.stdout) as { distribution: Record<string, number> }).distribution;
    assert.deepEqual(Object.keys(dist), ["payment-service/v1", "payment-service/v2"]);
    assert.ok(Math.abs((dist["payment-service/v1"] ?? 0) - 0.95) <= 0.01, JSON.stringify(dist));
    assert.ok(Math.abs((dist["payment-service/v2"] ?? 0) - 0.05) <= 0.01, JSON.stringify(dist));
    assert.equal(run(args).stdout, r.stdout);
  });

  test("the request can come from a file; text output explains the decision", () => {
    const r = run([
      "route",
      "check",
      "-f",
      example,
      "--request",
      file("req.json", PAYMENT),
      "--samples",
      "1000",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^200 {2}GET payment-service\.payment-system\.svc\.cluster\.local:8080\/a\?b=c/);
    assert.match(r.stdout, /route: +payment-system\/payments-split#0 \[TrafficSplit\]/);
    assert.match(
      r.stdout,
      /distribution over 1000 draws: payment-service\/v1 9\d\.\d\d %, payment-service\/v2 \d\.\d\d %/,
    );
  });

  test("a bad request names the field and exits 2", () => {
    const bad = JSON.stringify({
      client: { namespace: "payment-system" },
      host: "payment-service",
      port: "8080",
    });
    const r = run(["route", "check", "-f", example, "--request", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /request field port: .*\[RT_ERR_BAD_REQUEST\]/);
    const notJson = run(["route", "check", "-f", example, "--request", file("broken.json", "{nope")]);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /not valid JSON.*\[RT_ERR_BAD_REQUEST\]/);
  });

  test("a VirtualService redirect added next to the example wins over the TrafficSplit", () => {
    const vs = file(
      "redirect.yaml",
      [
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: {name: payment-redirect, namespace: payment-system}",
        "spec:",
        "  hosts: [payment-service]",
        "  http:",
        "  - match: [{uri: {prefix: /old}}]",
        "    redirect: {uri: /new, redirectCode: 302}",
        "  - route: [{destination: {host: payment-service, subset: v1}}]",
        "",
      ].join("\n"),
    );
    const req = JSON.stringify({
      client: { namespace: "payment-system" },
      host: "payment-service",
      port: 8080,
      path: "/old?x=1",
      headers: { host: "payment-service:8080" },
    });
    const r = run(["route", "check", "-f", example, "-f", vs, "--request", req, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(d["status"], 302);
    assert.equal(d["route"], "payment-system/payment-redirect#0");
    assert.equal(d["backend"], null);
    assert.deepEqual(d["redirect"], { location: "http://payment-service:8080/new?x=1", status: 302 });
    assert.ok(JSON.stringify(d["warnings"]).includes("takes precedence"));
  });

  test("a regex RE2 cannot run is refused with its code, exit 2", () => {
    const vs = file(
      "lookahead.yaml",
      [
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: {name: bad-regex, namespace: payment-system}",
        "spec:",
        "  hosts: [payment-service]",
        "  http:",
        "  - match: [{uri: {regex: '/a(?=b)'}}]",
        "    route: [{destination: {host: payment-service}}]",
        "",
      ].join("\n"),
    );
    const r = run(["route", "check", "-f", vs, "--request", PAYMENT]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /spec\.http\[0\]\.match\[0\]\.uri\.regex.*\[RT_ERR_UNSUPPORTED_REGEX\]/);
  });

  test("invalid flags are refused", () => {
    assert.equal(run(["route", "check", "-f", example, "--request", PAYMENT, "--samples", "0"]).code, 2);
    assert.equal(run(["route", "check", "-f", example, "--request", PAYMENT, "-o", "yaml"]).code, 2);
  });
});
