import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { PolicyErrorCode } from "./errors.js";

// dist/src/policy/errors.test.js → repository root → docs/policy.md
const docs = readFileSync(new URL("../../../docs/policy.md", import.meta.url), "utf8");

test("docs/policy.md lists every POL_ERR code, and no other", () => {
  const documented = new Set(docs.match(/POL_ERR_[A-Z_]+/g) ?? []);
  assert.deepEqual([...documented].sort(), Object.values(PolicyErrorCode).sort());
});
