/**
 * Property tests: whatever the text, the loader returns (never throws), every error carries a
 * catalogued code and a position inside the text.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { ConfigErrorCode } from "../../src/api/errors.js";
import { parseDocuments } from "../../src/api/load.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CODES = new Set<string>(Object.values(ConfigErrorCode));
const SEED = ["02-deployments.yaml", "06-traffic-split.yaml", "07-authorization-policy.yaml"]
  .map((f) => readFileSync(join(ROOT, "examples", "payment-system", f), "utf8"))
  .join("---\n");

function checkResult(text: string): void {
  const r = parseDocuments(text, "fuzz.yaml");
  const lines = text.split("\n").length;
  for (const e of r.errors) {
    assert.ok(CODES.has(e.code), `uncatalogued code ${e.code}`);
    assert.ok(e.line >= 1 && e.line <= lines + 1, `line ${e.line} outside 1..${lines + 1}`);
    assert.ok(e.column >= 1, `column ${e.column}`);
    assert.equal(e.file, "fuzz.yaml");
  }
  if (r.errors.length === 0) for (const res of r.resources) assert.equal(typeof res.metadata.name, "string");
}

test("arbitrary YAML-ish text never throws", () => {
  const alphabet = fc.constantFrom(..."ab:-[]{}&*!|>'\"#, \n\t0123456789.%@`?".split(""));
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 300 }).map((a) => a.join("")),
      (text) => {
        checkResult(`apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: ${text}`);
        checkResult(text);
      },
    ),
    { numRuns: 150, seed: 42 },
  );
});

test("single-character mutations of the example never throw", () => {
  const significant = fc.constantFrom(
    ":",
    "-",
    " ",
    "\n",
    "[",
    "{",
    "&a",
    "*a",
    "'",
    '"',
    "#",
    "\t",
    "0",
    "",
  );
  fc.assert(
    fc.property(fc.nat({ max: SEED.length - 1 }), fc.nat({ max: 3 }), significant, (at, del, insert) => {
      checkResult(SEED.slice(0, at) + insert + SEED.slice(at + del));
    }),
    { numRuns: 150, seed: 7 },
  );
});
