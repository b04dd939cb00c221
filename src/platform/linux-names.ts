/**
 * Validation of the names and addresses handed to `ip` and `iptables`: everything is passed as
 * separate argv items (never through a shell), and these checks make a bad value fail with
 * PLAT_ERR_INVALID naming it, before any command runs.
 */
import { isIPv4, isIPv6 } from "node:net";
import { invalid } from "./errors.js";

/** Names under /run/netns: a file name; kept to a conservative character set. */
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** Linux IFNAMSIZ is 16 including the NUL. */
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export function checkNetnsName(name: string): string {
  if (!NETNS_NAME.test(name)) {
    throw invalid(`"${name}" is not a usable netns name (1-63 of A-Z a-z 0-9 _ . -, starting alphanumeric)`);
  }
  return name;
}

export function checkLinkName(name: string): string {
  if (!LINK_NAME.test(name)) {
    throw invalid(`"${name}" is not a usable link name (1-15 of A-Z a-z 0-9 _ . -, starting alphanumeric)`);
  }
  return name;
}

export function checkIp(ip: string): string {
  if (!isIPv4(ip) && !isIPv6(ip)) throw invalid(`"${ip}" is not an IPv4 or IPv6 address`);
  return ip;
}

/** `a.b.c.d/len` or `v6/len` (the host bits are not checked: `ip` accepts an address with its prefix). */
export function checkCidr(cidr: string): string {
  const slash = cidr.indexOf("/");
  const ip = slash < 0 ? "" : cidr.slice(0, slash);
  const len = slash < 0 ? Number.NaN : Number(cidr.slice(slash + 1));
  const max = isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : -1;
  if (max < 0 || !Number.isInteger(len) || len < 0 || len > max || cidr.slice(slash + 1) === "") {
    throw invalid(`"${cidr}" is not a CIDR block like 10.244.1.0/24`);
  }
  return cidr;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid(`${port} is not a port number 1-65535`);
  return port;
}

/** `iptables -w <args>` run inside `netns` (checked), as one argv: never through a shell. */
export function iptablesInNetns(netns: string, args: readonly string[]): string[] {
  return ["ip", "netns", "exec", checkNetnsName(netns), "iptables", "-w", ...args];
}
