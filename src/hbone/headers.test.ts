import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  buildBaggage,
  buildForwarded,
  formatAuthority,
  formatTraceParent,
  newTraceParent,
  parseAuthority,
  parseBaggage,
  parseForwarded,
  parseTraceParent,
} from "./headers.js";

test("baggage is written in ztunnel's key order and read back", () => {
  const value = buildBaggage({
    cluster: "Kubernetes",
    namespace: "shop",
    workloadName: "frontend",
    serviceName: "frontend",
    serviceVersion: "v1",
  });
  assert.equal(
    value,
    "k8s.cluster.name=Kubernetes,k8s.namespace.name=shop,k8s.deployment.name=frontend,service.name=frontend,service.version=v1",
  );
  assert.deepEqual(parseBaggage(value), {
    cluster: "Kubernetes",
    namespace: "shop",
    workloadName: "frontend",
    workloadKind: "deployment",
    serviceName: "frontend",
    serviceVersion: "v1",
  });
});

test("baggage parsing is lenient: unknown keys, properties, empty and broken members are skipped", () => {
  assert.deepEqual(parseBaggage("foo=bar,k8s.job.name=nightly;prop=1,=x,novalue=,service.name=a%2Cb, junk"), {
    workloadKind: "job",
    workloadName: "nightly",
    serviceName: "a,b",
  });
  assert.deepEqual(parseBaggage(undefined), {});
  assert.deepEqual(parseBaggage(["k8s.namespace.name=a", "k8s.cluster.name=c"]), {
    namespace: "a",
    cluster: "c",
  });
});

test("forwarded: for= with IPv6 quoted and bracketed (RFC 7239)", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "for=10.0.0.1"],
    ["fd00::1", 'for="[fd00::1]"'],
  ];
  for (const [ip, header] of cases) {
    assert.equal(buildForwarded(ip), header);
    assert.equal(parseForwarded(header), ip);
  }
  assert.equal(parseForwarded("proto=https;for=1.2.3.4, for=5.6.7.8"), "1.2.3.4");
  assert.equal(parseForwarded("by=1.1.1.1"), undefined);
  assert.equal(parseForwarded(undefined), undefined);
});

test("traceparent: generated values parse; invalid ones are refused", () => {
  const t = newTraceParent();
  assert.deepEqual(parseTraceParent(formatTraceParent(t)), t);
  assert.equal(
    newTraceParent("0af7651916cd43dd8448eb211c80319c").traceId,
    "0af7651916cd43dd8448eb211c80319c",
  );
  assert.notEqual(newTraceParent("not-hex").traceId, "not-hex");
  for (const bad of [
    "",
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
    "00-xyz-b7ad6b7169203331-01",
  ]) {
    assert.equal(parseTraceParent(bad), undefined, bad);
  }
});

test("authority: table of accepted and refused forms", () => {
  const ok: [string, { host: string; port: number }][] = [
    ["10.1.2.3:8080", { host: "10.1.2.3", port: 8080 }],
    ["[fd00::2]:443", { host: "fd00::2", port: 443 }],
    ["reviews.default.svc.cluster.local:9080", { host: "reviews.default.svc.cluster.local", port: 9080 }],
  ];
  for (const [a, want] of ok) assert.deepEqual(parseAuthority(a), want, a);
  for (const bad of [
    undefined,
    "",
    "10.1.2.3",
    "10.1.2.3:",
    ":80",
    "10.1.2.3:0",
    "10.1.2.3:65536",
    "1.2.3.4:+80",
    "fd00::2:443",
    "[1.2.3.4]:80",
    "a b:80",
    "-x-:80",
    "x:80:80",
  ]) {
    assert.equal(parseAuthority(bad), undefined, String(bad));
  }
});

test("authority: format and parse are inverse for every IP and port", () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
      const parsed = parseAuthority(formatAuthority({ host, port }));
      assert.deepEqual(parsed, { host, port });
    }),
  );
});

test("authority: parse never throws on arbitrary input", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      const r = parseAuthority(s);
      if (r !== undefined) assert.ok(r.port >= 1 && r.port <= 65535);
    }),
  );
});
