import { createECDH, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import {
  bitString,
  bitStringBytes,
  boolean,
  contextTag,
  decodeOid,
  expect,
  expectChildren,
  nullValue,
  octetString,
  oid,
  readSingle,
  sequence,
  set,
  smallInteger,
  Tag,
} from "./der.js";
import { IdentityError } from "./errors.js";
import { pemDecodeOne, pemEncode } from "./pem.js";
import type { SpiffeId } from "./spiffe.js";
import { Oid, uriSansOfGeneralNames } from "./x509.js";

/**
 * Workload keys are ECDSA P-256, as Istio's and ztunnel's defaults (P-384 for a CA that asks).
 *
 * Not `crypto.generateKeyPairSync`: in Node 20 the key-generation job it leaves for the garbage
 * collector locks the new key's mutex when it is destroyed, and exporting that key as JWK (which
 * this file does to encode keys fast) holds the same mutex while it allocates. A collection that
 * lands inside the export then destroys the job and the process deadlocks for good — ~1 % of test
 * runs here, and a ztunnel renewing a certificate would have frozen the same way (gdb: main thread
 * in `~KeyGenJob` → `uv_mutex_lock`, under `ExportJWKEcKey`). The same scalar and point come from
 * ECDH key generation, which leaves no job behind; the KeyObjects are imported from them.
 */
export function generateKeyPair(namedCurve: "prime256v1" | "secp384r1" = "prime256v1"): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  const curve = EC_CURVES[namedCurve] as (typeof EC_CURVES)[string];
  const ecdh = createECDH(namedCurve);
  const point = ecdh.generateKeys();
  const x = point.subarray(1, 1 + curve.size).toString("base64url");
  const y = point.subarray(1 + curve.size).toString("base64url");
  const d = fixedLength(ecdh.getPrivateKey("base64url"), curve.size).toString("base64url");
  return {
    privateKey: createPrivateKey({ key: { kty: "EC", crv: curve.jwk, x, y, d }, format: "jwk" }),
    publicKey: createPublicKey({ key: { kty: "EC", crv: curve.jwk, x, y }, format: "jwk" }),
  };
}

// OpenSSL 3.0's generic key encoders and decoders (SPKI/PKCS#8 DER or PEM) cost ~4–25× a P-256 signature
// here, while the JWK paths go straight to the curve point. So EC keys move between KeyObject and DER by
// way of JWK and ambit's own DER; other key types take Node's encoders.
const EC_CURVES: Readonly<Record<string, { oid: string; jwk: "P-256" | "P-384"; size: number }>> = {
  prime256v1: { oid: Oid.prime256v1, jwk: "P-256", size: 32 },
  secp384r1: { oid: Oid.secp384r1, jwk: "P-384", size: 48 },
};
const CURVE_BY_OID: Readonly<Record<string, { jwk: "P-256" | "P-384"; size: number }>> = {
  [Oid.prime256v1]: { jwk: "P-256", size: 32 },
  [Oid.secp384r1]: { jwk: "P-384", size: 48 },
};

function fixedLength(b64url: string | undefined, size: number): Buffer {
  const bytes = Buffer.from(b64url ?? "", "base64url");
  if (bytes.length === size) return bytes;
  const out = Buffer.alloc(size);
  bytes.copy(out, size - bytes.length);
  return out;
}

/** The DER SubjectPublicKeyInfo of a public key. */
export function spkiDerOf(publicKey: KeyObject): Buffer {
  const curve = EC_CURVES[publicKey.asymmetricKeyDetails?.namedCurve ?? ""];
  if (publicKey.asymmetricKeyType !== "ec" || curve === undefined) {
    return publicKey.export({ type: "spki", format: "der" });
  }
  const jwk = publicKey.export({ format: "jwk" });
  const point = Buffer.concat([
    Buffer.from([4]),
    fixedLength(jwk.x, curve.size),
    fixedLength(jwk.y, curve.size),
  ]);
  return sequence(sequence(oid(Oid.ecPublicKey), oid(curve.oid)), bitString(point));
}

/** A public KeyObject from a DER SubjectPublicKeyInfo. */
export function publicKeyFromSpki(spkiDer: Buffer): KeyObject {
  const [algorithm, keyBits] = expectChildren(readSingle(spkiDer), Tag.SEQUENCE, "SubjectPublicKeyInfo");
  const [algOid, params] = expectChildren(algorithm, Tag.SEQUENCE, "algorithm");
  const curve = params?.tag === Tag.OID ? CURVE_BY_OID[decodeOid(params)] : undefined;
  if (algOid !== undefined && decodeOid(algOid) === Oid.ecPublicKey && curve !== undefined) {
    const point = bitStringBytes(expect(keyBits, Tag.BIT_STRING, "subjectPublicKey"));
    if (point.length === 1 + 2 * curve.size && point[0] === 4) {
      const x = point.subarray(1, 1 + curve.size).toString("base64url");
      const y = point.subarray(1 + curve.size).toString("base64url");
      return createPublicKey({ key: { kty: "EC", crv: curve.jwk, x, y }, format: "jwk" });
    }
  }
  return createPublicKey({ key: spkiDer, format: "der", type: "spki" });
}

/** PKCS#8 PEM of a private key (what `tls` `key` takes). EC keys are encoded as OpenSSL does (RFC 5915). */
export function privateKeyPem(privateKey: KeyObject): string {
  const curve = EC_CURVES[privateKey.asymmetricKeyDetails?.namedCurve ?? ""];
  if (privateKey.asymmetricKeyType !== "ec" || curve === undefined) {
    return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  }
  const jwk = privateKey.export({ format: "jwk" });
  const point = Buffer.concat([
    Buffer.from([4]),
    fixedLength(jwk.x, curve.size),
    fixedLength(jwk.y, curve.size),
  ]);
  const ecPrivateKey = sequence(
    smallInteger(1),
    octetString(fixedLength(jwk.d, curve.size)),
    contextTag(1, bitString(point), true),
  );
  const info = sequence(
    smallInteger(0),
    sequence(oid(Oid.ecPublicKey), oid(curve.oid)),
    octetString(ecPrivateKey),
  );
  return pemEncode(info, "PRIVATE KEY");
}

/** How a key signs: the digest for `crypto.sign` and the DER AlgorithmIdentifier naming it. */
export interface SignatureAlgorithm {
  readonly hash: "sha256" | "sha384";
  readonly algorithmIdentifier: Buffer;
}

const ECDSA_SHA256: SignatureAlgorithm = {
  hash: "sha256",
  algorithmIdentifier: sequence(oid(Oid.ecdsaWithSha256)),
};
const ECDSA_SHA384: SignatureAlgorithm = {
  hash: "sha384",
  algorithmIdentifier: sequence(oid(Oid.ecdsaWithSha384)),
};
// RFC 4055 §5: the RSA PKCS#1 v1.5 AlgorithmIdentifier carries an explicit NULL parameter.
const RSA_SHA256: SignatureAlgorithm = {
  hash: "sha256",
  algorithmIdentifier: sequence(oid(Oid.sha256WithRsa), nullValue()),
};

/** The algorithm a CA key signs with. P-256 → ecdsa-with-SHA256, P-384 → SHA384, RSA → sha256WithRSA. */
export function signatureAlgorithmFor(privateKey: KeyObject): SignatureAlgorithm {
  const type = privateKey.asymmetricKeyType;
  if (type === "ec") {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return ECDSA_SHA256;
    if (curve === "secp384r1") return ECDSA_SHA384;
    throw new IdentityError(
      "ID_ERR_UNSUPPORTED_KEY",
      `EC curve ${curve ?? "?"} is not supported; use P-256 or P-384`,
    );
  }
  if (type === "rsa") return RSA_SHA256;
  throw new IdentityError(
    "ID_ERR_UNSUPPORTED_KEY",
    `key type ${type ?? "?"} is not supported; use ECDSA P-256`,
  );
}

const HASH_OF_SIGNATURE_OID: Readonly<Record<string, "sha256" | "sha384">> = {
  [Oid.ecdsaWithSha256]: "sha256",
  [Oid.ecdsaWithSha384]: "sha384",
  [Oid.sha256WithRsa]: "sha256",
};

export function hashOfSignatureOid(algorithmOid: string): "sha256" | "sha384" | undefined {
  return HASH_OF_SIGNATURE_OID[algorithmOid];
}

/** GeneralNames holding URIs, as the SAN extension's value. */
export function uriGeneralNames(uris: readonly string[]): Buffer {
  return sequence(
    ...uris.map((u) => {
      if (!/^[\x21-\x7e]+$/.test(u))
        throw new RangeError(`URI SAN ${JSON.stringify(u)} must be printable ASCII`);
      return contextTag(6, Buffer.from(u, "latin1"), false);
    }),
  );
}

/**
 * A PKCS#10 request (RFC 2986) for `identity`: empty subject, the SPIFFE id as a critical URI SAN in an
 * extensionRequest attribute (as Istio's agent builds its CSRs), self-signed with `privateKey`.
 */
export function createCsr(privateKey: KeyObject, identity: SpiffeId): string {
  const algorithm = signatureAlgorithmFor(privateKey);
  const spki = spkiDerOf(createPublicKey(privateKey));
  const san = sequence(
    oid(Oid.subjectAltName),
    boolean(true),
    octetString(uriGeneralNames([identity.toString()])),
  );
  const extensionRequest = sequence(oid(Oid.extensionRequest), set(sequence(san)));
  const info = sequence(smallInteger(0), sequence(), spki, contextTag(0, extensionRequest, true));
  const signature = sign(algorithm.hash, info, privateKey);
  return pemEncode(
    sequence(info, algorithm.algorithmIdentifier, bitString(signature)),
    "CERTIFICATE REQUEST",
  );
}

export interface ParsedCsr {
  readonly publicKey: KeyObject;
  /** The DER SubjectPublicKeyInfo, ready to place in a certificate. */
  readonly spkiDer: Buffer;
  readonly uriSans: string[];
}

function badCsr(why: string, cause?: unknown): IdentityError {
  return new IdentityError("ID_ERR_BAD_CSR", `bad certificate signing request: ${why}`, { cause });
}

/** Parses a PKCS#10 PEM, verifies its self-signature and returns its key and URI SANs (ID_ERR_BAD_CSR). */
export function parseCsr(pem: string): ParsedCsr {
  let der: Buffer;
  try {
    der = pemDecodeOne(pem, "CERTIFICATE REQUEST", "the CSR");
  } catch (e) {
    throw badCsr("expected one PEM block labelled CERTIFICATE REQUEST", e);
  }
  return parseCsrDer(der);
}

export function parseCsrDer(der: Buffer): ParsedCsr {
  try {
    const top = expectChildren(readSingle(der), Tag.SEQUENCE, "CertificationRequest");
    const infoNode = expect(top[0], Tag.SEQUENCE, "certificationRequestInfo");
    const algOid = decodeOid(expectChildren(top[1], Tag.SEQUENCE, "signatureAlgorithm")[0] ?? infoNode);
    const signature = bitStringBytes(expect(top[2], Tag.BIT_STRING, "signature"));
    const info = expectChildren(infoNode, Tag.SEQUENCE, "certificationRequestInfo");
    const version = expect(info[0], Tag.INTEGER, "version");
    if (version.value.length !== 1 || version.value[0] !== 0) throw badCsr("version must be 0 (v1)");
    const spkiDer = expect(info[2], Tag.SEQUENCE, "subjectPKInfo").raw;
    const publicKey = publicKeyFromSpki(spkiDer);
    const hash = hashOfSignatureOid(algOid);
    if (hash === undefined)
      throw badCsr(`signature algorithm ${algOid} is not supported (use ECDSA with SHA-256)`);
    if (!verify(hash, infoNode.raw, publicKey, signature)) {
      throw badCsr("its signature does not verify with its own public key (tampered or wrong key)");
    }
    const uriSans: string[] = [];
    const attributes = info[3];
    if (attributes !== undefined) {
      if (attributes.tag !== 0xa0) throw badCsr("attributes must be [0] IMPLICIT SET OF Attribute");
      for (const attr of expectChildren({ ...attributes, tag: Tag.SET }, Tag.SET, "attributes")) {
        const [type, values] = expectChildren(attr, Tag.SEQUENCE, "attribute");
        if (type === undefined || decodeOid(type) !== Oid.extensionRequest) continue;
        for (const exts of expectChildren(values, Tag.SET, "extensionRequest values")) {
          for (const ext of expectChildren(exts, Tag.SEQUENCE, "Extensions")) {
            const parts = expectChildren(ext, Tag.SEQUENCE, "extension");
            if (decodeOid(expect(parts[0], Tag.OID, "extnID")) !== Oid.subjectAltName) continue;
            const valueNode = parts[1]?.tag === Tag.BOOLEAN ? parts[2] : parts[1];
            uriSans.push(...uriSansOfGeneralNames(expect(valueNode, Tag.OCTET_STRING, "extnValue").value));
          }
        }
      }
    }
    return { publicKey, spkiDer: Buffer.from(spkiDer), uriSans };
  } catch (e) {
    if (e instanceof IdentityError && e.code === "ID_ERR_BAD_CSR") throw e;
    throw badCsr(e instanceof Error ? e.message : String(e), e);
  }
}
