import assert from "node:assert/strict";
import { test } from "node:test";
import { compileRe2, re2Substitution } from "./regex.js";

test("patterns are anchored: a full match as Envoy's safe_regex requires", () => {
  const r = compileRe2("/a|/b");
  assert.ok(r.ok);
  assert.ok(r.ok && r.re.test("/a") && r.re.test("/b") && !r.re.test("/a/b") && !r.re.test("x/b"));
});

test("RE2-only spellings are translated", () => {
  const i = compileRe2("(?i)/abc");
  assert.ok(i.ok && i.re.test("/ABC"));
  const z = compileRe2("\\A/x\\z");
  assert.ok(z.ok && z.re.test("/x"));
});

test("constructs RE2 lacks are refused with a reason", () => {
  for (const p of ["a(?=b)", "(?!a)b", "(?<=a)b", "(a)\\1", "(?<n>a)\\k<n>", "a*+", "(?>a)", "[[:alpha:]]"]) {
    const r = compileRe2(p);
    assert.equal(r.ok, false, p);
  }
  // An escaped backslash followed by a digit is a literal, not a backreference.
  assert.ok(compileRe2("a\\\\1").ok);
  // Escaped metacharacters are literals: one or more "+", a literal "(?=".
  assert.ok(compileRe2("a\\++").ok);
  assert.ok(compileRe2("\\(\\?=").ok);
});

test("RE2 substitutions \\1 become JavaScript $1, and $ stays literal", () => {
  assert.equal(
    "/service/foo/v1".replace(/^\/service\/([^/]+)(\/.*)$/, re2Substitution("\\2/instance/\\1")),
    "/v1/instance/foo",
  );
  assert.equal("x".replace(/x/, re2Substitution("$1")), "$1");
});
