/** The corpus is the contract of issue 5: at least 200 cases, each name unique within its target. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CONNECT_CASES } from "./corpus/connect.js";
import { H2_FRAME_CASES } from "./corpus/h2-frames.js";
import { YAML_CASES } from "./corpus/yaml.js";

test("the hostile-input corpus holds at least 200 uniquely named cases", () => {
  const all = [...H2_FRAME_CASES, ...CONNECT_CASES, ...YAML_CASES].map((c) => `${c.target}: ${c.name}`);
  assert.ok(all.length >= 200, `only ${all.length} cases`);
  assert.equal(new Set(all).size, all.length, "duplicate case names");
});
