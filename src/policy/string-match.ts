/**
 * Istio's string matching for authorization rules: every string field of a rule supports
 * exact ("abc"), prefix ("abc*", which also matches "abc"), suffix ("*abc", which also matches "abc")
 * and presence ("*": any non-empty value). A leading "*" wins over a trailing one, as istiod converts it.
 * Paths additionally support the path templates `{*}` (one segment) and `{**}` (any remainder).
 */

export type MatchKind = "exact" | "prefix" | "suffix" | "presence" | "template";

export interface StringMatcher {
  readonly kind: MatchKind;
  readonly value: string;
  /** Hosts compare case-insensitively (Istio's Operation.hosts); `value` is then lower-cased already. */
  readonly ignoreCase: boolean;
  /** Only for `template`. */
  readonly regex: RegExp | null;
}

export function compileStringMatch(pattern: string, ignoreCase = false): StringMatcher {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  if (p === "*") return { kind: "presence", value: "", ignoreCase, regex: null };
  if (p.startsWith("*")) return { kind: "suffix", value: p.slice(1), ignoreCase, regex: null };
  if (p.endsWith("*")) return { kind: "prefix", value: p.slice(0, -1), ignoreCase, regex: null };
  return { kind: "exact", value: p, ignoreCase, regex: null };
}

/** True when a path pattern uses Istio's `{*}` / `{**}` template operators. */
export function isPathTemplate(pattern: string): boolean {
  return pattern.includes("{*}") || pattern.includes("{**}");
}

/** `{*}` matches exactly one non-empty path segment, `{**}` the rest of the path (zero or more segments). */
export function compilePathMatch(pattern: string): StringMatcher {
  if (!isPathTemplate(pattern)) return compileStringMatch(pattern);
  let source = "^";
  for (const part of pattern.split(/(\{\*\*\}|\{\*\})/)) {
    if (part === "{*}") source += "[^/]+";
    else if (part === "{**}") source += ".*";
    else source += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return { kind: "template", value: pattern, ignoreCase: false, regex: new RegExp(`${source}$`) };
}

export function matchString(m: StringMatcher, input: string): boolean {
  const v = m.ignoreCase ? input.toLowerCase() : input;
  switch (m.kind) {
    case "exact":
      return v === m.value;
    case "prefix":
      return v.startsWith(m.value);
    case "suffix":
      return v.endsWith(m.value);
    case "presence":
      return v.length > 0;
    case "template":
      return m.regex?.test(v) === true;
  }
}

export function matchAnyString(ms: readonly StringMatcher[], input: string): boolean {
  for (const m of ms) if (matchString(m, input)) return true;
  return false;
}
