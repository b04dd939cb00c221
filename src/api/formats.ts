/**
 * Value formats shared by every API group: ports, addresses, durations, Kubernetes names and
 * label syntax, Istio's wildcard rule. Each returns a schema whose errors name the value and the
 * expected form.
 */
import { isIP } from "node:net";
import { ConfigErrorCode as C } from "./errors.js";
import { int, type Problem, problem, type Schema, str } from "./schema.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function checkDns1123Label(v: string): Problem | undefined {
  if (v.length <= 63 && DNS1123_LABEL.test(v)) return undefined;
  return problem(
    C.NAME,
    `${JSON.stringify(v)} is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)`,
  );
}

export function checkDns1123Subdomain(v: string): Problem | undefined {
  if (v.length <= 253 && DNS1123_SUBDOMAIN.test(v)) return undefined;
  return problem(
    C.NAME,
    `${JSON.stringify(v)} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`,
  );
}

export function checkDns1035Label(v: string): Problem | undefined {
  if (v.length <= 63 && DNS1035_LABEL.test(v)) return undefined;
  return problem(
    C.NAME,
    `${JSON.stringify(v)} is not a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters)`,
  );
}

export function checkLabelKey(k: string): Problem | undefined {
  const slash = k.indexOf("/");
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== undefined && (prefix === "" || checkDns1123Subdomain(prefix) !== undefined)) {
    return problem(
      C.NAME,
      `label key ${JSON.stringify(k)} has an invalid prefix (expected a DNS subdomain before '/')`,
    );
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return problem(
      C.NAME,
      `label key ${JSON.stringify(k)} is not valid (expected [prefix/]name, name at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit)`,
    );
  }
  return undefined;
}

export function checkLabelValue(v: string): Problem | undefined {
  if (v === "" || (v.length <= 63 && LABEL_NAME.test(v))) return undefined;
  return problem(
    C.NAME,
    `label value ${JSON.stringify(v)} is not valid (at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit)`,
  );
}

export const dnsLabel = (): Schema => str({ expect: "a DNS-1123 label", check: checkDns1123Label });
export const dnsSubdomain = (): Schema =>
  str({ expect: "a DNS-1123 subdomain", check: checkDns1123Subdomain });
export const labelValue = (): Schema =>
  str({ expect: "a label value", check: checkLabelValue, acceptInt: false });

/** A port number as YAML integer. */
export const portNumber = (): Schema =>
  int({ min: 1, max: 65535, rangeCode: C.PORT, expect: "a port number (1-65535)" });

export function checkPortString(v: string): Problem | undefined {
  if (/^\d{1,5}$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 65535) return undefined;
  }
  return problem(C.PORT, `${JSON.stringify(v)} is not a port number (1-65535)`);
}

/** Istio's string-typed ports (AuthorizationPolicy `ports`); a bare integer is accepted and kept as a string. */
export const portString = (): Schema =>
  str({ expect: "a port number (1-65535)", check: checkPortString, acceptInt: true });

export function checkIp(v: string): Problem | undefined {
  return isIP(v) !== 0 ? undefined : problem(C.CIDR, `${JSON.stringify(v)} is not an IP address`);
}

export function checkIpOrCidr(v: string): Problem | undefined {
  const slash = v.indexOf("/");
  if (slash < 0) {
    return isIP(v) !== 0
      ? undefined
      : problem(C.CIDR, `${JSON.stringify(v)} is not an IP address or CIDR block`);
  }
  const ip = v.slice(0, slash);
  const bits = v.slice(slash + 1);
  const family = isIP(ip);
  const max = family === 4 ? 32 : 128;
  if (family !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= max) return undefined;
  return problem(
    C.CIDR,
    `${JSON.stringify(v)} is not an IP address or CIDR block (expected e.g. 10.0.0.1, 10.0.0.0/16 or fd00::/64)`,
  );
}

export const ipAddress = (): Schema => str({ expect: "an IP address", check: checkIp });
export const ipOrCidr = (): Schema => str({ expect: "an IP address or CIDR block", check: checkIpOrCidr });

export function checkCidr(v: string): Problem | undefined {
  if (!v.includes("/"))
    return problem(C.CIDR, `${JSON.stringify(v)} is not a CIDR block (expected e.g. 10.244.1.0/24)`);
  return checkIpOrCidr(v);
}
export const cidr = (): Schema => str({ expect: "a CIDR block", check: checkCidr });

const DURATION = /^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/;

/** Milliseconds of a Go / protobuf duration string (`1.5s`, `300ms`, `1h30m`), or undefined. */
export function parseDurationMs(v: string): number | undefined {
  if (!DURATION.test(v)) return undefined;
  const scale: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 0.001,
    µs: 0.001,
    ns: 0.000001,
  };
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    total += Number(m[1]) * (scale[m[2] ?? "s"] ?? 0);
  }
  return total;
}

export function checkDuration(v: string): Problem | undefined {
  return parseDurationMs(v) === undefined
    ? problem(C.DURATION, `${JSON.stringify(v)} is not a duration (expected e.g. 1.5s, 300ms, 1m30s)`)
    : undefined;
}

/** Istio rejects durations below 1ms for timeouts and intervals. */
export function checkDurationAtLeast1ms(v: string): Problem | undefined {
  const ms = parseDurationMs(v);
  if (ms === undefined) return checkDuration(v);
  return ms < 1
    ? problem(C.DURATION, `${JSON.stringify(v)} is shorter than 1ms (Istio's minimum)`)
    : undefined;
}

export const duration = (): Schema =>
  str({ expect: "a duration (e.g. 1.5s, 300ms)", check: checkDurationAtLeast1ms });

/**
 * Istio's string matching for principals, namespaces, hosts and paths: exact, prefix (`abc*`),
 * suffix (`*abc`) or presence (`*`) — a single `*`, only at the start or the end.
 */
export function checkIstioWildcard(v: string): Problem | undefined {
  if (v === "") return problem(C.FORMAT, 'must not be empty (use "*" to match any value)');
  const stars = v.split("*").length - 1;
  if (stars === 0 || v === "*") return undefined;
  if (stars === 1 && (v.startsWith("*") || v.endsWith("*"))) return undefined;
  return problem(
    C.FORMAT,
    `${JSON.stringify(v)} has a wildcard in the wrong place (only a single leading or trailing '*' is allowed, e.g. "*.example.com" or "/api/*")`,
  );
}
export const istioMatchString = (): Schema =>
  str({ expect: "a string with an optional leading or trailing *", check: checkIstioWildcard });

/** A service host: an FQDN or short name, optionally with a leading `*.` wildcard (VirtualService hosts). */
export function checkHost(v: string): Problem | undefined {
  if (v === "*") return undefined;
  const name = v.startsWith("*.") ? v.slice(2) : v;
  const label = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
  if (
    name.length > 0 &&
    name.length <= 253 &&
    name.split(".").every((l) => l.length <= 63 && label.test(l))
  ) {
    return undefined;
  }
  if (isIP(v) !== 0) return undefined;
  return problem(
    C.NAME,
    `${JSON.stringify(v)} is not a valid host (expected a DNS name such as reviews or reviews.prod.svc.cluster.local, optionally prefixed by "*.")`,
  );
}
export const host = (): Schema => str({ expect: "a host name", check: checkHost });

export function checkRegex(v: string): Problem | undefined {
  try {
    new RegExp(v);
    return undefined;
  } catch (e) {
    return problem(
      C.FORMAT,
      `${JSON.stringify(v)} is not a valid regular expression (${(e as Error).message})`,
    );
  }
}
export const regex = (): Schema => str({ expect: "a regular expression", check: checkRegex });

/** Kubernetes IANA_SVC_NAME: a named port reference (`http`, `grpc-web`). */
export function checkIanaSvcName(v: string): Problem | undefined {
  if (v.length <= 15 && IANA_SVC_NAME.test(v) && !v.includes("--")) return undefined;
  return problem(
    C.NAME,
    `${JSON.stringify(v)} is not a port name (lowercase letters, digits and '-', at most 15 characters, at least one letter)`,
  );
}
