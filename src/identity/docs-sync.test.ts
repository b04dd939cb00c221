/** docs/identity.md documents every ID_ERR_* code, and no code that does not exist. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { IdentityErrorCode } from "./errors.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

test("docs/identity.md lists every identity error code, and only real ones", () => {
  const doc = readFileSync(join(ROOT, "docs", "identity.md"), "utf8");
  const codes = new Set<string>(Object.values(IdentityErrorCode));
  for (const c of codes) assert.match(doc, new RegExp(`\\b${c}\\b`), `${c} is missing from docs/identity.md`);
  for (const m of doc.matchAll(/\bID_ERR_[A-Z_]+\b/g))
    assert.ok(codes.has(m[0]), `docs mention unknown code ${m[0]}`);
});
