import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "./cluster-config.js";
import { LocalErrorCode } from "./errors.js";

test("every local-cluster error code is documented in docs/local-cluster.md, and only those", () => {
  const doc = readFileSync(join(repoRoot(), "docs", "local-cluster.md"), "utf8");
  const documented = new Set(doc.match(/LOCAL_ERR_[A-Z_]+/g) ?? []);
  assert.deepEqual([...documented].sort(), Object.values(LocalErrorCode).sort());
});
