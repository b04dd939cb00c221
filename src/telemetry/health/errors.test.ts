import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { HealthErrorCode } from "./errors.js";

test("every HEALTH_ERR_ code is documented in docs/health.md", () => {
  const doc = readFileSync(new URL("../../../../docs/health.md", import.meta.url), "utf8");
  const missing = Object.values(HealthErrorCode).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(missing, []);
});
