import {
  bitStringBytes,
  children,
  type DerNode,
  decodeOid,
  decodeTime,
  expect,
  expectChildren,
  readSingle,
  Tag,
} from "./der.js";
import { IdentityError } from "./errors.js";

/** Object identifiers ambit reads or writes. */
export const Oid = {
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  organization: "2.5.4.10",
  extensionRequest: "1.2.840.113549.1.9.14",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRsa: "1.2.840.113549.1.1.11",
} as const;

export interface CertificateExtension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content (the DER of the extension's own type). */
  readonly value: Buffer;
}

/** The fields of an X.509 certificate that signing and chain building need, as views into the DER. */
export interface CertificateFields {
  readonly serial: Buffer;
  readonly issuerRaw: Buffer;
  readonly subjectRaw: Buffer;
  readonly spkiRaw: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, CertificateExtension>;
}

export function parseCertificateDer(der: Buffer): CertificateFields {
  const cert = expectChildren(readSingle(der), Tag.SEQUENCE, "Certificate");
  const tbs = expectChildren(cert[0], Tag.SEQUENCE, "tbsCertificate");
  let i = 0;
  if (tbs[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serial = expect(tbs[i], Tag.INTEGER, "serialNumber").value;
  const issuerRaw = expect(tbs[i + 2], Tag.SEQUENCE, "issuer").raw;
  const validity = expectChildren(tbs[i + 3], Tag.SEQUENCE, "validity");
  const subjectRaw = expect(tbs[i + 4], Tag.SEQUENCE, "subject").raw;
  const spkiRaw = expect(tbs[i + 5], Tag.SEQUENCE, "subjectPublicKeyInfo").raw;
  const extensions = new Map<string, CertificateExtension>();
  const extsNode = tbs.slice(i + 6).find((n) => n.tag === 0xa3);
  if (extsNode !== undefined) {
    for (const ext of expectChildren(children(extsNode)[0], Tag.SEQUENCE, "extensions")) {
      const parts = expectChildren(ext, Tag.SEQUENCE, "extension");
      const id = decodeOid(expect(parts[0], Tag.OID, "extnID"));
      const hasCritical = parts[1]?.tag === Tag.BOOLEAN;
      const critical = hasCritical && (parts[1] as DerNode).value[0] !== 0;
      const value = expect(parts[hasCritical ? 2 : 1], Tag.OCTET_STRING, "extnValue").value;
      extensions.set(id, { critical, value });
    }
  }
  return {
    serial,
    issuerRaw,
    subjectRaw,
    spkiRaw,
    notBefore: decodeTime(validity[0] ?? failMissing("notBefore")),
    notAfter: decodeTime(validity[1] ?? failMissing("notAfter")),
    extensions,
  };
}

function failMissing(what: string): never {
  throw new IdentityError("ID_ERR_BAD_DER", `malformed DER: ${what} is missing`);
}

/** The uniformResourceIdentifier ([6] IA5String) entries of a GeneralNames value. */
export function uriSansOfGeneralNames(generalNames: Buffer): string[] {
  const out: string[] = [];
  for (const name of expectChildren(readSingle(generalNames), Tag.SEQUENCE, "GeneralNames")) {
    if (name.tag === 0x86) out.push(name.value.toString("latin1"));
  }
  return out;
}

export function uriSansOfCertificate(der: Buffer): string[] {
  const san = parseCertificateDer(der).extensions.get(Oid.subjectAltName);
  return san === undefined ? [] : uriSansOfGeneralNames(san.value);
}

/** The keyIdentifier of a SubjectKeyIdentifier extension, if the certificate has one. */
export function subjectKeyIdentifierOf(fields: CertificateFields): Buffer | undefined {
  const ski = fields.extensions.get(Oid.subjectKeyIdentifier);
  return ski === undefined
    ? undefined
    : expect(readSingle(ski.value), Tag.OCTET_STRING, "keyIdentifier").value;
}

/** The subjectPublicKey BIT STRING content of a SubjectPublicKeyInfo (what RFC 5280 §4.2.1.2 hashes). */
export function publicKeyBitsOfSpki(spkiDer: Buffer): Buffer {
  const spki = expectChildren(readSingle(spkiDer), Tag.SEQUENCE, "SubjectPublicKeyInfo");
  return bitStringBytes(expect(spki[1], Tag.BIT_STRING, "subjectPublicKey"));
}

/** OpenSSL/Node's serial rendering: uppercase hex of the magnitude without leading zero bytes. */
export function serialHex(integerContent: Buffer): string {
  let start = 0;
  while (start < integerContent.length - 1 && integerContent[start] === 0) start++;
  return integerContent.subarray(start).toString("hex").toUpperCase();
}
