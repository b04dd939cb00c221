import assert from "node:assert/strict";
import { test } from "node:test";
import { buildProgram, loadFailures } from "./main.js";

test("every command module loads and registers at least one command", async () => {
  const program = await buildProgram();
  assert.deepEqual(
    loadFailures.map((f) => f.file),
    [],
  );
  const names = program.commands.map((c) => c.name());
  for (const expected of ["validate", "authz", "apply", "get", "control", "ztunnel"]) {
    assert.ok(names.includes(expected), `missing command ${expected}; have ${names.join(", ")}`);
  }
  assert.equal(new Set(names).size, names.length, "duplicate command names");
});
