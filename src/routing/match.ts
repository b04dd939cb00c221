/**
 * Request matching: Istio's HTTPMatchRequest and the Gateway API HTTPRouteMatch, both compiled to
 * CompiledMatch. Envoy semantics: every condition of one match must hold (AND); the uri is compared
 * without its query string; a header condition needs the header present unless it is inverted
 * (`withoutHeaders`, where a missing header counts as empty); query parameters are compared decoded.
 */
import type { HeaderMap } from "./header-ops.js";
import type { CompiledMatch, PathMatcher, RouteRequest, StringMatcher } from "./types.js";

export interface MatchInput {
  request: RouteRequest;
  headers: HeaderMap;
  /** Path without the query string. */
  pathOnly: string;
  query: Map<string, string>;
  authority: string;
  scheme: string;
}

export function splitPath(path: string): { pathOnly: string; query: string } {
  const q = path.indexOf("?");
  const noFragment = (s: string): string => {
    const h = s.indexOf("#");
    return h < 0 ? s : s.slice(0, h);
  };
  if (q < 0) return { pathOnly: noFragment(path), query: "" };
  return { pathOnly: path.slice(0, q), query: noFragment(path.slice(q + 1)) };
}

/** First value of each parameter, percent-decoded (`+` is a space, as in form encoding). */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === "") return out;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const name = decode(rawName);
    if (!out.has(name)) out.set(name, decode(rawValue));
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

export function matchString(m: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (m.kind) {
    case "present":
      return true;
    case "exact":
      return m.ignoreCase ? value.toLowerCase() === m.value.toLowerCase() : value === m.value;
    case "prefix":
      return m.ignoreCase ? value.toLowerCase().startsWith(m.value.toLowerCase()) : value.startsWith(m.value);
    case "regex":
      return m.re.test(value);
  }
}

/** The length of the matched prefix when `m` matches `path`, else -1 (exact/regex: the whole path). */
export function matchPath(m: PathMatcher, path: string): number {
  switch (m.kind) {
    case "exact":
      return (m.ignoreCase ? path.toLowerCase() === m.value.toLowerCase() : path === m.value)
        ? path.length
        : -1;
    case "prefix": {
      const ok = m.ignoreCase
        ? path.toLowerCase().startsWith(m.value.toLowerCase())
        : path.startsWith(m.value);
      return ok ? m.value.length : -1;
    }
    case "segmentPrefix": {
      if (m.value === "/") return path.startsWith("/") ? 1 : -1;
      const p = m.ignoreCase ? path.toLowerCase() : path;
      const v = m.ignoreCase ? m.value.toLowerCase() : m.value;
      if (!p.startsWith(v)) return -1;
      const next = p.charAt(v.length);
      return next === "" || next === "/" ? v.length : -1;
    }
    case "regex":
      return m.re.test(path) ? path.length : -1;
  }
}

/** Null when the match fails, else the matched path prefix length (for prefix rewrites). */
export function evaluateMatch(m: CompiledMatch, input: MatchInput): { prefixLength: number } | null {
  let prefixLength = 1;
  if (m.port !== undefined && m.port !== input.request.port) return null;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== input.request.client.namespace) return null;
  if (m.sourceLabels !== undefined) {
    const labels = input.request.client.labels;
    if (labels === undefined) return null;
    for (const [k, v] of Object.entries(m.sourceLabels)) if (labels[k] !== v) return null;
  }
  if (m.path !== undefined) {
    prefixLength = matchPath(m.path, input.pathOnly);
    if (prefixLength < 0) return null;
  } else if (!input.pathOnly.startsWith("/")) {
    return null;
  }
  if (m.method !== undefined && !matchString(m.method, input.request.method)) return null;
  if (m.authority !== undefined && !matchString(m.authority, input.authority)) return null;
  if (m.scheme !== undefined && !matchString(m.scheme, input.scheme)) return null;
  for (const h of m.headers) {
    const value = input.headers[h.name];
    if (h.invert) {
      if (h.matcher.kind === "present") {
        if (value !== undefined) return null;
      } else if (matchString(h.matcher, value ?? "")) {
        return null;
      }
    } else if (!matchString(h.matcher, value)) {
      return null;
    }
  }
  for (const q of m.query) {
    if (!matchString(q.matcher, input.query.get(q.name))) return null;
  }
  return { prefixLength };
}
