/**
 * Hostile configuration text for `parseDocuments` (what `ambit apply -f` and the admin API's
 * upload feed it): huge, deeply nested, alias bombs, wrong types, duplicate keys, binary junk,
 * BOMs and tabs. The outcome is the exact set of CFG_ERR_ codes, and nothing is applied.
 */
import { seededBytes } from "./types.js";

export interface YamlCase {
  readonly name: string;
  readonly target: "yaml";
  readonly input: () => string;
  /** The distinct error codes, sorted; [] means the text is valid. */
  readonly expect: readonly string[];
}

const NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
const policy = (spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n${spec}`;

function nested(depth: number, open: string, close: string): string {
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
}

function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]`);
  }
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bomb\n  labels:\n    x: y\nextra:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

export const YAML_CASES: readonly YamlCase[] = [
  { name: "a valid Namespace (control)", target: "yaml", input: () => NS, expect: [] },
  {
    name: "2 MiB of text (over the 1 MiB source limit)",
    target: "yaml",
    input: () => `# ${"x".repeat(2 * 1024 * 1024)}\n`,
    expect: ["CFG_ERR_LIMIT"],
  },
  {
    name: "10,000-deep flow sequence",
    target: "yaml",
    input: () => `k: ${nested(10_000, "[", "]")}\n`,
    expect: ["CFG_ERR_LIMIT"],
  },
  {
    name: "10,000-deep flow mapping",
    target: "yaml",
    input: () => `k: ${nested(10_000, "{a: ", "}")}\n`,
    expect: ["CFG_ERR_LIMIT"],
  },
  {
    name: "200-deep block mapping",
    target: "yaml",
    input: () => Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " 1\n",
    expect: ["CFG_ERR_LIMIT"],
  },
  {
    name: "alias bomb (billion laughs, 25 levels, never expanded: its field is unknown)",
    target: "yaml",
    input: () => aliasBomb(25),
    expect: ["CFG_ERR_UNKNOWN_FIELD"],
  },
  {
    name: "alias to an undefined anchor",
    target: "yaml",
    input: () => `${NS}  labels: *nowhere\n`,
    expect: ["CFG_ERR_FORMAT"],
  },
  {
    name: "recursive merge key",
    target: "yaml",
    input: () => `a: &a\n  <<: *a\n${NS}`,
    expect: ["CFG_ERR_UNKNOWN_FIELD"],
  },
  {
    name: "20,000 empty documents",
    target: "yaml",
    input: () => "---\n".repeat(20_000),
    expect: ["CFG_ERR_LIMIT"],
  },
  {
    name: "duplicate key in metadata",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n",
    expect: ["CFG_ERR_DUPLICATE_KEY"],
  },
  {
    name: "duplicate kind key",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nkind: Service\nmetadata:\n  name: a\n",
    expect: ["CFG_ERR_DUPLICATE_KEY"],
  },
  {
    name: "the same resource twice",
    target: "yaml",
    input: () => `${NS}---\n${NS}`,
    expect: ["CFG_ERR_DUPLICATE_RESOURCE"],
  },
  {
    name: "binary junk",
    target: "yaml",
    input: () => seededBytes(11, 4096).toString("latin1"),
    expect: ["CFG_ERR_YAML_SYNTAX"],
  },
  {
    name: "NUL bytes inside a value",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \u0000\u0000\n",
    expect: ["CFG_ERR_NAME"],
  },
  { name: "UTF-8 BOM before a valid document", target: "yaml", input: () => `\uFEFF${NS}`, expect: [] },
  {
    name: "BOM in the middle of a document",
    target: "yaml",
    input: () => `apiVersion: v1\n\uFEFFkind: Namespace\nmetadata:\n  name: a\n`,
    expect: ["CFG_ERR_MISSING_FIELD"],
  },
  {
    name: "tab indentation",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: a\n",
    expect: ["CFG_ERR_YAML_SYNTAX"],
  },
  {
    name: "a bare scalar document",
    target: "yaml",
    input: () => "just a string\n",
    expect: ["CFG_ERR_NOT_A_RESOURCE"],
  },
  {
    name: "a bare list document",
    target: "yaml",
    input: () => "- a\n- b\n",
    expect: ["CFG_ERR_NOT_A_RESOURCE"],
  },
  {
    name: "kind is a list",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: [Namespace]\nmetadata:\n  name: a\n",
    expect: ["CFG_ERR_MISSING_FIELD"],
  },
  {
    name: "unknown kind",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Exploit\nmetadata:\n  name: a\n",
    expect: ["CFG_ERR_UNKNOWN_KIND"],
  },
  {
    name: "wrong apiVersion for the kind",
    target: "yaml",
    input: () => "apiVersion: apps/v1\nkind: Namespace\nmetadata:\n  name: a\n",
    expect: ["CFG_ERR_API_VERSION"],
  },
  {
    name: "metadata is a string",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata: evil\n",
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "name is a number",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: 12\n",
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "name with path traversal",
    target: "yaml",
    input: () => "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ../../etc/passwd\n",
    expect: ["CFG_ERR_NAME"],
  },
  {
    name: "name of 300 characters",
    target: "yaml",
    input: () => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${"a".repeat(300)}\n`,
    expect: ["CFG_ERR_NAME"],
  },
  {
    name: "label value with a newline",
    target: "yaml",
    input: () => `${NS}  labels:\n    a: "x\\ny"\n`,
    expect: ["CFG_ERR_NAME"],
  },
  {
    name: "unknown top-level field",
    target: "yaml",
    input: () => `${NS}evil: true\n`,
    expect: ["CFG_ERR_UNKNOWN_FIELD"],
  },
  {
    name: "__proto__ as a field",
    target: "yaml",
    input: () => `${NS}  __proto__:\n    polluted: true\n`,
    expect: ["CFG_ERR_UNKNOWN_FIELD"],
  },
  {
    name: "constructor as a field",
    target: "yaml",
    input: () => `${NS}  constructor: x\n`,
    expect: ["CFG_ERR_UNKNOWN_FIELD"],
  },
  {
    name: "__proto__ as a label key",
    target: "yaml",
    input: () => `${NS}  labels:\n    __proto__: x\n`,
    expect: ["CFG_ERR_NAME"],
  },
  {
    name: "policy action of the wrong type",
    target: "yaml",
    input: () => policy("  action: [ALLOW]\n"),
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "policy action outside the enum",
    target: "yaml",
    input: () => policy("  action: PERMIT\n"),
    expect: ["CFG_ERR_ENUM"],
  },
  {
    name: "policy port 70000",
    target: "yaml",
    input: () => policy('  rules:\n  - to:\n    - operation:\n        ports: ["70000"]\n'),
    expect: ["CFG_ERR_PORT"],
  },
  {
    name: "policy ipBlocks with a bad CIDR",
    target: "yaml",
    input: () => policy('  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.0/33"]\n'),
    expect: ["CFG_ERR_CIDR"],
  },
  {
    name: "policy principal with a wildcard in the middle",
    target: "yaml",
    input: () => policy('  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/*/sa/x"]\n'),
    expect: ["CFG_ERR_FORMAT"],
  },
  {
    name: "policy rules is a mapping",
    target: "yaml",
    input: () => policy("  rules:\n    a: b\n"),
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "a number too large for a port (1e400)",
    target: "yaml",
    input: () => policy("  rules:\n  - to:\n    - operation:\n        ports: [1e400]\n"),
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "a JSON document with a trailing comma (valid YAML flow mapping)",
    target: "yaml",
    input: () => '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"},}',
    expect: [],
  },
  {
    name: "an unterminated quoted string",
    target: "yaml",
    input: () => 'apiVersion: "v1\nkind: Namespace\n',
    expect: ["CFG_ERR_YAML_SYNTAX"],
  },
  {
    name: "a YAML directive of an unknown version",
    target: "yaml",
    input: () => `%YAML 9.9\n---\n${NS}`,
    expect: [],
  },
  {
    name: "a custom tag (!!js/function)",
    target: "yaml",
    input: () => `${NS}  labels: !!js/function "function(){}"\n`,
    expect: ["CFG_ERR_TYPE"],
  },
  {
    name: "10,000 keys in one mapping",
    target: "yaml",
    input: () => `${NS}  labels:\n${Array.from({ length: 10_000 }, (_, i) => `    k${i}: v`).join("\n")}\n`,
    expect: [],
  },
  {
    name: "a 64 KiB label value",
    target: "yaml",
    input: () => `${NS}  labels:\n    a: ${"v".repeat(65536)}\n`,
    expect: ["CFG_ERR_NAME"],
  },
];
