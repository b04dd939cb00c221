import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { XdsErrorCode } from "./errors.js";

test("every XDS_ERR_ code is documented in docs/xds.md", () => {
  const doc = readFileSync(new URL("../../../docs/xds.md", import.meta.url), "utf8");
  const missing = Object.values(XdsErrorCode).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(missing, []);
});
