import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePathMatch, compileStringMatch, matchString } from "./string-match.js";

// Istio's Rule doc: exact "abc", prefix "abc*", suffix "*abc", presence "*".
const cases: [pattern: string, input: string, expected: boolean, ignoreCase?: boolean][] = [
  ["abc", "abc", true],
  ["abc", "abcd", false],
  ["abc", "", false],
  ["abc*", "abc", true],
  ["abc*", "abcd", true],
  ["abc*", "xabc", false],
  ["*abc", "abc", true],
  ["*abc", "xabc", true],
  ["*abc", "abcx", false],
  ["*", "x", true],
  ["*", "", false],
  ["GET", "get", false],
  ["*.Example.com", "API.example.COM", true, true],
  ["Example.com", "example.com", true, true],
  ["Example.com", "example.com", false],
];

for (const [pattern, input, expected, ignoreCase] of cases) {
  test(`${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(input)}${ignoreCase ? " (ignoring case)" : ""}`, () => {
    assert.equal(matchString(compileStringMatch(pattern, ignoreCase === true), input), expected);
  });
}

test("a leading * wins over a trailing one, as istiod converts it (suffix '*')", () => {
  const m = compileStringMatch("**");
  assert.equal(m.kind, "suffix");
  assert.equal(m.value, "*");
});

test("path templates: {*} is one segment, {**} the remainder", () => {
  const one = compilePathMatch("/api/{*}/info");
  assert.equal(matchString(one, "/api/v1/info"), true);
  assert.equal(matchString(one, "/api/v1/v2/info"), false);
  assert.equal(matchString(one, "/api//info"), false);
  const rest = compilePathMatch("/files/{**}");
  assert.equal(matchString(rest, "/files/a/b/c.txt"), true);
  assert.equal(matchString(rest, "/other/a"), false);
  // Regex metacharacters in the literal parts are literal.
  assert.equal(matchString(compilePathMatch("/a.b/{*}"), "/axb/c"), false);
});
