/**
 * Loading: sources (files, directories, stdin), multi-document and JSON input, duplicates,
 * all-or-nothing results, printing, and hostile input that must fail fast with a clear error.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import {
  formatConfigError,
  loadSources,
  parseDocuments,
  requireValid,
  resourceKey,
} from "../../src/api/load.js";
import { toJson, toYaml } from "../../src/api/print.js";
import { isAmbitError } from "../../src/errors.js";
import { errorsOf, positionOf } from "./helpers.js";

const SA = (name: string, ns = "demo"): string =>
  `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n`;

describe("parseDocuments", () => {
  test("reports every problem of every document at once, in document order", () => {
    const text = `${SA("ok")}---
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  typo: 1
  ports: [{port: http}]
---
apiVersion: v1
kind: Namespace
metadata: {name: UPPER}
`;
    const errs = errorsOf(text);
    assert.deepEqual(
      errs.map((e) => [e.code, e.path]),
      [
        ["CFG_ERR_UNKNOWN_FIELD", "spec.typo"],
        ["CFG_ERR_PORT", "spec.ports[0].port"],
        ["CFG_ERR_NAME", "metadata.name"],
      ],
    );
    assert.deepEqual({ line: errs[1]?.line, column: errs[1]?.column }, positionOf(text, "http"));
  });

  test("an invalid input yields errors and the caller must not apply it", () => {
    const r = parseDocuments(`${SA("ok")}---\n${SA("Bad_Name")}`, "x.yaml");
    assert.equal(r.errors.length, 1);
    assert.throws(
      () => requireValid(r),
      (e: unknown) =>
        isAmbitError(e, "CFG_ERR_INVALID") && (e as unknown as { errors: unknown[] }).errors.length === 1,
    );
    assert.equal(requireValid(parseDocuments(SA("ok"), "y.yaml")).length, 1);
  });

  test("formatConfigError: file:line:col path: message", () => {
    const [e] = parseDocuments(
      `${SA("a")}spec: {}\n`.replace("kind: ServiceAccount", "kind: ServiceAccount"),
      "payment.yaml",
    ).errors;
    assert.ok(e);
    assert.equal(
      formatConfigError(e),
      `payment.yaml:6:1 spec: unknown field "spec" (expected one of: apiVersion, kind, metadata, automountServiceAccountToken, secrets, imagePullSecrets)`,
    );
    assert.equal(
      formatConfigError({
        code: "CFG_ERR_FILE_READ",
        file: "x",
        line: 0,
        column: 0,
        path: "",
        message: "cannot read",
      }),
      "x: cannot read",
    );
  });

  test("JSON documents are read with positions", () => {
    const text = `{
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {"name": "web"},
  "spec": {"ports": [{"port": 99999}]}
}`;
    assert.deepEqual(errorsOf(text, "svc.json"), [
      { code: "CFG_ERR_PORT", path: "spec.ports[0].port", ...positionOf(text, "99999") },
    ]);
  });

  test("kind: List items are validated one by one", () => {
    const text = `apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}
  - {apiVersion: v1, kind: ServiceAccount, metadata: {name: B}}
`;
    const r = parseDocuments(text, "l.yaml");
    assert.deepEqual(
      r.errors.map((e) => [e.code, e.path]),
      [["CFG_ERR_NAME", "items[1].metadata.name"]],
    );
  });

  test("YAML syntax errors and duplicate keys carry positions", () => {
    assert.deepEqual(
      errorsOf("apiVersion: v1\nkind: [unclosed\n").map((e) => e.code),
      ["CFG_ERR_YAML_SYNTAX"],
    );
    const dup = `${SA("a")}kind: Pod\n`;
    assert.deepEqual(errorsOf(dup), [
      { code: "CFG_ERR_DUPLICATE_KEY", path: "", ...positionOf(dup, "kind: Pod") },
    ]);
  });

  test("non-resources, empty documents, missing kind", () => {
    assert.deepEqual(errorsOf("---\n# only a comment\n---\n"), []);
    assert.deepEqual(
      errorsOf("- a\n- b\n").map((e) => e.code),
      ["CFG_ERR_NOT_A_RESOURCE"],
    );
    assert.deepEqual(
      errorsOf("apiVersion: v1\nmetadata: {name: a}\n").map((e) => [e.code, e.path]),
      [["CFG_ERR_MISSING_FIELD", "kind"]],
    );
  });

  test("duplicate kind/namespace/name in one input is an error; other namespaces are not duplicates", () => {
    const text = `${SA("a")}---\n${SA("a", "other")}---\n${SA("a")}`;
    const r = parseDocuments(text, "d.yaml");
    assert.deepEqual(
      r.errors.map((e) => [e.code, e.line]),
      [["CFG_ERR_DUPLICATE_RESOURCE", positionOf(text, "ServiceAccount", 3).line]],
    );
    assert.match(r.errors[0]?.message ?? "", /first defined at d\.yaml:2:7/);
  });

  test("resourceKey: Kind/namespace/name, Kind/name for cluster-scoped kinds", () => {
    const r = parseDocuments(`${SA("a")}---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n`, "k.yaml");
    assert.deepEqual(r.resources.map(resourceKey), ["ServiceAccount/demo/a", "Node/n1"]);
  });

  test("toYaml / toJson print without source and parse back to the same resources", () => {
    const text = `${SA("a")}---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec:\n  ports: [{name: http, port: 80}]\n`;
    const r = parseDocuments(text, "p.yaml");
    assert.deepEqual(r.errors, []);
    const yaml = toYaml(r.resources);
    assert.doesNotMatch(yaml, /source/);
    const again = parseDocuments(yaml, "again.yaml");
    assert.deepEqual(again.errors, []);
    assert.deepEqual(JSON.parse(JSON.stringify(again.resources)), JSON.parse(JSON.stringify(r.resources)));
    const list = JSON.parse(toJson(r.resources)) as { kind: string; items: { source?: unknown }[] };
    assert.equal(list.kind, "List");
    assert.equal(list.items.length, 2);
    assert.equal(list.items[0]?.source, undefined);
    assert.equal((JSON.parse(toJson(r.resources[0] as never)) as { kind: string }).kind, "ServiceAccount");
  });
});

describe("hostile input fails fast with a clear error", () => {
  test("10,000 levels of flow nesting", () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`;
    assert.deepEqual(errorsOf(text), [{ code: "CFG_ERR_LIMIT", path: "", line: 4, column: 107 }]);
  });

  test("nesting deeper than the limit but parseable", () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: ${"{a: ".repeat(150)}1${"}".repeat(150)}\n`;
    assert.deepEqual(
      errorsOf(text).map((e) => e.code),
      ["CFG_ERR_LIMIT"],
    );
  });

  test("10,000 levels of block sequences on one line", () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n${"- ".repeat(10_000)}x\n`;
    assert.deepEqual(errorsOf(text), [{ code: "CFG_ERR_LIMIT", path: "", line: 6, column: 201 }]);
  });

  test("a 5 MB document is refused before parsing", () => {
    const text = `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    big: "${"x".repeat(5 * 1024 * 1024)}"\n`;
    assert.deepEqual(
      errorsOf(text).map((e) => e.code),
      ["CFG_ERR_LIMIT"],
    );
  });

  test("billion laughs: alias expansion is budgeted", () => {
    const rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= 9; i++)
      rows.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(",")}]`,
      );
    const text = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    ${rows.join("\n    ")}
spec:
  tolerations: *a9
  containers: [{name: c}]
`;
    const errs = errorsOf(text);
    assert.ok(
      errs.some((e) => e.code === "CFG_ERR_LIMIT"),
      JSON.stringify(errs.slice(0, 3)),
    );
    assert.ok(errs.length < 50);
  });

  test("a free-form field holding an alias bomb", () => {
    const rows = ["x0: &x0 [1,2,3,4,5,6,7,8,9,10]"];
    for (let i = 1; i <= 8; i++)
      rows.push(
        `x${i}: &x${i} [${Array(10)
          .fill(`*x${i - 1}`)
          .join(",")}]`,
      );
    const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  affinity:
    ${rows.join("\n    ")}
  containers: [{name: c}]
`;
    assert.deepEqual(
      errorsOf(text).map((e) => e.code),
      ["CFG_ERR_LIMIT"],
    );
  });

  test("a self-referencing alias does not loop", () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  affinity: &x {a: *x}\n  containers: [{name: c}]\n`;
    const errs = errorsOf(text);
    assert.ok(errs.length >= 1);
  });

  test("aliases resolve to the closest earlier anchor; a forward alias is an error", () => {
    const redefined = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &l {app: old}
spec:
  selector:
    matchLabels: &l {app: web}
  template:
    metadata:
      labels: *l
    spec: {containers: [{name: c}]}
`;
    // Resolving to the first &l ({app: old}) would break the selector/template check.
    assert.deepEqual(errorsOf(redefined), []);
    const forward =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: *l}\nspec: {containers: [{name: c, env: &l []}]}\n";
    assert.deepEqual(errorsOf(forward), [
      { code: "CFG_ERR_FORMAT", path: "metadata.labels", ...positionOf(forward, "*l") },
    ]);
  });

  test("many documents, each small, stay within limits", () => {
    const text = Array.from({ length: 500 }, (_, i) => SA(`sa-${i}`)).join("---\n");
    const r = parseDocuments(text, "many.yaml");
    assert.deepEqual(r.errors, []);
    assert.equal(r.resources.length, 500);
  });
});

describe("loadSources", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ambit-api-"));
    await mkdir(join(dir, "tree", "b"), { recursive: true });
    await writeFile(join(dir, "tree", "b", "2.yml"), SA("two"));
    await writeFile(join(dir, "tree", "a.yaml"), SA("one"));
    await writeFile(
      join(dir, "tree", "c.json"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "three", namespace: "demo" },
      }),
    );
    await writeFile(join(dir, "tree", "notes.txt"), "not a manifest");
    await mkdir(join(dir, "empty"));
    await writeFile(join(dir, "dup.yaml"), SA("one"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("directories are read recursively, sorted, only manifests", async () => {
    const r = await loadSources([join(dir, "tree")]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.resources.map((x) => x.metadata.name),
      ["one", "two", "three"],
    );
    assert.equal(r.resources[1]?.source?.file, join(dir, "tree", "b", "2.yml"));
  });

  test("duplicates are found across files", async () => {
    const r = await loadSources([join(dir, "tree"), join(dir, "dup.yaml")]);
    assert.deepEqual(
      r.errors.map((e) => [e.code, e.file]),
      [["CFG_ERR_DUPLICATE_RESOURCE", join(dir, "dup.yaml")]],
    );
  });

  test("stdin with '-'", async () => {
    const r = await loadSources(["-"], { stdin: Readable.from([Buffer.from(SA("from-stdin"))]) });
    assert.deepEqual(r.errors, []);
    assert.equal(r.resources[0]?.source?.file, "<stdin>");
  });

  test("stdin larger than the limit is cut off", async () => {
    const big = Readable.from([Buffer.alloc(1024, 0x61), Buffer.alloc(1024, 0x61)]);
    const r = await loadSources(["-"], { stdin: big, limits: { maxSourceBytes: 1500 } });
    assert.deepEqual(
      r.errors.map((e) => e.code),
      ["CFG_ERR_LIMIT"],
    );
  });

  test("missing files, empty directories, no input", async () => {
    const r = await loadSources([join(dir, "missing.yaml"), join(dir, "empty")]);
    assert.deepEqual(
      r.errors.map((e) => e.code),
      ["CFG_ERR_FILE_READ", "CFG_ERR_NO_INPUT"],
    );
    assert.deepEqual(
      (await loadSources([])).errors.map((e) => e.code),
      ["CFG_ERR_NO_INPUT"],
    );
  });
});
