import assert from "node:assert/strict";
import { test } from "node:test";
import { PolicyError } from "./errors.js";
import { parseAuthzRequest } from "./request.js";

const good = {
  enforcement: "waypoint",
  source: {
    principal: "spiffe://cluster.local/ns/foo/sa/sleep",
    namespace: "foo",
    ip: "10.0.0.10",
    mtls: true,
  },
  destination: {
    namespace: "foo",
    labels: { app: "httpbin" },
    service: "httpbin",
    ip: "10.0.1.10",
    port: 8080,
  },
  http: { method: "GET", path: "/x", host: "h", headers: { k: "v" } },
};

function withPatch(path: string[], value: unknown): unknown {
  const copy = structuredClone(good) as Record<string, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

test("a well-formed request parses; spiffe:// is stripped from the principal", () => {
  const r = parseAuthzRequest(good);
  assert.equal(r.source.principal, "cluster.local/ns/foo/sa/sleep");
  assert.equal(r.destination.serviceKind, "Service");
  assert.equal(r.http?.method, "GET");
});

const badCases: [name: string, input: unknown, field: string][] = [
  ["not an object", [], "(root)"],
  ["unknown enforcement", withPatch(["enforcement"], "sidecar"), "enforcement"],
  ["missing source", withPatch(["source"], undefined), "source"],
  ["principal not a string", withPatch(["source", "principal"], 7), "source.principal"],
  ["principal without /ns/", withPatch(["source", "principal"], "cluster.local/sleep"), "source.principal"],
  ["namespace disagreeing with the principal", withPatch(["source", "namespace"], "bar"), "source.namespace"],
  ["bad source ip", withPatch(["source", "ip"], "10.0.0.300"), "source.ip"],
  ["plaintext with a principal", withPatch(["source", "mtls"], false), "source.principal"],
  ["port as a string", withPatch(["destination", "port"], "8080"), "destination.port"],
  ["port out of range", withPatch(["destination", "port"], 70000), "destination.port"],
  ["labels not strings", withPatch(["destination", "labels"], { a: 1 }), "destination.labels.a"],
  ["bad destination ip", withPatch(["destination", "ip"], "x"), "destination.ip"],
  ["unknown field", withPatch(["destination", "pod"], "p"), "destination.pod"],
  ["http at ztunnel", withPatch(["enforcement"], "ztunnel"), "http"],
  ["http without method", withPatch(["http", "method"], undefined), "http.method"],
  ["headers not strings", withPatch(["http", "headers"], { k: ["v"] }), "http.headers.k"],
  ["bad serviceKind", withPatch(["destination", "serviceKind"], "Pod"), "destination.serviceKind"],
];

for (const [name, input, field] of badCases) {
  test(`rejects ${name} with POL_ERR_BAD_REQUEST naming ${field}`, () => {
    assert.throws(
      () => parseAuthzRequest(input),
      (e: unknown) => e instanceof PolicyError && e.code === "POL_ERR_BAD_REQUEST" && e.path === field,
    );
  });
}

test("mtls defaults to whether a principal is given", () => {
  const r = parseAuthzRequest({
    enforcement: "ztunnel",
    source: { principal: null, ip: "::1" },
    destination: { namespace: "foo", ip: "::2", port: 80 },
  });
  assert.equal(r.source.mtls, false);
  assert.deepEqual(r.destination.labels, {});
});
