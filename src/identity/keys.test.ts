import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { isAmbitError } from "../errors.js";
import { children, readSingle, sequence } from "./der.js";
import { createCsr, generateKeyPair, parseCsr, privateKeyPem, publicKeyFromSpki, spkiDerOf } from "./keys.js";
import { pemDecodeOne, pemEncode } from "./pem.js";
import { SpiffeId } from "./spiffe.js";
import { openssl } from "./verify-chain.test-util.js";

const ID = SpiffeId.of("default", "ratings");
const isBadCsr = (e: unknown): boolean => isAmbitError(e, "ID_ERR_BAD_CSR");

describe("keys and CSRs", () => {
  test("generateKeyPair makes ECDSA P-256 keys (P-384 on request) that sign and verify as a pair", () => {
    for (const namedCurve of ["prime256v1", "secp384r1"] as const) {
      const { privateKey, publicKey } = generateKeyPair(namedCurve);
      assert.equal(privateKey.asymmetricKeyType, "ec");
      assert.equal(publicKey.asymmetricKeyDetails?.namedCurve, namedCurve);
      assert.ok(createPublicKey(privateKey).equals(publicKey), "the public key is the private key's");
      const signature = sign("sha256", Buffer.from("x"), privateKey);
      assert.ok(verify("sha256", Buffer.from("x"), publicKey, signature));
    }
    const a = generateKeyPair().privateKey.export({ format: "jwk" }).d;
    const b = generateKeyPair().privateKey.export({ format: "jwk" }).d;
    assert.notEqual(a, b, "fresh keys");
  });

  test("keys are generated and encoded under garbage-collection pressure without deadlocking (Node 20 KeyGenJob)", () => {
    // With generateKeyPairSync, 20,000 rounds with a 1 MiB young generation deadlocked in 2 of 3
    // runs here (a collection inside the JWK export destroys the generation job, which takes the
    // lock the export holds); a child process, so a deadlock fails this test instead of hanging it.
    const keys = join(dirname(fileURLToPath(import.meta.url)), "keys.js");
    const script = `import { generateKeyPair, privateKeyPem, spkiDerOf } from ${JSON.stringify(keys)};
      for (let i = 0; i < 20000; i++) { const k = generateKeyPair(); privateKeyPem(k.privateKey); spkiDerOf(k.publicKey); }`;
    const r = spawnSync(process.execPath, ["--max-semi-space-size=1", "--input-type=module", "-e", script], {
      timeout: 60_000,
      encoding: "utf8",
    });
    assert.equal(r.signal, null, `killed by ${r.signal}: deadlocked (no exit within 60 s)`);
    assert.equal(r.status, 0, r.stderr);
  });

  test("createCsr → parseCsr returns the key and the URI SAN", () => {
    const { privateKey, publicKey } = generateKeyPair();
    const csr = parseCsr(createCsr(privateKey, ID));
    assert.deepEqual(csr.uriSans, [ID.toString()]);
    assert.ok(csr.publicKey.equals(publicKey));
  });

  test("OpenSSL accepts ambit's CSR: signature, empty subject, critical URI SAN", () => {
    const dir = mkdtempSync(join(tmpdir(), "ambit-csr-"));
    try {
      writeFileSync(join(dir, "req.pem"), createCsr(generateKeyPair().privateKey, ID));
      const text = openssl(dir, ["req", "-in", "req.pem", "-noout", "-verify", "-text"]);
      assert.match(text, /Subject:\s*\n/);
      assert.match(
        text,
        /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a tampered CSR fails signature verification", () => {
    const pem = createCsr(generateKeyPair().privateKey, ID);
    const der = Buffer.from(pemDecodeOne(pem, "CERTIFICATE REQUEST", "csr"));
    const at = der.indexOf(Buffer.from("ratings"));
    assert.ok(at > 0);
    der[at] = "x".charCodeAt(0); // same length: still well-formed DER, now asking for "xatings"
    assert.throws(() => parseCsr(pemEncode(der, "CERTIFICATE REQUEST")), isBadCsr);
  });

  test("a CSR carrying another key's signature fails", () => {
    const partsOf = (pem: string) => children(readSingle(pemDecodeOne(pem, "CERTIFICATE REQUEST", "csr")));
    const [infoA, algA] = partsOf(createCsr(generateKeyPair().privateKey, ID));
    const [, , sigB] = partsOf(createCsr(generateKeyPair().privateKey, ID));
    const spliced = sequence(infoA!.raw, algA!.raw, sigB!.raw);
    assert.throws(() => parseCsr(pemEncode(spliced, "CERTIFICATE REQUEST")), isBadCsr);
  });

  const garbage: Array<[string, string]> = [
    ["not PEM", "hello"],
    ["wrong PEM label", pemEncode(Buffer.from("3000", "hex"), "CERTIFICATE")],
    ["empty sequence", pemEncode(Buffer.from("3000", "hex"), "CERTIFICATE REQUEST")],
    ["truncated", pemEncode(Buffer.from("3082ffff3000", "hex"), "CERTIFICATE REQUEST")],
  ];
  for (const [name, pem] of garbage) {
    test(`rejects ${name} with ID_ERR_BAD_CSR`, () => assert.throws(() => parseCsr(pem), isBadCsr));
  }

  test("fast EC encodings equal OpenSSL's (P-256, P-384) and round-trip", () => {
    for (const namedCurve of ["prime256v1", "secp384r1"] as const) {
      for (let i = 0; i < 20; i++) {
        const { privateKey, publicKey } = generateKeyPair(namedCurve);
        const spki = publicKey.export({ type: "spki", format: "der" });
        assert.ok(spkiDerOf(publicKey).equals(spki), `${namedCurve} SPKI`);
        assert.equal(
          privateKeyPem(privateKey),
          privateKey.export({ type: "pkcs8", format: "pem" }),
          `${namedCurve} PKCS#8`,
        );
        assert.ok(publicKeyFromSpki(spki).equals(publicKey));
      }
    }
  });

  test("other key types fall back to Node's encoders; a P-384 CSR verifies", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    assert.ok(spkiDerOf(rsa.publicKey).equals(rsa.publicKey.export({ type: "spki", format: "der" })));
    assert.ok(publicKeyFromSpki(spkiDerOf(rsa.publicKey)).equals(rsa.publicKey));
    assert.equal(privateKeyPem(rsa.privateKey), rsa.privateKey.export({ type: "pkcs8", format: "pem" }));
    const p384 = generateKeyPair("secp384r1");
    assert.deepEqual(parseCsr(createCsr(p384.privateKey, ID)).uriSans, [ID.toString()]);
    assert.deepEqual(parseCsr(createCsr(rsa.privateKey, ID)).uriSans, [ID.toString()]);
  });

  test("hostile CSRs (random corruption, truncation) only ever fail with ID_ERR_BAD_CSR", () => {
    const good = pemDecodeOne(createCsr(generateKeyPair().privateKey, ID), "CERTIFICATE REQUEST", "csr");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(good.length),
        (flips, cut) => {
          const der = Buffer.from(good.subarray(0, Math.max(1, cut)));
          for (const [at, value] of flips) if (at < der.length) der[at] = value;
          if (der.equals(good)) return;
          try {
            // Accepted only if the signed content is intact, so it still asks for the same identity.
            assert.deepEqual(parseCsr(pemEncode(der, "CERTIFICATE REQUEST")).uriSans, [ID.toString()]);
          } catch (e) {
            if (e instanceof assert.AssertionError) throw e;
            assert.ok(isBadCsr(e), `unexpected ${String(e)}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("createCsr refuses keys it cannot sign with", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    assert.throws(
      () => createCsr(privateKey, ID),
      (e: unknown) => isAmbitError(e, "ID_ERR_UNSUPPORTED_KEY"),
    );
  });
});
