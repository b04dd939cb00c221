import { IdentityError } from "./errors.js";

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Text between blocks (OpenSSL's "subject=" lines) is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    out.push({ label: m[1] as string, der: Buffer.from((m[2] as string).replace(/\s+/g, ""), "base64") });
  }
  return out;
}

/** The DER of every block labelled `label`; throws ID_ERR_BAD_PEM when there is none. */
export function pemDecodeAll(text: string, label: string, what: string): Buffer[] {
  const ders = pemBlocks(text)
    .filter((b) => b.label === label)
    .map((b) => b.der);
  if (ders.length === 0) {
    throw new IdentityError("ID_ERR_BAD_PEM", `${what} holds no "-----BEGIN ${label}-----" block`);
  }
  return ders;
}

export function pemDecodeOne(text: string, label: string, what: string): Buffer {
  const ders = pemDecodeAll(text, label, what);
  if (ders.length !== 1) {
    throw new IdentityError("ID_ERR_BAD_PEM", `${what} holds ${ders.length} "${label}" blocks, expected one`);
  }
  return ders[0] as Buffer;
}

export function pemEncode(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Splits a concatenation of certificates into one normalised PEM string each. */
export function splitCertificates(text: string): string[] {
  return pemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => pemEncode(b.der, "CERTIFICATE"));
}
