/**
 * Host names as Istio resolves them: a short name in a resource means a Service of the resource's
 * own namespace (`reviews` in namespace `prod` → `reviews.prod.svc.cluster.local`); a name with a dot
 * is taken as written; `*.example.com` matches any name ending in `.example.com` and `*` matches all.
 */

export const CLUSTER_DOMAIN = "svc.cluster.local";

/** Istio's ResolveShortnameToFQDN: only dot-less, non-wildcard names are expanded. */
export function resolveHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h.startsWith("*") || h.includes(".")) return h;
  return `${h}.${namespace}.${CLUSTER_DOMAIN}`;
}

export function isWildcard(host: string): boolean {
  return host.startsWith("*");
}

/** Does the (possibly wildcard) pattern cover `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  if (pattern.startsWith("*")) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** `reviews.prod.svc.cluster.local` → `{ name: "reviews", namespace: "prod" }`; other hosts → null. */
export function serviceOfHost(host: string): { name: string; namespace: string } | null {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!host.endsWith(suffix)) return null;
  const parts = host.slice(0, -suffix.length).split(".");
  if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) return null;
  return { name: parts[0], namespace: parts[1] };
}

/** The short label a decision shows for a destination: the Service name, or the whole host outside the cluster. */
export function backendLabel(host: string, subset?: string): string {
  const svc = serviceOfHost(host);
  const base = svc === null ? host : svc.name;
  return subset === undefined || subset === "" ? base : `${base}/${subset}`;
}

/** The host part of an authority (`a.b:8080` → `a.b`, `[::1]:80` → `::1`). */
export function stripPort(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(1, end);
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 || authority.indexOf(":") !== colon ? authority : authority.slice(0, colon);
}
