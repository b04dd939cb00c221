/**
 * RE2 regular expressions on a JavaScript engine. Envoy (and so Istio and the Gateway API
 * implementations built on it) evaluates `regex` matches with RE2 as a full match of the whole value.
 * JavaScript's RegExp is a superset in the constructs that matter, so a pattern is accepted only when
 * RE2 would accept it too: look-around, backreferences and atomic groups are refused (RE2 has no
 * backtracking), and the RE2-only spellings (`(?P<name>…)`, `\A`, `\z`, a leading `(?i)`) are translated.
 */

export type RegexResult = { ok: true; re: RegExp } | { ok: false; reason: string };

/** Probed on the pattern with escapes removed, so that `\(?=` or `\++` (literals) are not mistaken. */
const UNSUPPORTED: readonly [RegExp, string][] = [
  [/\(\?<?[=!]/, "look-around assertions ((?=…), (?!…), (?<=…), (?<!…))"],
  [/\(\?>/, "atomic groups ((?>…))"],
  [/\[\[:[a-z]+:\]\]/, "POSIX classes such as [[:alpha:]] (write [a-zA-Z] instead)"],
  [/[*+?}]\+/, "possessive quantifiers (a*+, a++)"],
];

/** Probed on the pattern with only escaped backslashes removed: these are escapes themselves. */
const UNSUPPORTED_ESCAPES: readonly [RegExp, string][] = [
  [/\\[1-9]/, "backreferences (\\1…\\9)"],
  [/\\k</, "named backreferences (\\k<name>)"],
  [/\\Q/, "\\Q…\\E literal blocks"],
];

/** Compiles `pattern` with RE2 semantics, anchored at both ends (a full match). */
export function compileRe2(
  pattern: string,
  opts: { ignoreCase?: boolean; anchored?: boolean } = {},
): RegexResult {
  let source = pattern;
  let flags = opts.ignoreCase === true ? "i" : "";
  // RE2 allows flags as a leading group; JavaScript only as RegExp flags.
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1] ?? "") {
      if (f === "U") return { ok: false, reason: "the (?U) ungreedy flag has no JavaScript equivalent" };
      if (!flags.includes(f)) flags += f;
    }
    source = source.slice(lead[0].length);
  }
  if (/\(\?[imsU-]+[):]/.test(source)) {
    return { ok: false, reason: "inline flag groups are only supported at the start of the pattern" };
  }
  const withoutEscapes = source.replace(/\\./g, "");
  for (const [probe, what] of UNSUPPORTED) {
    if (probe.test(withoutEscapes)) return { ok: false, reason: `RE2 does not support ${what}` };
  }
  const withoutEscapedBackslashes = stripEscapedBackslashes(source);
  for (const [probe, what] of UNSUPPORTED_ESCAPES) {
    if (probe.test(withoutEscapedBackslashes)) return { ok: false, reason: `RE2 does not support ${what}` };
  }
  source = source
    .replace(/\(\?P</g, "(?<")
    .replace(/\\A/g, "^")
    .replace(/\\z/g, "$");
  try {
    const body = opts.anchored === false ? source : `^(?:${source})$`;
    return { ok: true, re: new RegExp(body, flags) };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** `\\1` is a literal backslash followed by "1", not a backreference; remove escaped backslashes before probing. */
function stripEscapedBackslashes(s: string): string {
  return s.replace(/\\\\/g, "");
}

/**
 * RE2 substitution strings (Envoy's `regex_rewrite.substitution`) number groups as `\1`; JavaScript
 * replacement strings use `$1`, and a literal `$` must be doubled.
 */
export function re2Substitution(sub: string): string {
  return sub.replace(/\$/g, "$$$$").replace(/\\(\d)/g, "$$$1");
}
