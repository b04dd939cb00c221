/** docs/configuration.md documents every CFG_ERR_* code, and no code that does not exist. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigErrorCode } from "../../src/api/errors.js";
import { knownKinds } from "../../src/api/registry.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const doc = readFileSync(join(ROOT, "docs", "configuration.md"), "utf8");

test("every error code is documented, and only real ones", () => {
  const codes = new Set<string>(Object.values(ConfigErrorCode));
  for (const c of codes)
    assert.match(doc, new RegExp(`\\b${c}\\b`), `${c} is missing from docs/configuration.md`);
  for (const m of doc.matchAll(/\bCFG_ERR_[A-Z_]+\b/g))
    assert.ok(codes.has(m[0]), `docs mention unknown code ${m[0]}`);
});

test("every kind has a section", () => {
  for (const kind of knownKinds())
    assert.match(doc, new RegExp(`^### ${kind}\\b`, "m"), `no "### ${kind}" section`);
});
