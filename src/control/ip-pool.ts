/** IPv4 arithmetic for the address pools (node pod CIDRs, the service VIP range). */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  bits: number;
}

export function ipToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function parseCidr(text: string): Cidr | undefined {
  const [ip, len] = text.split("/");
  const base = ip === undefined ? undefined : ipToInt(ip);
  const bits = len === undefined ? Number.NaN : Number(len);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  return { base: base - (base % size), bits };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = ipToInt(ip);
  return n !== undefined && n >= c.base && n < c.base + cidrSize(c);
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.bits}`;
}

/**
 * The lowest free address of `c` from offset `first` on (pods start at .2: .0 is the network and
 * .1 the node's gateway), skipping the broadcast address; undefined when the pool is full.
 */
export function firstFree(c: Cidr, used: ReadonlySet<string>, first: number): string | undefined {
  const size = cidrSize(c);
  for (let i = first; i < size - 1; i++) {
    const ip = intToIp(c.base + i);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** 4 bytes for IPv4, 16 for IPv6: the wire form of istio.workload addresses. */
export function ipBytes(ip: string): Uint8Array {
  const v4 = ipToInt(ip);
  if (v4 !== undefined) return new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
  return ipv6Bytes(ip) ?? new Uint8Array();
}

function ipv6Bytes(ip: string): Uint8Array | undefined {
  const halves = ip.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill("0"), ...tail];
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? "";
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 255;
  }
  return out;
}
