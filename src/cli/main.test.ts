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

test("a run of one command loads only its own module when the file has the command's name", async () => {
  const zt = await buildProgram("ztunnel");
  assert.deepEqual(
    zt.commands.map((c) => c.name()),
    ["ztunnel"],
  );
  // No file of that name, an option, or nothing: every command, as for help.
  for (const arg of ["no-such-command", "--help", undefined]) {
    const names = (await buildProgram(arg)).commands.map((c) => c.name());
    for (const expected of ["ztunnel", "get", "up", "bench"])
      assert.ok(names.includes(expected), `${arg}: ${expected}`);
  }
  assert.deepEqual(loadFailures, []);
});
