/**
 * Hostile certificates for the TLS corpus, made by the real `openssl` CLI: whatever a CA can be
 * talked into signing (no SAN, two URI SANs, CA:TRUE leaves, odd key usages) and whatever an
 * attacker can make alone (self-signed leaves, a look-alike root). The mesh CA itself is an openssl
 * root whose key this file holds, handed to the in-process mesh as its CA.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CertificateAuthority } from "../../src/identity/ca.js";
import { createTestPki, type TestPki } from "../../src/identity/testing.js";

const exec = promisify(execFile);

export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
  readonly serial: string;
}

export interface LeafSpec {
  /** subjectAltName entries in openssl syntax (`URI:spiffe://…`, `DNS:x`); empty = no SAN extension. */
  readonly sans: readonly string[];
  /** Default: CA:FALSE. */
  readonly ca?: boolean;
  /** Default `digitalSignature,keyEncipherment`. */
  readonly keyUsage?: string;
  /** Default `serverAuth,clientAuth`. */
  readonly extendedKeyUsage?: string;
}

/** openssl in a private temp directory; `close()` removes it. */
export class Forge {
  readonly #dir: string;
  #n = 0;

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), "ambit-forge-"));
  }

  /** A self-signed CA named like the mesh's (`O=cluster.local`) unless told otherwise. */
  async root(subject = "/O=cluster.local"): Promise<KeyPair> {
    const f = this.#files();
    await this.#key(f.key);
    await exec("openssl", [
      "req",
      "-x509",
      "-new",
      "-key",
      f.key,
      "-subj",
      subject,
      "-days",
      "30",
      "-set_serial",
      this.#serial(),
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      f.cert,
    ]);
    return this.#read(f);
  }

  /** A certificate for a fresh key, signed by `issuer` (or self-signed when `issuer` is "self"). */
  async leaf(spec: LeafSpec, issuer: KeyPair | "self", days = 1): Promise<KeyPair> {
    const f = this.#files();
    await this.#key(f.key);
    const ext = [
      `basicConstraints=critical,CA:${spec.ca === true ? "TRUE" : "FALSE"}`,
      `keyUsage=critical,${spec.keyUsage ?? "digitalSignature,keyEncipherment"}`,
      `extendedKeyUsage=${spec.extendedKeyUsage ?? "serverAuth,clientAuth"}`,
      ...(spec.sans.length > 0 ? [`subjectAltName=critical,${spec.sans.join(",")}`] : []),
    ];
    writeFileSync(f.ext, `${ext.join("\n")}\n`);
    // Distinct subjects: a chain of equal names looks self-issued to path building.
    await exec("openssl", [
      "req",
      "-new",
      "-key",
      f.key,
      "-subj",
      `/O=forged/CN=forged-${this.#n}`,
      "-out",
      f.csr,
    ]);
    const signWith =
      issuer === "self"
        ? ["-signkey", f.key]
        : ["-CA", this.#write("ca.pem", issuer.certPem), "-CAkey", this.#write("ca.key", issuer.keyPem)];
    await exec("openssl", [
      "x509",
      "-req",
      "-in",
      f.csr,
      ...signWith,
      "-set_serial",
      this.#serial(),
      "-days",
      String(days),
      "-extfile",
      f.ext,
      "-out",
      f.cert,
    ]);
    return this.#read(f);
  }

  /** An intermediate CA signed by `issuer`. */
  intermediate(issuer: KeyPair): Promise<KeyPair> {
    return this.leaf(
      { sans: [], ca: true, keyUsage: "keyCertSign,cRLSign", extendedKeyUsage: "serverAuth,clientAuth" },
      issuer,
      30,
    );
  }

  close(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #files(): { key: string; cert: string; csr: string; ext: string } {
    const n = ++this.#n;
    const p = (s: string): string => join(this.#dir, `${n}.${s}`);
    return { key: p("key"), cert: p("crt"), csr: p("csr"), ext: p("ext") };
  }

  #write(name: string, content: string): string {
    const p = join(this.#dir, `${++this.#n}.${name}`);
    writeFileSync(p, content);
    return p;
  }

  async #key(path: string): Promise<void> {
    await exec("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      path,
    ]);
  }

  /** Distinct, deterministic serials: 16 octets like the mesh CA's, never with a zero first nibble. */
  #serial(): string {
    return `0x7a${(0x5e0000 + this.#n).toString(16).padStart(30, "0")}`;
  }

  #read(f: { key: string; cert: string }): KeyPair {
    const certPem = readFileSync(f.cert, "utf8");
    const serial = new X509Certificate(certPem).serialNumber;
    return { certPem, keyPem: readFileSync(f.key, "utf8"), serial };
  }
}

/** The mesh PKI for the corpus: the TestPki API over an openssl root whose key `forge` may sign with. */
export async function forgeablePki(forge: Forge): Promise<{ pki: TestPki; root: KeyPair }> {
  const root = await forge.root();
  const ca = CertificateAuthority.fromPem({ certPem: root.certPem, keyPem: root.keyPem, minTtlSeconds: 1 });
  return { pki: createTestPki({ ca }), root };
}
