import {
  createHash,
  createPrivateKey,
  sign as cryptoSign,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  bitString,
  boolean,
  contextTag,
  directoryString,
  namedBits,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
} from "./der.js";
import { IdentityError } from "./errors.js";
import {
  generateKeyPair,
  parseCsr,
  privateKeyPem,
  type SignatureAlgorithm,
  signatureAlgorithmFor,
  spkiDerOf,
  uriGeneralNames,
} from "./keys.js";
import { pemDecodeOne, pemEncode, splitCertificates } from "./pem.js";
import { DEFAULT_TRUST_DOMAIN, SpiffeId } from "./spiffe.js";
import {
  type CertificateFields,
  Oid,
  parseCertificateDer,
  publicKeyBitsOfSpki,
  serialHex,
  subjectKeyIdentifierOf,
} from "./x509.js";

/** A certificate the CA issued, with what a peer needs to verify it. */
export interface IssuedCertificate {
  readonly certPem: string;
  /** Intermediates between the leaf and the root, the leaf's issuer first; [] when a root signed the leaf. */
  readonly chainPem: string[];
  readonly rootPem: string;
  /** Uppercase hex, as `X509Certificate#serialNumber` renders it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Istio's `ClockSkewGracePeriod`: leaves are valid from 2 minutes before issue, for peers whose clock lags. */
export const CLOCK_SKEW_GRACE_SECONDS = 120;
export const DEFAULT_WORKLOAD_TTL_SECONDS = 3600;
export const DEFAULT_MIN_TTL_SECONDS = 300;
/** Istio's default `max-workload-cert-ttl` (90 days). */
export const DEFAULT_MAX_TTL_SECONDS = 90 * 24 * 3600;
export const DEFAULT_ROOT_VALIDITY_DAYS = 3650;

/** Istio's `cacerts` layout (plug-in CA) and its self-signed CA secret use these file names. */
export const CaFiles = {
  cert: "ca-cert.pem",
  key: "ca-key.pem",
  root: "root-cert.pem",
  chain: "cert-chain.pem",
} as const;

export interface CaPolicyOptions {
  trustDomain?: string;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /** Shortest workload TTL accepted (default 300 s); tests lower it to issue short-lived certificates. */
  minTtlSeconds?: number;
  maxTtlSeconds?: number;
}

export interface SelfSignedCaOptions extends CaPolicyOptions {
  validityDays?: number;
}

export interface PluginCaOptions extends CaPolicyOptions {
  certPem: string;
  keyPem: string;
  /** The CA certificate's chain up to (optionally including) the root, as Istio's cert-chain.pem. */
  chainPem?: string;
  rootPem?: string;
}

export interface SignOptions {
  identity: SpiffeId;
  ttlSeconds?: number;
  /** Explicit validity bounds, for tests (expired, not yet valid); they bypass the TTL limits. */
  notBefore?: Date;
  notAfter?: Date;
}

/** Validated, frozen CA policy. */
interface CaConfig {
  readonly trustDomain: string;
  readonly clock: () => number;
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
}

function caConfig(opts: CaPolicyOptions): CaConfig {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  SpiffeId.of("ns", "sa", trustDomain); // validates the trust domain with the SPIFFE rules
  const minTtlSeconds = opts.minTtlSeconds ?? DEFAULT_MIN_TTL_SECONDS;
  const maxTtlSeconds = opts.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  if (!Number.isInteger(minTtlSeconds) || minTtlSeconds < 1 || !Number.isInteger(maxTtlSeconds)) {
    throw new IdentityError("ID_ERR_BAD_OPTIONS", `minTtlSeconds/maxTtlSeconds must be positive integers`);
  }
  if (maxTtlSeconds < minTtlSeconds) {
    throw new IdentityError(
      "ID_ERR_BAD_OPTIONS",
      `maxTtlSeconds (${maxTtlSeconds}) is below minTtlSeconds (${minTtlSeconds})`,
    );
  }
  return Object.freeze({ trustDomain, clock: opts.clock ?? Date.now, minTtlSeconds, maxTtlSeconds });
}

function caMaterialError(why: string, cause?: unknown): IdentityError {
  return new IdentityError("ID_ERR_BAD_CA_MATERIAL", why, { cause });
}

// The parts of every workload certificate that never change, encoded once. Criticality and key usages
// follow Istio's security/pkg/pki/util: SAN critical (the subject is empty), KeyUsage digitalSignature +
// keyEncipherment, ExtKeyUsage serverAuth + clientAuth, BasicConstraints CA:FALSE.
const VERSION_V3 = contextTag(0, smallInteger(2), true);
const EMPTY_NAME = sequence();
const LEAF_KEY_USAGE = sequence(oid(Oid.keyUsage), boolean(true), octetString(namedBits([0, 2])));
const LEAF_EXT_KEY_USAGE = sequence(
  oid(Oid.extKeyUsage),
  octetString(sequence(oid(Oid.serverAuth), oid(Oid.clientAuth))),
);
const LEAF_BASIC_CONSTRAINTS = sequence(oid(Oid.basicConstraints), boolean(true), octetString(sequence()));
const SAN_PREFIX = Buffer.concat([oid(Oid.subjectAltName), boolean(true)]);
const SKI_OID = oid(Oid.subjectKeyIdentifier);
// keyCertSign (5) and cRLSign (6).
const CA_KEY_USAGE = sequence(oid(Oid.keyUsage), boolean(true), octetString(namedBits([5, 6])));

function subjectKeyIdentifier(spkiDer: Buffer): Buffer {
  // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  return createHash("sha1").update(publicKeyBitsOfSpki(spkiDer)).digest();
}

function skiExtension(keyId: Buffer): Buffer {
  return sequence(SKI_OID, octetString(octetString(keyId)));
}

function akiExtension(keyId: Buffer): Buffer {
  return sequence(oid(Oid.authorityKeyIdentifier), octetString(sequence(contextTag(0, keyId, false))));
}

function caName(trustDomain: string, commonName?: string): Buffer {
  const rdns = [set(sequence(oid(Oid.organization), directoryString(trustDomain)))];
  if (commonName !== undefined) rdns.push(set(sequence(oid("2.5.4.3"), directoryString(commonName))));
  return sequence(...rdns);
}

/** 128 random bits, as Istio's genSerialNum; never zero (RFC 5280 §4.1.2.2 wants a positive integer). */
function randomSerial(): Buffer {
  for (;;) {
    const serial = randomBytes(16);
    if (serial.some((b) => b !== 0)) return serial;
  }
}

function floorToSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function spkiOf(publicKey: KeyObject): Buffer {
  if (publicKey.type !== "public") {
    throw new IdentityError(
      "ID_ERR_UNSUPPORTED_KEY",
      "sign() needs the workload's public key, not a private key",
    );
  }
  const type = publicKey.asymmetricKeyType;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  const rsaBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const ok =
    (type === "ec" && (curve === "prime256v1" || curve === "secp384r1")) ||
    (type === "rsa" && rsaBits >= 2048);
  if (!ok) {
    throw new IdentityError(
      "ID_ERR_UNSUPPORTED_KEY",
      `cannot certify a ${type ?? "?"}${curve ? ` ${curve}` : ""} key; workloads use ECDSA P-256 (P-384 and RSA ≥ 2048 are also accepted)`,
    );
  }
  return spkiDerOf(publicKey);
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

interface CaState {
  readonly key: KeyObject;
  readonly certDer: Buffer;
  readonly certPem: string;
  readonly fields: CertificateFields;
  readonly chainPem: readonly string[];
  readonly rootPem: string;
}

/**
 * The mesh CA. Issues workload certificates from a DER template: the constant parts (issuer, algorithm,
 * extensions) are encoded once; per request only the serial, validity, key and SAN are encoded, then the
 * TBS is signed with `crypto.sign`. Self-signed root or plug-in CA (possibly an intermediate).
 */
export class CertificateAuthority {
  readonly #config: CaConfig;
  readonly #state: CaState;
  readonly #algorithm: SignatureAlgorithm;
  readonly #issuerTail: Buffer; // signature algorithm + issuer name
  readonly #aki: Buffer | undefined;

  private constructor(config: CaConfig, state: CaState) {
    this.#config = config;
    this.#state = state;
    this.#algorithm = signatureAlgorithmFor(state.key);
    this.#issuerTail = Buffer.concat([this.#algorithm.algorithmIdentifier, state.fields.subjectRaw]);
    const keyId = subjectKeyIdentifierOf(state.fields);
    this.#aki = keyId === undefined ? undefined : akiExtension(keyId);
  }

  /** A new self-signed root, subject `O=<trust domain>` like Istio's self-signed CA, ECDSA P-256. */
  static createSelfSigned(opts: SelfSignedCaOptions = {}): CertificateAuthority {
    const config = caConfig(opts);
    const validityDays = opts.validityDays ?? DEFAULT_ROOT_VALIDITY_DAYS;
    if (!(validityDays > 0)) {
      throw new IdentityError("ID_ERR_BAD_OPTIONS", `validityDays must be positive, got ${validityDays}`);
    }
    const { privateKey, publicKey } = generateKeyPair();
    const now = config.clock();
    const name = caName(config.trustDomain);
    const der = buildCaCertificate({
      subject: name,
      issuer: name,
      spki: spkiDerOf(publicKey),
      notBefore: floorToSecond(now - CLOCK_SKEW_GRACE_SECONDS * 1000),
      notAfter: floorToSecond(now + validityDays * 86_400_000),
      signingKey: privateKey,
      issuerKeyId: undefined,
      pathLength: undefined,
    });
    const certPem = pemEncode(der, "CERTIFICATE");
    return new CertificateAuthority(config, {
      key: privateKey,
      certDer: der,
      certPem,
      fields: parseCertificateDer(der),
      chainPem: [],
      rootPem: certPem,
    });
  }

  /**
   * A plug-in CA from PEM (Istio's cacerts). The CA certificate may be an intermediate: then the root comes
   * from `rootPem` (or the self-signed end of `chainPem`) and the chain must link the CA to that root.
   */
  static fromPem(opts: PluginCaOptions): CertificateAuthority {
    const config = caConfig(opts);
    let cert: X509Certificate;
    let key: KeyObject;
    try {
      cert = new X509Certificate(pemDecodeOne(opts.certPem, "CERTIFICATE", "the CA certificate"));
    } catch (e) {
      throw caMaterialError(`the CA certificate (${CaFiles.cert}) is not a PEM certificate`, e);
    }
    try {
      key = createPrivateKey(opts.keyPem);
    } catch (e) {
      throw caMaterialError(`the CA key (${CaFiles.key}) is not a PEM private key`, e);
    }
    if (!cert.ca) {
      throw caMaterialError(
        `the CA certificate "${cert.subject}" is not a CA (basicConstraints CA:TRUE is missing)`,
      );
    }
    if (!cert.checkPrivateKey(key)) {
      throw caMaterialError(
        `the CA key does not match the CA certificate "${cert.subject}" (${CaFiles.key} vs ${CaFiles.cert})`,
      );
    }
    signatureAlgorithmFor(key);
    const certDer = cert.raw;
    const certPem = pemEncode(certDer, "CERTIFICATE");
    const chainCerts = splitCertificates(opts.chainPem ?? "").map((p) => new X509Certificate(p));
    const rootCerts = splitCertificates(opts.rootPem ?? "").map((p) => new X509Certificate(p));

    // Intermediates above this CA: the chain without the CA itself and without self-signed roots.
    const intermediates = chainCerts.filter((c) => !c.raw.equals(certDer) && !isSelfSigned(c));
    let root: X509Certificate | undefined;
    if (isSelfSigned(cert)) root = cert;
    else root = rootCerts[0] ?? chainCerts.find((c) => isSelfSigned(c));
    if (root === undefined) {
      throw caMaterialError(
        `the CA certificate "${cert.subject}" is an intermediate but no root was given: provide ${CaFiles.root} (or end ${CaFiles.chain} with the root)`,
      );
    }
    const path = [cert, ...intermediates, ...(root === cert ? [] : [root])];
    for (let i = 0; i + 1 < path.length; i++) {
      const child = path[i] as X509Certificate;
      const parent = path[i + 1] as X509Certificate;
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
        throw caMaterialError(
          `the CA chain is broken: "${child.subject}" is not signed by "${parent.subject}"; check the order of ${CaFiles.chain} and that ${CaFiles.root} is its root`,
        );
      }
    }
    const rootPem = pemEncode(root.raw, "CERTIFICATE");
    return new CertificateAuthority(config, {
      key,
      certDer,
      certPem,
      fields: parseCertificateDer(certDer),
      chainPem: root === cert ? [] : [certPem, ...intermediates.map((c) => pemEncode(c.raw, "CERTIFICATE"))],
      rootPem,
    });
  }

  /**
   * Loads the CA from `dir` in Istio's cacerts layout (plug-in when ca-cert.pem and ca-key.pem exist), or
   * creates a self-signed root there on first start (key file mode 0600).
   */
  static loadOrCreate(dir: string, opts: SelfSignedCaOptions = {}): CertificateAuthority {
    const path = (name: string): string => join(dir, name);
    const hasCert = existsSync(path(CaFiles.cert));
    const hasKey = existsSync(path(CaFiles.key));
    if (hasCert !== hasKey) {
      throw caMaterialError(
        `${dir} holds ${hasCert ? CaFiles.cert : CaFiles.key} but not ${hasCert ? CaFiles.key : CaFiles.cert}: restore the missing file or remove both to create a new CA`,
      );
    }
    if (hasCert) {
      const read = (name: string): string | undefined =>
        existsSync(path(name)) ? readFileSync(path(name), "utf8") : undefined;
      const chainPem = read(CaFiles.chain);
      const rootPem = read(CaFiles.root);
      return CertificateAuthority.fromPem({
        ...opts,
        certPem: read(CaFiles.cert) as string,
        keyPem: read(CaFiles.key) as string,
        ...(chainPem !== undefined ? { chainPem } : {}),
        ...(rootPem !== undefined ? { rootPem } : {}),
      });
    }
    const ca = CertificateAuthority.createSelfSigned(opts);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const write = (name: string, content: string, mode: number): void => {
      const tmp = `${path(name)}.tmp-${process.pid}`;
      writeFileSync(tmp, content, { mode });
      chmodSync(tmp, mode);
      renameSync(tmp, path(name));
    };
    // Key first and cert last: a crash in between leaves key-without-cert, which the check above reports.
    write(CaFiles.key, privateKeyPem(ca.#state.key), 0o600);
    write(CaFiles.root, ca.rootPem(), 0o644);
    write(CaFiles.chain, ca.certPem(), 0o644);
    write(CaFiles.cert, ca.certPem(), 0o644);
    return ca;
  }

  get trustDomain(): string {
    return this.#config.trustDomain;
  }

  /** The root this CA chains to (its own certificate for a self-signed root). */
  rootPem(): string {
    return this.#state.rootPem;
  }

  /** The CA's own certificate. */
  certPem(): string {
    return this.#state.certPem;
  }

  /** Intermediates from this CA up to (excluding) the root: what a leaf it signs must be served with. */
  chainPem(): string[] {
    return [...this.#state.chainPem];
  }

  get notAfter(): Date {
    return this.#state.fields.notAfter;
  }

  /**
   * Signs a workload's PKCS#10 request. The CSR's signature must verify and its only URI SAN must be
   * `identity` (the identity the caller was authenticated for), else ID_ERR_CSR_IDENTITY_MISMATCH.
   */
  signCsr(csrPem: string, opts: { identity: SpiffeId; ttlSeconds?: number }): IssuedCertificate {
    const csr = parseCsr(csrPem);
    const expected = opts.identity.toString();
    if (csr.uriSans.length !== 1 || csr.uriSans[0] !== expected) {
      throw new IdentityError(
        "ID_ERR_CSR_IDENTITY_MISMATCH",
        `the CSR asks for ${csr.uriSans.length === 0 ? "no URI SAN" : csr.uriSans.join(", ")} but the caller may only get ${expected}`,
      );
    }
    return this.#issue(csr.spkiDer, opts);
  }

  /** Certifies `publicKey` for `identity` directly (no CSR); explicit validity is allowed for tests. */
  sign(publicKey: KeyObject, opts: SignOptions): IssuedCertificate {
    return this.#issue(spkiOf(publicKey), opts);
  }

  /**
   * A new intermediate CA under this one (ECDSA P-256, pathLen 0). For tests of chains and for
   * multi-cluster set-ups that sign each cluster's CA from a common root.
   */
  createIntermediate(
    opts: { commonName?: string; validityDays?: number; minTtlSeconds?: number } = {},
  ): CertificateAuthority {
    const { privateKey, publicKey } = generateKeyPair();
    const now = this.#config.clock();
    const notAfterMs = Math.min(now + (opts.validityDays ?? 365) * 86_400_000, this.notAfter.getTime());
    const der = buildCaCertificate({
      subject: caName(
        this.#config.trustDomain,
        opts.commonName ?? `ambit intermediate CA ${randomBytes(4).toString("hex")}`,
      ),
      issuer: this.#state.fields.subjectRaw,
      spki: spkiDerOf(publicKey),
      notBefore: floorToSecond(now - CLOCK_SKEW_GRACE_SECONDS * 1000),
      notAfter: floorToSecond(notAfterMs),
      signingKey: this.#state.key,
      issuerKeyId: subjectKeyIdentifierOf(this.#state.fields),
      pathLength: 0,
    });
    const certPem = pemEncode(der, "CERTIFICATE");
    return new CertificateAuthority(
      Object.freeze({ ...this.#config, minTtlSeconds: opts.minTtlSeconds ?? this.#config.minTtlSeconds }),
      {
        key: privateKey,
        certDer: der,
        certPem,
        fields: parseCertificateDer(der),
        chainPem: [certPem, ...this.#state.chainPem],
        rootPem: this.#state.rootPem,
      },
    );
  }

  #validity(opts: SignOptions): { notBefore: Date; notAfter: Date } {
    if (opts.notBefore !== undefined || opts.notAfter !== undefined) {
      const now = this.#config.clock();
      const notBefore = floorToSecond(opts.notBefore?.getTime() ?? now - CLOCK_SKEW_GRACE_SECONDS * 1000);
      const notAfter = floorToSecond(
        opts.notAfter?.getTime() ?? now + (opts.ttlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS) * 1000,
      );
      if (!(notAfter.getTime() > notBefore.getTime())) {
        throw new IdentityError(
          "ID_ERR_BAD_VALIDITY",
          `notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`,
        );
      }
      return { notBefore, notAfter };
    }
    const ttl = opts.ttlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS;
    const { minTtlSeconds, maxTtlSeconds } = this.#config;
    if (!Number.isInteger(ttl) || ttl < minTtlSeconds || ttl > maxTtlSeconds) {
      throw new IdentityError(
        "ID_ERR_BAD_TTL",
        `certificate TTL ${ttl}s is out of range: use a whole number of seconds between ${minTtlSeconds} and ${maxTtlSeconds}`,
      );
    }
    const now = this.#config.clock();
    // A leaf never outlives its issuer: peers would reject it once the CA certificate expires anyway.
    const notAfterMs = Math.min(now + ttl * 1000, this.notAfter.getTime());
    // Below the production floor (tests only) a 2-minute backdate would put half-life before the issue
    // time and renewal would loop: backdate by at most a quarter of the TTL there.
    const grace =
      ttl < DEFAULT_MIN_TTL_SECONDS
        ? Math.min(CLOCK_SKEW_GRACE_SECONDS, Math.floor(ttl / 4))
        : CLOCK_SKEW_GRACE_SECONDS;
    return {
      notBefore: floorToSecond(now - grace * 1000),
      notAfter: floorToSecond(notAfterMs),
    };
  }

  #issue(spkiDer: Buffer, opts: SignOptions): IssuedCertificate {
    const identity = opts.identity;
    if (identity.trustDomain !== this.#config.trustDomain) {
      throw new IdentityError(
        "ID_ERR_TRUST_DOMAIN_MISMATCH",
        `${identity} is in trust domain "${identity.trustDomain}" but this CA issues for "${this.#config.trustDomain}"`,
      );
    }
    const { notBefore, notAfter } = this.#validity(opts);
    const serial = randomSerial();
    const extensions = [
      LEAF_KEY_USAGE,
      LEAF_EXT_KEY_USAGE,
      LEAF_BASIC_CONSTRAINTS,
      skiExtension(subjectKeyIdentifier(spkiDer)),
    ];
    if (this.#aki !== undefined) extensions.push(this.#aki);
    extensions.push(sequence(SAN_PREFIX, octetString(uriGeneralNames([identity.toString()]))));
    const tbs = sequence(
      VERSION_V3,
      unsignedInteger(serial),
      this.#issuerTail,
      sequence(time(notBefore), time(notAfter)),
      EMPTY_NAME,
      spkiDer,
      contextTag(3, sequence(...extensions), true),
    );
    const signature = cryptoSign(this.#algorithm.hash, tbs, this.#state.key);
    const der = sequence(tbs, this.#algorithm.algorithmIdentifier, bitString(signature));
    return {
      certPem: pemEncode(der, "CERTIFICATE"),
      chainPem: [...this.#state.chainPem],
      rootPem: this.#state.rootPem,
      serial: serialHex(serial),
      notBefore,
      notAfter,
    };
  }
}

interface CaCertificateSpec {
  subject: Buffer;
  issuer: Buffer;
  spki: Buffer;
  notBefore: Date;
  notAfter: Date;
  signingKey: KeyObject;
  issuerKeyId: Buffer | undefined;
  pathLength: number | undefined;
}

function buildCaCertificate(spec: CaCertificateSpec): Buffer {
  const algorithm = signatureAlgorithmFor(spec.signingKey);
  const basic = sequence(
    boolean(true),
    ...(spec.pathLength === undefined ? [] : [smallInteger(spec.pathLength)]),
  );
  const extensions = [
    CA_KEY_USAGE,
    sequence(oid(Oid.basicConstraints), boolean(true), octetString(basic)),
    skiExtension(subjectKeyIdentifier(spec.spki)),
  ];
  if (spec.issuerKeyId !== undefined) extensions.push(akiExtension(spec.issuerKeyId));
  const tbs = sequence(
    VERSION_V3,
    unsignedInteger(randomSerial()),
    algorithm.algorithmIdentifier,
    spec.issuer,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    spec.spki,
    contextTag(3, sequence(...extensions), true),
  );
  const signature = cryptoSign(algorithm.hash, tbs, spec.signingKey);
  return sequence(tbs, algorithm.algorithmIdentifier, bitString(signature));
}
