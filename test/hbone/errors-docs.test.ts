/** docs/hbone.md lists every HBONE error code, and nothing else (kept in sync by this test). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { HboneErrorCode } from "../../src/hbone/errors.js";

test("every HBONE_ERR_ code is documented in docs/hbone.md and every documented code exists", () => {
  const doc = readFileSync(new URL("../../../docs/hbone.md", import.meta.url), "utf8");
  const documented = new Set(doc.match(/HBONE_ERR_[A-Z_]+/g) ?? []);
  const defined = new Set<string>(Object.values(HboneErrorCode));
  for (const code of defined) assert.ok(documented.has(code), `${code} missing from docs/hbone.md`);
  for (const code of documented) assert.ok(defined.has(code), `docs/hbone.md mentions unknown ${code}`);
});
