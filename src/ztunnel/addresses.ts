/** IP address helpers: xDS carries raw bytes, sockets report text; both meet in canonical text form. */
import { isIP } from "node:net";

/** Raw 4- or 16-byte address → canonical text (IPv6 compressed, lowercase); undefined for other lengths. */
export function ipFromBytes(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return canonicalIp(groups.join(":"));
  }
  return undefined;
}

/** Text → raw bytes (for building xDS resources in tests and tools). */
export function ipToBytes(ip: string): Uint8Array {
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from(ip.split(".").map((p) => Number(p)));
  if (family === 6) {
    const full = expandIpv6(ip);
    const out = new Uint8Array(16);
    full.forEach((g, i) => {
      out[i * 2] = g >> 8;
      out[i * 2 + 1] = g & 0xff;
    });
    return out;
  }
  throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
}

function expandIpv6(ip: string): number[] {
  const [head = "", tail] = ip.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * Canonical text of an address as sockets report it; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`,
 * seen on dual-stack listeners) becomes plain IPv4 so lookups by source IP still match.
 */
export function canonicalIp(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4) return lower.slice(7);
  if (isIP(lower) === 6) return new URL(`http://[${lower}]`).hostname.slice(1, -1);
  return lower;
}

/** `ip:port`, bracketing IPv6 as URIs and HTTP authorities require. */
export function hostPort(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}
