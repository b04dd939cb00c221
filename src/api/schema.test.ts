import assert from "node:assert/strict";
import { test } from "node:test";
import { LineCounter, parseDocument } from "yaml";
import type { ConfigError } from "./config-error.js";
import { INVALID, int, list, obj, type Schema, str, type WalkContext } from "./schema.js";

function run(schema: Schema, text: string, aliasBudget = 10): { value: unknown; errors: ConfigError[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const ctx: WalkContext = { file: "s.yaml", doc, lineCounter, errors: [], aliasBudget, aborted: false };
  const value = schema.parse(doc.contents, "", ctx, 0);
  return { value, errors: ctx.errors };
}

const point = obj(
  { x: int({ min: 0 }), y: int({ min: 0 }), label: str() },
  {
    required: ["x"],
    checks: [
      (v, scope) => {
        if ((v["y"] as number | undefined) !== undefined && (v["y"] as number) < (v["x"] as number)) {
          scope.report("CFG_ERR_SEMANTIC", "y", "y must be >= x");
        }
      },
    ],
  },
);

test("objects keep known fields, report unknown ones at the key, and keep going", () => {
  const r = run(point, "x: -1\nz: 2\nlabel: [a]\n");
  assert.equal(r.value, INVALID);
  assert.deepEqual(
    r.errors.map((e) => [e.code, e.path, e.line, e.column]),
    [
      ["CFG_ERR_RANGE", "x", 1, 4],
      ["CFG_ERR_UNKNOWN_FIELD", "z", 2, 1],
      ["CFG_ERR_TYPE", "label", 3, 8],
    ],
  );
});

test("cross-field checks run only on clean objects and report at the named field", () => {
  assert.deepEqual(
    run(point, "x: 5\ny: 3\n").errors.map((e) => [e.path, e.line, e.column]),
    [["y", 2, 4]],
  );
  assert.deepEqual(
    run(point, "x: bad\ny: 3\n").errors.map((e) => e.code),
    ["CFG_ERR_TYPE"],
  );
  assert.deepEqual(run(point, "x: 1\ny: 3\n").value, { x: 1, y: 3 });
});

test("explicit null unsets a scalar (then required fires) but is an empty object", () => {
  assert.deepEqual(
    run(point, "x: null\n").errors.map((e) => [e.code, e.path]),
    [["CFG_ERR_MISSING_FIELD", "x"]],
  );
  assert.deepEqual(
    run(obj({ p: point }), "p:\n").errors.map((e) => e.path),
    ["p.x"],
  );
});

test("list items are validated each, with indexed paths", () => {
  const r = run(list(point), "- {x: 1}\n- {x: a}\n- {y: 1}\n");
  assert.deepEqual(
    r.errors.map((e) => e.path),
    ["[1].x", "[2].x"],
  );
});

test("alias dereferences are budgeted per document", () => {
  const text = "a: &p {x: 1}\nb: *p\nc: *p\nd: *p\n";
  const schema = obj({ a: point, b: point, c: point, d: point });
  assert.deepEqual(run(schema, text, 3).errors, []);
  assert.deepEqual(
    run(schema, text, 2).errors.map((e) => [e.code, e.path]),
    [["CFG_ERR_LIMIT", "d"]],
  );
});
