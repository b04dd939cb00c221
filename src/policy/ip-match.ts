/**
 * IP and CIDR matching for `ipBlocks`, `remoteIpBlocks`, and the `source.ip` / `remote.ip` /
 * `destination.ip` conditions. A bare address is a /32 (IPv4) or /128 (IPv6) block, as istiod converts it.
 * Addresses are four 32-bit words so one comparison loop serves both families. An IPv4-mapped IPv6
 * address (`::ffff:10.0.0.1`, what a dual-stack Node socket reports) is compared as the IPv4 address.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface ParsedIp {
  readonly family: 4 | 6;
  /** Big-endian 32-bit words; IPv4 uses only words[0]. */
  readonly words: readonly [number, number, number, number];
}

export interface CidrBlock extends ParsedIp {
  readonly prefix: number;
  /** The text as written, for messages. */
  readonly text: string;
}

/** Dotted quad → 32-bit word without allocating (the input is already known to be valid IPv4). */
function parseV4Word(s: string): number {
  let w = 0;
  let octet = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      w = w * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 48);
    }
  }
  return (w * 256 + octet) >>> 0;
}

/** Parses an IPv4 or IPv6 address (no zone, no prefix); null when it is not one. */
export function parseIp(text: string): ParsedIp | null {
  if (isIPv4(text)) return { family: 4, words: [parseV4Word(text), 0, 0, 0] };
  if (!isIPv6(text) || text.includes("%")) return null;
  let head = text;
  let tailV4: number | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) !== -1) {
    tailV4 = parseV4Word(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const l = left === "" || left === undefined ? [] : left.split(":");
  const r = right === undefined || right === "" ? [] : right.split(":");
  const groups: number[] = [...l.map((g) => Number.parseInt(g, 16))];
  if (right !== undefined) for (let i = l.length + r.length; i < 8; i++) groups.push(0);
  for (const g of r) groups.push(Number.parseInt(g, 16));
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) words[i] = (((groups[2 * i] ?? 0) << 16) | (groups[2 * i + 1] ?? 0)) >>> 0;
  if (tailV4 !== null) words[3] = tailV4;
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return { family: 4, words: [words[3], 0, 0, 0] };
  }
  return { family: 6, words };
}

/** Parses "10.0.0.0/8", "10.1.2.3", "2001:db8::/32" or "::1"; null when malformed. */
export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf("/");
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null) return null;
  const max = isIPv4(addrText) ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  // A mapped address written in IPv6 form keeps its IPv6 prefix length; rebase it onto IPv4.
  if (ip.family === 4 && max === 128) prefix = Math.max(0, prefix - 96);
  return { family: ip.family, words: ip.words, prefix, text };
}

export function cidrContains(block: CidrBlock, ip: ParsedIp): boolean {
  if (block.family !== ip.family) return false;
  let bits = block.prefix;
  for (let i = 0; i < 4 && bits > 0; i++) {
    const take = Math.min(bits, 32);
    const mask = take === 32 ? 0xffffffff : ~(0xffffffff >>> take) >>> 0;
    if (((block.words[i] ?? 0) & mask) >>> 0 !== ((ip.words[i] ?? 0) & mask) >>> 0) return false;
    bits -= take;
  }
  return true;
}

export function anyCidrContains(blocks: readonly CidrBlock[], ip: ParsedIp | null): boolean {
  if (ip === null) return false;
  for (const b of blocks) if (cidrContains(b, ip)) return true;
  return false;
}
