import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isAmbitError } from "../errors.js";
import { children, readSingle, sequence } from "./der.js";
import { createCsr, generateKeyPair, parseCsr } from "./keys.js";
import { pemDecodeOne, pemEncode } from "./pem.js";
import { SpiffeId } from "./spiffe.js";
import { openssl } from "./verify-chain.test-util.js";

const ID = SpiffeId.of("default", "ratings");
const isBadCsr = (e: unknown): boolean => isAmbitError(e, "ID_ERR_BAD_CSR");

describe("keys and CSRs", () => {
  test("generateKeyPair makes ECDSA P-256 keys", () => {
    const { privateKey, publicKey } = generateKeyPair();
    assert.equal(privateKey.asymmetricKeyType, "ec");
    assert.equal(publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
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

  test("createCsr refuses keys it cannot sign with", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    assert.throws(
      () => createCsr(privateKey, ID),
      (e: unknown) => isAmbitError(e, "ID_ERR_UNSUPPORTED_KEY"),
    );
  });
});
