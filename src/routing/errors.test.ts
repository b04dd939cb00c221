import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { RoutingErrorCode } from "./errors.js";

test("docs/routing.md lists every routing error code, and only those", () => {
  const doc = readFileSync(fileURLToPath(new URL("../../../docs/routing.md", import.meta.url)), "utf8");
  const documented = new Set(doc.match(/RT_ERR_[A-Z_]+/g) ?? []);
  assert.deepEqual([...documented].sort(), Object.values(RoutingErrorCode).sort());
});
