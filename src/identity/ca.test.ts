import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isAmbitError } from "../errors.js";
import { CaFiles, CertificateAuthority } from "./ca.js";
import { createCsr, generateKeyPair } from "./keys.js";
import { identityFromCertificate, SpiffeId } from "./spiffe.js";
import { nodeVerifyChain, openssl, opensslVerify } from "./verify-chain.test-util.js";

const ID = SpiffeId.of("default", "reviews");
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "ambit-ca-test-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const isCode = (code: string) => (e: unknown) => isAmbitError(e, code);

describe("self-signed CA", () => {
  const ca = CertificateAuthority.createSelfSigned({});

  test("root: O=<trust domain>, CA:TRUE, keyCertSign+cRLSign, 10 years, self-signed", () => {
    const root = new X509Certificate(ca.rootPem());
    assert.equal(root.subject, "O=cluster.local");
    assert.equal(root.issuer, "O=cluster.local");
    assert.ok(root.ca);
    assert.ok(root.verify(root.publicKey));
    assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const years = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / (365.25 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `root validity ${years} years`);
    assert.deepEqual(ca.chainPem(), []);
  });

  test("a CSR-signed leaf verifies with OpenSSL (both purposes) and Node", () => {
    const { privateKey } = generateKeyPair();
    const issued = ca.signCsr(createCsr(privateKey, ID), { identity: ID });
    assert.deepEqual(issued.chainPem, []);
    for (const purpose of ["sslserver", "sslclient"] as const) {
      const r = opensslVerify(issued.certPem, issued.chainPem, issued.rootPem, { purpose });
      assert.ok(r.ok, r.output);
    }
    nodeVerifyChain(issued.certPem, issued.chainPem, issued.rootPem, ID.toString());
    const leaf = new X509Certificate(issued.certPem);
    assert.ok(leaf.checkPrivateKey(privateKey));
    assert.equal(leaf.serialNumber, issued.serial);
    assert.equal(new Date(leaf.validFrom).getTime(), issued.notBefore.getTime());
    assert.equal(new Date(leaf.validTo).getTime(), issued.notAfter.getTime());
    assert.ok(identityFromCertificate(leaf).equals(ID));
  });

  test("leaf extensions follow Istio: critical SAN, key usages, EKU, CA:FALSE, AKI = root SKI", () => {
    const issued = ca.sign(generateKeyPair().publicKey, { identity: ID });
    const dir = tempDir();
    writeFileSync(join(dir, "leaf.pem"), issued.certPem);
    writeFileSync(join(dir, "root.pem"), issued.rootPem);
    const text = openssl(dir, ["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert.match(
      text,
      /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\s/,
    );
    assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment\s/);
    assert.match(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const aki = /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1];
    const rootText = openssl(dir, ["x509", "-in", "root.pem", "-noout", "-text"]);
    assert.match(rootText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(rootText, /Basic Constraints: critical\s+CA:TRUE/);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(rootText)?.[1];
    assert.ok(aki !== undefined && aki === ski, `AKI ${aki} must equal the root's SKI ${ski}`);
    assert.equal(issued.serial.length >= 30, true, "128-bit serial");
  });

  test("TTL: default 1 h, notBefore backdated 2 min, min 5 min, max enforced", () => {
    const now = Date.now();
    const fixed = CertificateAuthority.createSelfSigned({ clock: () => now });
    const issued = fixed.sign(generateKeyPair().publicKey, { identity: ID });
    const second = Math.floor(now / 1000) * 1000;
    assert.equal(issued.notBefore.getTime(), second - 120_000);
    assert.equal(issued.notAfter.getTime(), second + 3_600_000);
    const longer = fixed.sign(generateKeyPair().publicKey, { identity: ID, ttlSeconds: 86_400 });
    assert.equal(longer.notAfter.getTime(), second + 86_400_000);
    for (const ttlSeconds of [299, 0, -5, 1.5, 91 * 86_400]) {
      assert.throws(
        () => fixed.sign(generateKeyPair().publicKey, { identity: ID, ttlSeconds }),
        isCode("ID_ERR_BAD_TTL"),
      );
    }
    const short = CertificateAuthority.createSelfSigned({ minTtlSeconds: 1 });
    // Below the 5-minute floor (tests only) the backdate is at most a quarter of the TTL, so that
    // half-life still falls after the issue time.
    const s = short.sign(generateKeyPair().publicKey, { identity: ID, ttlSeconds: 2 });
    assert.equal(s.notAfter.getTime() - s.notBefore.getTime(), 2_000);
    const s40 = short.sign(generateKeyPair().publicKey, { identity: ID, ttlSeconds: 40 });
    assert.equal(s40.notAfter.getTime() - s40.notBefore.getTime(), 50_000);
  });

  test("serials are distinct", () => {
    const { publicKey } = generateKeyPair();
    const serials = new Set(Array.from({ length: 50 }, () => ca.sign(publicKey, { identity: ID }).serial));
    assert.equal(serials.size, 50);
  });

  test("expired and not-yet-valid leaves: OpenSSL rejects now, accepts with -attime inside the window", () => {
    const day = 86_400_000;
    const now = Date.now();
    const key = generateKeyPair().publicKey;
    const expired = ca.sign(key, {
      identity: ID,
      notBefore: new Date(now - 3 * day),
      notAfter: new Date(now - 2 * day),
    });
    const future = ca.sign(key, {
      identity: ID,
      notBefore: new Date(now + 2 * day),
      notAfter: new Date(now + 3 * day),
    });
    const e = opensslVerify(expired.certPem, [], expired.rootPem);
    assert.ok(!e.ok && /expired/.test(e.output), e.output);
    const f = opensslVerify(future.certPem, [], future.rootPem);
    assert.ok(!f.ok && /not yet valid/.test(f.output), f.output);
    // The root itself is backdated only 2 minutes, so the past window must lie after its notBefore.
    const inWindow = new Date(now + 2.5 * day);
    assert.ok(opensslVerify(future.certPem, [], future.rootPem, { atTime: inWindow }).ok);
    nodeVerifyChain(future.certPem, [], future.rootPem, ID.toString(), inWindow);
    assert.throws(
      () => ca.sign(key, { identity: ID, notBefore: new Date(now), notAfter: new Date(now - 1000) }),
      isCode("ID_ERR_BAD_VALIDITY"),
    );
  });

  test("refuses a CSR whose SAN is not the caller's identity", () => {
    const { privateKey } = generateKeyPair();
    const csr = createCsr(privateKey, SpiffeId.of("default", "admin"));
    assert.throws(() => ca.signCsr(csr, { identity: ID }), isCode("ID_ERR_CSR_IDENTITY_MISMATCH"));
  });

  test("refuses identities of another trust domain and keys it does not certify", () => {
    const other = SpiffeId.of("default", "reviews", "other.domain");
    const { privateKey } = generateKeyPair();
    assert.throws(
      () => ca.signCsr(createCsr(privateKey, other), { identity: other }),
      isCode("ID_ERR_TRUST_DOMAIN_MISMATCH"),
    );
    assert.throws(() => ca.sign(privateKey, { identity: ID }), isCode("ID_ERR_UNSUPPORTED_KEY"));
  });

  test("an intermediate made by createIntermediate chains to the root", () => {
    const inter = ca.createIntermediate();
    const issued = inter.sign(generateKeyPair().publicKey, { identity: ID });
    assert.equal(issued.chainPem.length, 1);
    assert.equal(issued.rootPem, ca.rootPem());
    const r = opensslVerify(issued.certPem, issued.chainPem, issued.rootPem);
    assert.ok(r.ok, r.output);
    nodeVerifyChain(issued.certPem, issued.chainPem, issued.rootPem, ID.toString());
    // Without the intermediate the leaf does not verify: the chain really is needed.
    assert.ok(!opensslVerify(issued.certPem, [], issued.rootPem).ok);
  });
});

describe("plug-in CA (Istio cacerts) made with the openssl CLI", () => {
  function externalPki(): { dir: string; rootKey: string } {
    const dir = tempDir();
    writeFileSync(
      join(dir, "ext.cnf"),
      [
        "[v3_int]",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "keyUsage=critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        "[leaf_two_uris]",
        "subjectAltName=critical,URI:spiffe://cluster.local/ns/a/sa/x,URI:spiffe://cluster.local/ns/a/sa/y",
        "[leaf_bad_uri]",
        "subjectAltName=critical,URI:https://example.com/x",
        "",
      ].join("\n"),
    );
    openssl(dir, [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      "root-key.pem",
    ]);
    openssl(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      "root-key.pem",
      "-subj",
      "/O=Example Corp/CN=Example Root",
      "-days",
      "30",
      "-out",
      "root-cert.pem",
    ]);
    openssl(dir, [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      "ca-key.pem",
    ]);
    openssl(dir, [
      "req",
      "-new",
      "-key",
      "ca-key.pem",
      "-subj",
      "/O=cluster.local/CN=Intermediate CA",
      "-out",
      "ca.csr",
    ]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      "ca.csr",
      "-CA",
      "root-cert.pem",
      "-CAkey",
      "root-key.pem",
      "-CAcreateserial",
      "-days",
      "10",
      "-extfile",
      "ext.cnf",
      "-extensions",
      "v3_int",
      "-out",
      "ca-cert.pem",
    ]);
    writeFileSync(
      join(dir, "cert-chain.pem"),
      readFileSync(join(dir, "ca-cert.pem"), "utf8") + readFileSync(join(dir, "root-cert.pem"), "utf8"),
    );
    return { dir, rootKey: join(dir, "root-key.pem") };
  }

  test("loadOrCreate uses ca-cert/ca-key/root-cert/cert-chain and leaves verify to the external root", () => {
    const { dir } = externalPki();
    const ca = CertificateAuthority.loadOrCreate(dir);
    const issued = ca.signCsr(createCsr(generateKeyPair().privateKey, ID), { identity: ID });
    assert.equal(issued.chainPem.length, 1, "the intermediate is served with the leaf");
    assert.equal(issued.rootPem.trim(), readFileSync(join(dir, "root-cert.pem"), "utf8").trim());
    const r = opensslVerify(
      issued.certPem,
      issued.chainPem,
      readFileSync(join(dir, "root-cert.pem"), "utf8"),
    );
    assert.ok(r.ok, r.output);
    nodeVerifyChain(issued.certPem, issued.chainPem, issued.rootPem, ID.toString());
    assert.equal(new X509Certificate(issued.certPem).issuer, "O=cluster.local\nCN=Intermediate CA");
  });

  test("fromPem finds the root at the end of the chain when root-cert.pem is absent", () => {
    const { dir } = externalPki();
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    const ca = CertificateAuthority.fromPem({
      certPem: read("ca-cert.pem"),
      keyPem: read("ca-key.pem"),
      chainPem: read("cert-chain.pem"),
    });
    assert.equal(ca.rootPem().trim(), read("root-cert.pem").trim());
  });

  test("broken plug-in material is refused with ID_ERR_BAD_CA_MATERIAL", () => {
    const { dir } = externalPki();
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    const other = CertificateAuthority.createSelfSigned({});
    // Wrong root.
    assert.throws(
      () =>
        CertificateAuthority.fromPem({
          certPem: read("ca-cert.pem"),
          keyPem: read("ca-key.pem"),
          rootPem: other.rootPem(),
        }),
      isCode("ID_ERR_BAD_CA_MATERIAL"),
    );
    // Intermediate without any root.
    assert.throws(
      () => CertificateAuthority.fromPem({ certPem: read("ca-cert.pem"), keyPem: read("ca-key.pem") }),
      isCode("ID_ERR_BAD_CA_MATERIAL"),
    );
    // Key of another certificate.
    assert.throws(
      () =>
        CertificateAuthority.fromPem({
          certPem: read("ca-cert.pem"),
          keyPem: read("root-key.pem"),
          rootPem: read("root-cert.pem"),
        }),
      isCode("ID_ERR_BAD_CA_MATERIAL"),
    );
    // A cert without its key file.
    const half = tempDir();
    writeFileSync(join(half, CaFiles.cert), read("ca-cert.pem"));
    assert.throws(() => CertificateAuthority.loadOrCreate(half), isCode("ID_ERR_BAD_CA_MATERIAL"));
  });

  test("an openssl-made CSR with a URI SAN is signed; certificates with two or non-SPIFFE URIs name no identity", () => {
    const { dir } = externalPki();
    openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "w-key.pem"]);
    openssl(dir, [
      "req",
      "-new",
      "-key",
      "w-key.pem",
      "-subj",
      "/",
      "-addext",
      `subjectAltName=URI:${ID}`,
      "-out",
      "w.csr",
    ]);
    const ca = CertificateAuthority.loadOrCreate(dir);
    const issued = ca.signCsr(readFileSync(join(dir, "w.csr"), "utf8"), { identity: ID });
    assert.ok(opensslVerify(issued.certPem, issued.chainPem, issued.rootPem).ok);

    for (const [ext, code] of [
      ["leaf_two_uris", "ID_ERR_MULTIPLE_URI_SANS"],
      ["leaf_bad_uri", "ID_ERR_BAD_SPIFFE_ID"],
    ] as const) {
      openssl(dir, [
        "x509",
        "-req",
        "-in",
        "w.csr",
        "-CA",
        "root-cert.pem",
        "-CAkey",
        "root-key.pem",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-extensions",
        ext,
        "-out",
        `${ext}.pem`,
      ]);
      const cert = new X509Certificate(readFileSync(join(dir, `${ext}.pem`)));
      assert.throws(() => identityFromCertificate(cert), isCode(code));
    }
  });
});

describe("loadOrCreate self-signed", () => {
  test("creates Istio-named files (key mode 0600) on first start and reloads the same CA", () => {
    const dir = join(tempDir(), "ca");
    const first = CertificateAuthority.loadOrCreate(dir, { trustDomain: "example.org" });
    assert.equal(statSync(join(dir, CaFiles.key)).mode & 0o777, 0o600);
    for (const f of Object.values(CaFiles)) assert.ok(statSync(join(dir, f)).isFile(), f);
    const second = CertificateAuthority.loadOrCreate(dir, { trustDomain: "example.org" });
    assert.equal(second.rootPem(), first.rootPem());
    assert.equal(second.trustDomain, "example.org");
    const id = SpiffeId.of("ns", "sa", "example.org");
    const issued = second.sign(generateKeyPair().publicKey, { identity: id });
    assert.deepEqual(issued.chainPem, []);
    assert.ok(opensslVerify(issued.certPem, [], first.rootPem()).ok);
    assert.equal(new X509Certificate(first.rootPem()).subject, "O=example.org");
  });
});
