/**
 * The mesh's revoked certificate serials, as a proxy holds them. An ambit extension: Istio has no
 * revocation for workload certificates (they live an hour and are not checked against any CRL).
 * The control plane pushes the list inside the trust bundle; both HBONE directions refuse a peer
 * whose chain holds a listed serial. Serials are unique per issuing CA only, but every CA in a
 * mesh bundle draws 128 random bits (RFC 5280 §4.1.2.2 asks for at most 20 octets), so a
 * collision across CAs is not a practical concern.
 */
import { IdentityError } from "./errors.js";

/** At most 20 octets (RFC 5280 §4.1.2.2): 40 hex digits. */
const MAX_SERIAL_HEX = 40;

/**
 * One spelling per serial: uppercase hex without separators or leading zeros, so `0a:1b`,
 * `0A1B` and `a1b` (Node renders `serialNumber` without leading zero bytes) all match.
 * Throws ID_ERR_BAD_SERIAL naming the value when it is not a certificate serial.
 */
export function normaliseSerial(input: string): string {
  const compact = input.trim().replace(/^0x/i, "").replace(/:/g, "");
  if (!/^[0-9a-fA-F]+$/.test(compact)) {
    throw new IdentityError(
      "ID_ERR_BAD_SERIAL",
      `"${printable(input)}" is not a certificate serial: expected hex digits (colons allowed), as \`ambit cert status\` prints them`,
    );
  }
  const stripped = compact.replace(/^0+(?=.)/, "").toUpperCase();
  if (stripped.length > MAX_SERIAL_HEX) {
    throw new IdentityError(
      "ID_ERR_BAD_SERIAL",
      `"${printable(input)}" is ${Math.ceil(stripped.length / 2)} octets long; a certificate serial has at most 20 (RFC 5280)`,
    );
  }
  return stripped;
}

export function isSerial(input: string): boolean {
  try {
    normaliseSerial(input);
    return true;
  } catch {
    return false;
  }
}

function printable(s: string): string {
  const shown = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return shown.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The live set a proxy checks handshakes against. One instance per process, shared by every
 * credential of its certificate store, so a pushed change reaches sessions already pooled:
 * `version` rises on every change and holders re-check what they verified before.
 */
export class RevocationList {
  #serials: ReadonlySet<string> = new Set();
  #version = 0;

  /** Replaces the whole list (the xDS resource carries all of it). Returns the serials newly revoked. */
  replace(serials: Iterable<string>): string[] {
    const next = new Set<string>();
    for (const s of serials) next.add(normaliseSerial(s));
    const added = [...next].filter((s) => !this.#serials.has(s));
    const removed = [...this.#serials].some((s) => !next.has(s));
    if (added.length > 0 || removed) {
      this.#serials = next;
      this.#version += 1;
    }
    return added;
  }

  has(serial: string): boolean {
    return isSerial(serial) && this.#serials.has(normaliseSerial(serial));
  }

  /** The first serial of `chain` (leaf first) that is revoked, if any. */
  firstRevoked(chain: readonly string[]): string | undefined {
    return chain.find((s) => this.has(s));
  }

  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#serials.size;
  }

  list(): string[] {
    return [...this.#serials];
  }
}
