import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import { isAmbitError } from "../errors.js";
import { SpiffeId } from "./spiffe.js";
import { createTestPki } from "./testing.js";
import { TrustBundle } from "./trust-bundle.js";
import { opensslVerify } from "./verify-chain.test-util.js";

describe("TrustBundle", () => {
  const oldPki = createTestPki();
  const newPki = createTestPki();
  const id = SpiffeId.of("default", "web");

  test("holds several roots; a bundle of old+new verifies leaves of both (root rotation)", () => {
    const bundle = new TrustBundle(oldPki.rootsPem);
    const v0 = bundle.version;
    const added = bundle.add(newPki.rootsPem);
    assert.equal(added.length, 1);
    assert.equal(bundle.size, 2);
    assert.ok(bundle.version > v0);
    const fromOld = oldPki.issue(id);
    const fromNew = newPki.issue(id);
    assert.ok(opensslVerify(fromOld.certChainPem, [], bundle.pem()).ok);
    assert.ok(opensslVerify(fromNew.certChainPem, [], bundle.pem()).ok);
    // Only the old root: the new root's leaves are refused.
    assert.ok(!opensslVerify(fromNew.certChainPem, [], oldPki.rootsPem).ok);

    const oldFp = new X509Certificate(oldPki.rootsPem).fingerprint256;
    assert.deepEqual(
      bundle.list().map((r) => r.fingerprint),
      [oldFp, new X509Certificate(newPki.rootsPem).fingerprint256],
    );
    assert.ok(bundle.has(oldFp.replace(/:/g, "").toLowerCase()));
    assert.ok(bundle.remove(oldFp));
    assert.ok(!bundle.remove(oldFp));
    assert.equal(bundle.size, 1);
    assert.ok(
      !opensslVerify(fromOld.certChainPem, [], bundle.pem()).ok,
      "the removed root no longer verifies",
    );
    assert.ok(opensslVerify(fromNew.certChainPem, [], bundle.pem()).ok);
  });

  test("adding the same root twice is a no-op; removal by PEM works", () => {
    const bundle = new TrustBundle([oldPki.rootsPem, oldPki.rootsPem + newPki.rootsPem]);
    assert.equal(bundle.size, 2);
    assert.deepEqual(bundle.add(oldPki.rootsPem), []);
    assert.ok(bundle.remove(newPki.rootsPem));
    assert.equal(bundle.list()[0]?.subject, "O=cluster.local");
  });

  test("refuses a leaf certificate and text without certificates", () => {
    const bundle = new TrustBundle();
    assert.throws(
      () => bundle.add(oldPki.issue(id).certChainPem),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_CA_MATERIAL"),
    );
    assert.throws(
      () => bundle.add("nothing here"),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_PEM"),
    );
    assert.equal(bundle.size, 0);
    assert.equal(bundle.pem(), "");
  });
});
