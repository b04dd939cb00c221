import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { CertificateAuthority } from "../identity/ca.js";
import { CertStore } from "../identity/cert-store.js";
import { generateKeyPair } from "../identity/keys.js";
import { localCaClient } from "../identity/local-ca-client.js";
import { SpiffeId } from "../identity/spiffe.js";
import type { XdsChange } from "./client.js";
import { TrustBundleSchema } from "./gen/ambit/security/trust_bundle_pb.js";
import {
  TRUST_BUNDLE_RESOURCE,
  TRUST_BUNDLE_TYPE_URL,
  TrustBundleFollower,
  trustBundleMessage,
  validateTrustBundle,
} from "./trust-bundle.js";

const ca = CertificateAuthority.createSelfSigned();
const next = CertificateAuthority.createSelfSigned();
const WEB = SpiffeId.of("shop", "web");
const DB = SpiffeId.of("bank", "db");

function change(roots: string[], rotations: Array<[string, number]>): XdsChange {
  return {
    typeUrl: TRUST_BUNDLE_TYPE_URL,
    version: "1",
    upserted: new Map([
      [TRUST_BUNDLE_RESOURCE, trustBundleMessage({ rootsPem: roots, rotations: new Map(rotations) })],
    ]),
    removed: [],
  };
}

test("validateTrustBundle: roots must be CA certificates; name, emptiness and PEM checked", () => {
  const ok = trustBundleMessage({ rootsPem: [ca.rootPem(), next.rootPem()], rotations: new Map() });
  assert.equal(validateTrustBundle(ok, TRUST_BUNDLE_RESOURCE), null);
  assert.match(validateTrustBundle(ok, "other") ?? "", /^name/);
  assert.match(validateTrustBundle(create(TrustBundleSchema, {}), TRUST_BUNDLE_RESOURCE) ?? "", /empty/);
  const leaf = ca.sign(generateKeyPair().publicKey, { identity: WEB }).certPem;
  const notCa = create(TrustBundleSchema, { rootsPem: [leaf] });
  assert.match(validateTrustBundle(notCa, TRUST_BUNDLE_RESOURCE) ?? "", /roots_pem\[0\].*not a CA/);
  const garbage = create(TrustBundleSchema, { rootsPem: ["-----BEGIN CERTIFICATE-----\nAAAA\n"] });
  assert.match(validateTrustBundle(garbage, TRUST_BUNDLE_RESOURCE) ?? "", /not a PEM certificate/);
});

test("TrustBundleFollower: new roots reach held credentials (same serial); a risen generation renews its namespace only", async () => {
  const certs = new CertStore({ ca: localCaClient(ca), rootsPem: ca.rootPem() });
  try {
    const web = await certs.get(WEB);
    const db = await certs.get(DB);
    const follower = new TrustBundleFollower(certs);
    const events: string[] = [];
    certs.on("trust-bundle", () => events.push("bundle"));

    // First bundle: roots applied, generations only recorded (certificates are newer than those requests).
    const first = follower.apply(change([ca.rootPem(), next.rootPem()], [["shop", 4]]));
    assert.ok(first?.rootsChanged);
    assert.deepEqual(first?.renewing, []);
    assert.equal(certs.current(WEB)?.serial, web.serial);
    assert.ok(certs.current(WEB)?.rootsPem.includes(next.rootPem().trim()));
    assert.deepEqual(events, ["bundle"]);

    const second = follower.apply(change([ca.rootPem(), next.rootPem()], [["shop", 5]]));
    assert.equal(second?.rootsChanged, false);
    assert.deepEqual(second?.renewing.map(String), [WEB.toString()]);
    await second?.renewals;
    assert.notEqual(certs.current(WEB)?.serial, web.serial);
    assert.equal(certs.current(DB)?.serial, db.serial);
    assert.ok(
      certs.current(WEB)?.rootsPem.includes(next.rootPem().trim()),
      "renewed leaves keep the pushed bundle",
    );

    const all = follower.apply(
      change(
        [next.rootPem()],
        [
          ["shop", 5],
          ["", 1],
        ],
      ),
    );
    assert.equal(all?.renewing.length, 2);
    await all?.renewals;
    assert.equal(certs.trustBundle(), next.rootPem());
    assert.equal(follower.apply({ ...change([], []), typeUrl: "type.googleapis.com/other" }), undefined);
  } finally {
    certs.close();
  }
});

test("validateTrustBundle: revoked_serials must be serials (hex, ≤ 20 octets), bounded in number", () => {
  const with_ = (revokedSerials: string[]) =>
    validateTrustBundle(
      trustBundleMessage({ rootsPem: [ca.rootPem()], rotations: new Map(), revokedSerials }),
      TRUST_BUNDLE_RESOURCE,
    );
  assert.equal(with_(["0A1B", "ff:ee"]), null);
  assert.match(
    with_(["0A1B", "not-hex"]) ?? "",
    /^revoked_serials\[1\]: "not-hex" is not a certificate serial/,
  );
  assert.match(with_(["1".repeat(41)]) ?? "", /revoked_serials\[0\]/);
  assert.match(
    with_(Array.from({ length: 16_385 }, (_, i) => i.toString(16))) ?? "",
    /16385 entries, at most 16384/,
  );
});

test("TrustBundleFollower: a revoked serial reaches the store's list and renews the held certificate it names", async () => {
  const certs = new CertStore({ ca: localCaClient(ca), rootsPem: ca.rootPem() });
  try {
    const web = await certs.get(WEB);
    const db = await certs.get(DB);
    const follower = new TrustBundleFollower(certs);
    const push = (revokedSerials: string[]): XdsChange => ({
      typeUrl: TRUST_BUNDLE_TYPE_URL,
      version: "1",
      upserted: new Map([
        [
          TRUST_BUNDLE_RESOURCE,
          trustBundleMessage({ rootsPem: [ca.rootPem()], rotations: new Map(), revokedSerials }),
        ],
      ]),
      removed: [],
    });
    const first = follower.apply(push([web.serial.toLowerCase(), "ABCDEF"]));
    assert.deepEqual(first?.revoked.length, 2);
    assert.deepEqual(first?.renewing.map(String), [WEB.toString()], "only the listed certificate is renewed");
    await first?.renewals;
    assert.notEqual(certs.current(WEB)?.serial, web.serial);
    assert.equal(certs.current(DB)?.serial, db.serial);
    assert.ok(certs.revocations.has(web.serial));
    assert.equal(certs.current(WEB)?.revoked, certs.revocations, "credentials carry the live list");
    const again = follower.apply(push([web.serial, "ABCDEF"]));
    assert.deepEqual(again?.revoked, []);
    assert.deepEqual(again?.renewing, [], "the renewed certificate is not listed");
  } finally {
    certs.close();
  }
});
