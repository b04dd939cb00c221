import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isAmbitError } from "../errors.js";
import { identityFromCertificate, SpiffeId } from "./spiffe.js";
import { createTestPki } from "./testing.js";

describe("SpiffeId.parse", () => {
  const valid: Array<[string, string, string, string]> = [
    ["spiffe://cluster.local/ns/default/sa/default", "cluster.local", "default", "default"],
    ["spiffe://example.org/ns/payments/sa/api-v2", "example.org", "payments", "api-v2"],
    ["spiffe://td_1.a-b/ns/N.s_1/sa/Some.SA-x", "td_1.a-b", "N.s_1", "Some.SA-x"],
    ["spiffe://x/ns/a/sa/...x", "x", "a", "...x"],
  ];
  for (const [uri, td, ns, sa] of valid) {
    test(`accepts ${uri}`, () => {
      const id = SpiffeId.parse(uri);
      assert.equal(id.trustDomain, td);
      assert.equal(id.namespace, ns);
      assert.equal(id.serviceAccount, sa);
      assert.equal(id.toString(), uri);
      assert.equal(id.principal, uri.slice("spiffe://".length));
      assert.ok(id.equals(SpiffeId.of(ns, sa, td)));
    });
  }

  const invalid: Array<[string, string]> = [
    ["", "empty"],
    ["cluster.local/ns/a/sa/b", "no scheme"],
    ["https://cluster.local/ns/a/sa/b", "wrong scheme"],
    ["SPIFFE://cluster.local/ns/a/sa/b", "uppercase scheme"],
    ["spiffe:///ns/a/sa/b", "empty trust domain"],
    ["spiffe://Cluster.Local/ns/a/sa/b", "uppercase trust domain"],
    ["spiffe://cluster.local:8080/ns/a/sa/b", "port"],
    ["spiffe://user@cluster.local/ns/a/sa/b", "user info"],
    ["spiffe://cluster.local", "no path"],
    ["spiffe://cluster.local/", "root path"],
    ["spiffe://cluster.local/ns/a", "missing sa"],
    ["spiffe://cluster.local/ns/a/sa", "sa without value"],
    ["spiffe://cluster.local/ns/a/sa/", "empty sa"],
    ["spiffe://cluster.local/ns//sa/b", "empty namespace"],
    ["spiffe://cluster.local/ns/a/sa/b/", "trailing slash"],
    ["spiffe://cluster.local/ns/a/sa/b/extra", "extra segment"],
    ["spiffe://cluster.local/sa/b/ns/a", "swapped keys"],
    ["spiffe://cluster.local/namespace/a/sa/b", "wrong key"],
    ["spiffe://cluster.local/ns/../sa/b", "dot-dot segment"],
    ["spiffe://cluster.local/ns/./sa/b", "dot segment"],
    ["spiffe://cluster.local/ns/a%20b/sa/b", "percent-encoding"],
    ["spiffe://cluster.local/ns/a/sa/b?x=1", "query"],
    ["spiffe://cluster.local/ns/a/sa/b#f", "fragment"],
    ["spiffe://cluster.local/ns/a b/sa/b", "space"],
    ["spiffe://cluster.local/ns/a/sa/ü", "non-ASCII"],
    [`spiffe://${"a".repeat(256)}/ns/a/sa/b`, "trust domain too long"],
    [`spiffe://cluster.local/ns/a/sa/${"b".repeat(2048)}`, "id too long"],
  ];
  for (const [uri, kind] of invalid) {
    test(`rejects ${kind}`, () => {
      assert.throws(
        () => SpiffeId.parse(uri),
        (e: unknown) => isAmbitError(e, "ID_ERR_BAD_SPIFFE_ID") && e.message.includes("expected spiffe://"),
      );
    });
  }

  test("of() validates its parts and defaults the trust domain", () => {
    assert.equal(SpiffeId.of("ns1", "sa1").toString(), "spiffe://cluster.local/ns/ns1/sa/sa1");
    assert.throws(
      () => SpiffeId.of("", "sa"),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_SPIFFE_ID"),
    );
    assert.throws(
      () => SpiffeId.of("a/b", "sa"),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_SPIFFE_ID"),
    );
    assert.throws(
      () => SpiffeId.of("a", "sa", "Bad"),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_SPIFFE_ID"),
    );
  });

  test("equals compares every part", () => {
    const a = SpiffeId.of("a", "b");
    assert.ok(a.equals(SpiffeId.parse("spiffe://cluster.local/ns/a/sa/b")));
    assert.ok(!a.equals(SpiffeId.of("a", "c")));
    assert.ok(!a.equals(SpiffeId.of("a", "b", "other.td")));
    assert.equal(JSON.stringify({ a }), '{"a":"spiffe://cluster.local/ns/a/sa/b"}');
  });
});

describe("identityFromCertificate", () => {
  const pki = createTestPki();

  test("reads the URI SAN of an X509Certificate and of a peer certificate's DER", () => {
    const cred = pki.issue("spiffe://cluster.local/ns/shop/sa/cart");
    const x = new X509Certificate(cred.certChainPem);
    assert.equal(identityFromCertificate(x).toString(), "spiffe://cluster.local/ns/shop/sa/cart");
    assert.equal(identityFromCertificate({ raw: x.raw }).principal, "cluster.local/ns/shop/sa/cart");
  });

  test("rejects a certificate without URI SAN (a CA certificate)", () => {
    assert.throws(
      () => identityFromCertificate(new X509Certificate(pki.rootsPem)),
      (e: unknown) => isAmbitError(e, "ID_ERR_NO_URI_SAN"),
    );
    assert.throws(
      () => identityFromCertificate({ raw: Buffer.alloc(0) }),
      (e: unknown) => isAmbitError(e, "ID_ERR_NO_URI_SAN"),
    );
  });
});

describe("identityFromCertificate on hostile DER", () => {
  test("random bytes and corrupted certificates fail only with identity error codes", () => {
    const good = new X509Certificate(createTestPki().issue("spiffe://cluster.local/ns/a/sa/b").certChainPem)
      .raw;
    const allowed = new Set([
      "ID_ERR_BAD_DER",
      "ID_ERR_NO_URI_SAN",
      "ID_ERR_MULTIPLE_URI_SANS",
      "ID_ERR_BAD_SPIFFE_ID",
    ]);
    fc.assert(
      fc.property(
        fc.nat(good.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(good.length),
        (at, value, cut) => {
          const der = Buffer.from(good.subarray(0, Math.max(2, cut)));
          if (at < der.length) der[at] = value;
          try {
            identityFromCertificate({ raw: der });
          } catch (e) {
            assert.ok(
              e instanceof Error && allowed.has((e as { code?: string }).code ?? ""),
              `unexpected ${String(e)}`,
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
