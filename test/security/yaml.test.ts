/** The hostile-YAML corpus against `parseDocuments`: exact CFG_ERR_ codes, nothing half-applied, no leak. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import { YAML_CASES } from "./corpus/yaml.js";
import { assertNoLeak, baseline } from "./leaks.js";

const base = baseline();

for (const c of YAML_CASES) {
  test(`yaml: ${c.name}`, () => {
    const r = parseDocuments(c.input(), "hostile.yaml");
    const codes = [...new Set(r.errors.map((e) => e.code))].sort();
    assert.deepEqual(codes, [...c.expect].sort(), JSON.stringify(r.errors.slice(0, 3)));
    for (const e of r.errors) assert.equal(e.file, "hostile.yaml", "every error names its file");
  });
}

test("yaml: the parser still loads a good manifest afterwards; nothing leaked", async () => {
  const r = parseDocuments("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: after\n", "good.yaml");
  assert.deepEqual(r.errors, []);
  assert.equal(r.resources[0]?.metadata.name, "after");
  await assertNoLeak(base, "yaml corpus");
});
