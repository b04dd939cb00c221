/**
 * A small declarative schema language that validates the YAML syntax tree directly, so every
 * problem is reported at the position of the node that caused it. A schema's `parse` returns the
 * plain JavaScript value (only known fields kept) or INVALID after recording one or more errors;
 * objects keep going after a bad field so that one pass reports every problem.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { ConfigError } from "./config-error.js";
import { ConfigErrorCode } from "./errors.js";

const MAX_FREE_FORM_DEPTH = 64;

export const INVALID: unique symbol = Symbol("invalid");
export type Parsed = unknown;

/** Per-document walk state. */
export interface WalkContext {
  readonly file: string;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  readonly errors: ConfigError[];
  /** Alias dereferences left before the document is treated as an alias bomb. */
  aliasBudget: number;
  /** Set once the alias budget ran out: the rest of the document is skipped. */
  aborted: boolean;
  /** Anchor name → anchored nodes in document order; built on the first alias. */
  anchors?: Map<string, Node[]>;
}

export type YNode = Node | null | undefined;

export interface Schema {
  /** How the expected value is described in messages ("a string", "a port number (1-65535)"). */
  readonly expect: string;
  /** `at` is the source offset used when `node` is absent or has no range (e.g. `key:` with no value). */
  parse(node: YNode, path: string, ctx: WalkContext, at: number): Parsed;
  /** An explicit null means "empty" (objects, maps) rather than "unset". */
  readonly emptyOnNull?: boolean;
}

/** A problem found by a value check: a code and a message naming the value and what was expected. */
export interface Problem {
  code: string;
  message: string;
}

// ------------------------------------------------------------------ positions and reporting

export function offsetOf(
  node: { range?: readonly number[] | null | undefined } | null | undefined,
  at: number,
): number {
  return node?.range?.[0] ?? at;
}

export function report(ctx: WalkContext, code: string, path: string, offset: number, message: string): void {
  const pos = ctx.lineCounter.linePos(offset);
  ctx.errors.push({ code, file: ctx.file, line: pos.line, column: pos.col, path, message });
}

/** Follows an alias, charging it to the document's budget (billion-laughs protection). */
export function deref(node: YNode, path: string, ctx: WalkContext, at: number): YNode | typeof INVALID {
  if (!isAlias(node)) return node;
  if (ctx.aborted) return INVALID;
  ctx.aliasBudget -= 1;
  if (ctx.aliasBudget < 0) {
    ctx.aborted = true;
    report(
      ctx,
      ConfigErrorCode.LIMIT,
      path,
      offsetOf(node, at),
      "too many alias expansions in one document (possible alias bomb); expand the aliases by hand",
    );
    return INVALID;
  }
  const target = resolveAlias(node.source, offsetOf(node, at), ctx);
  if (target === undefined) {
    report(
      ctx,
      ConfigErrorCode.FORMAT,
      path,
      offsetOf(node, at),
      `alias *${node.source} refers to no earlier anchor &${node.source}`,
    );
    return INVALID;
  }
  return target;
}

/**
 * An alias means the closest anchor of that name before it (YAML 1.2 §3.2.2.2). yaml's own
 * `Alias.resolve` walks the whole document on every call — quadratic on large inputs — so the
 * anchors are indexed once per document.
 */
function resolveAlias(name: string, offset: number, ctx: WalkContext): Node | undefined {
  if (ctx.anchors === undefined) ctx.anchors = indexAnchors(ctx.doc.contents as YNode);
  let found: Node | undefined;
  for (const n of ctx.anchors.get(name) ?? []) {
    if (offsetOf(n, Number.POSITIVE_INFINITY) < offset) found = n;
    else break;
  }
  return found;
}

function indexAnchors(root: YNode): Map<string, Node[]> {
  const anchors = new Map<string, Node[]>();
  const stack: YNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || node === undefined || isAlias(node)) continue;
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor !== undefined) {
      const list = anchors.get(anchor) ?? [];
      list.push(node);
      anchors.set(anchor, list);
    }
    if (isMap(node)) {
      for (const pair of node.items) stack.push(pair.key as YNode, pair.value as YNode);
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item as YNode);
    }
  }
  for (const list of anchors.values()) list.sort((a, b) => offsetOf(a, 0) - offsetOf(b, 0));
  return anchors;
}

export function describeNode(node: YNode): string {
  if (node === null || node === undefined) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return "null";
    if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
    if (typeof v === "boolean") return `the boolean ${String(v)}`;
    if (typeof v === "number" || typeof v === "bigint") return `the number ${String(v)}`;
    return "a scalar";
  }
  return "an unsupported node";
}

function typeError(node: YNode, path: string, ctx: WalkContext, at: number, expect: string): typeof INVALID {
  report(
    ctx,
    ConfigErrorCode.TYPE,
    path,
    offsetOf(node, at),
    `expected ${expect}, found ${describeNode(node)}`,
  );
  return INVALID;
}

function scalarValue(node: YNode): unknown {
  return isScalar(node) ? node.value : undefined;
}

// ------------------------------------------------------------------ scalars

export interface StringOptions {
  /** Describes the value in messages; defaults to "a string". */
  expect?: string;
  check?: (v: string) => Problem | undefined;
  /** Accept an integer and turn it into its decimal string (e.g. `ports: [3306]`). */
  acceptInt?: boolean;
  nonEmpty?: boolean;
}

export function str(opts: StringOptions = {}): Schema {
  const expect = opts.expect ?? "a string";
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      let v = scalarValue(node);
      if (opts.acceptInt === true && typeof v === "number" && Number.isInteger(v)) v = String(v);
      if (typeof v !== "string" || !isScalar(node)) return typeError(node, path, ctx, at, expect);
      if (opts.nonEmpty === true && v === "") {
        report(
          ctx,
          ConfigErrorCode.FORMAT,
          path,
          offsetOf(node, at),
          `must not be empty (expected ${expect})`,
        );
        return INVALID;
      }
      const problem = opts.check?.(v);
      if (problem) {
        report(ctx, problem.code, path, offsetOf(node, at), problem.message);
        return INVALID;
      }
      return v;
    },
  };
}

export interface NumberOptions {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Code used for out-of-range values; RANGE unless a more precise one (PORT) fits. */
  rangeCode?: string;
  expect?: string;
  /** A closed set of allowed values (e.g. redirect status codes). */
  oneOf?: readonly number[];
}

export function num(opts: NumberOptions = {}): Schema {
  const integer = opts.integer ?? false;
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` (${opts.min}-${opts.max})`
      : opts.min !== undefined
        ? ` (>= ${opts.min})`
        : opts.max !== undefined
          ? ` (<= ${opts.max})`
          : "";
  const expect = opts.expect ?? `${integer ? "an integer" : "a number"}${range}`;
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      const v = scalarValue(node);
      if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
        if (typeof v === "string" && opts.rangeCode === ConfigErrorCode.PORT) {
          report(
            ctx,
            ConfigErrorCode.PORT,
            path,
            offsetOf(node, at),
            `${JSON.stringify(v)} is not ${expect}`,
          );
          return INVALID;
        }
        return typeError(node, path, ctx, at, expect);
      }
      if (opts.oneOf !== undefined && !opts.oneOf.includes(v)) {
        report(
          ctx,
          ConfigErrorCode.ENUM,
          path,
          offsetOf(node, at),
          `${v} is not one of ${opts.oneOf.join(", ")}`,
        );
        return INVALID;
      }
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
        report(
          ctx,
          opts.rangeCode ?? ConfigErrorCode.RANGE,
          path,
          offsetOf(node, at),
          `${v} is not ${expect}`,
        );
        return INVALID;
      }
      return v;
    },
  };
}

export function int(opts: Omit<NumberOptions, "integer"> = {}): Schema {
  return num({ ...opts, integer: true });
}

export function bool(): Schema {
  return {
    expect: "a boolean (true or false)",
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      const v = scalarValue(node);
      if (typeof v !== "boolean") return typeError(node, path, ctx, at, this.expect);
      return v;
    },
  };
}

export function enumOf(values: readonly string[]): Schema {
  const allowed = new Set(values);
  const expect = `one of ${values.join(", ")}`;
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      const v = scalarValue(node);
      if (typeof v !== "string") return typeError(node, path, ctx, at, expect);
      if (!allowed.has(v)) {
        report(ctx, ConfigErrorCode.ENUM, path, offsetOf(node, at), `${JSON.stringify(v)} is not ${expect}`);
        return INVALID;
      }
      return v;
    },
  };
}

/** An integer or a string (Kubernetes IntOrString: targetPort, maxSurge). */
export function intOrString(check?: (v: number | string) => Problem | undefined): Schema {
  const expect = "an integer or a string";
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      const v = scalarValue(node);
      if (!(typeof v === "string" || (typeof v === "number" && Number.isInteger(v)))) {
        return typeError(node, path, ctx, at, expect);
      }
      const problem = check?.(v);
      if (problem) {
        report(ctx, problem.code, path, offsetOf(node, at), problem.message);
        return INVALID;
      }
      return v;
    },
  };
}

/**
 * Free-form data for fields ambit records but does not interpret (probes, volumes, resources).
 * Still bounded: aliases are charged to the budget and the depth was checked before the walk.
 */
export function anyValue(): Schema {
  const convert = (raw: YNode, path: string, ctx: WalkContext, at: number, depth = 0): Parsed => {
    // Aliases can stack depth beyond what the pre-walk measured; bound it here too.
    if (depth > MAX_FREE_FORM_DEPTH) {
      if (!ctx.aborted)
        report(
          ctx,
          ConfigErrorCode.LIMIT,
          path,
          offsetOf(raw, at),
          `nested more than ${MAX_FREE_FORM_DEPTH} levels deep`,
        );
      ctx.aborted = true;
      return INVALID;
    }
    const node = deref(raw, path, ctx, at);
    if (node === INVALID) return INVALID;
    if (node === null || node === undefined) return null;
    if (isScalar(node)) return typeof node.value === "bigint" ? Number(node.value) : node.value;
    if (isSeq(node)) {
      const out: unknown[] = [];
      for (const [i, item] of node.items.entries()) {
        const v = convert(item as YNode, `${path}[${i}]`, ctx, offsetOf(node, at), depth + 1);
        if (v === INVALID) return INVALID;
        out.push(v);
      }
      return out;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = String(scalarValue(pair.key as YNode) ?? "");
        const v = convert(
          pair.value as YNode,
          joinPath(path, key),
          ctx,
          offsetOf(pair.key as YNode, at),
          depth + 1,
        );
        if (v === INVALID) return INVALID;
        setOwn(out, key, v);
      }
      return out;
    }
    return INVALID;
  };
  return { expect: "any value", parse: (raw, path, ctx, at) => convert(raw, path, ctx, at) };
}

// ------------------------------------------------------------------ collections

export interface ListOptions {
  minItems?: number;
  /** Items must be unique by this key (e.g. port name); items whose key is undefined are ignored. */
  uniqueBy?: { key: (item: Parsed) => string | undefined; what: string };
}

export function list(item: Schema, opts: ListOptions = {}): Schema {
  const expect = `a list of ${item.expect.replace(/^an? /, "")}`;
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      if (!isSeq(node)) return typeError(node, path, ctx, at, `a list (${expect})`);
      const out: Parsed[] = [];
      let bad = false;
      const seen = new Map<string, number>();
      for (const [i, itemNode] of node.items.entries()) {
        if (ctx.aborted) return INVALID;
        const itemPath = `${path}[${i}]`;
        const v = item.parse(itemNode as YNode, itemPath, ctx, offsetOf(node, at));
        if (v === INVALID) {
          bad = true;
          continue;
        }
        if (opts.uniqueBy) {
          const k = opts.uniqueBy.key(v);
          if (k !== undefined) {
            const first = seen.get(k);
            if (first !== undefined) {
              report(
                ctx,
                ConfigErrorCode.DUPLICATE_ITEM,
                itemPath,
                offsetOf(itemNode as YNode, at),
                `duplicate ${opts.uniqueBy.what} ${JSON.stringify(k)} (already used by ${path}[${first}])`,
              );
              bad = true;
            } else {
              seen.set(k, i);
            }
          }
        }
        out.push(v);
      }
      if (bad) return INVALID;
      if (opts.minItems !== undefined && out.length < opts.minItems) {
        report(
          ctx,
          ConfigErrorCode.MISSING_FIELD,
          path,
          offsetOf(node, at),
          `must have at least ${opts.minItems} item${opts.minItems === 1 ? "" : "s"}`,
        );
        return INVALID;
      }
      return out;
    },
  };
}

/** A mapping with arbitrary keys (labels, header maps, portLevelMtls). */
export function map(
  value: Schema,
  opts: { key?: (k: string) => Problem | undefined; expectKey?: string } = {},
): Schema {
  const expect = `a mapping of ${opts.expectKey ?? "string"} to ${value.expect.replace(/^an? /, "")}`;
  return {
    expect,
    emptyOnNull: true,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      if (node === null || (isScalar(node) && node.value === null)) return {};
      if (!isMap(node)) return typeError(node, path, ctx, at, expect);
      const out: Record<string, Parsed> = {};
      let bad = false;
      for (const pair of node.items) {
        if (ctx.aborted) return INVALID;
        const keyNode = deref(pair.key as YNode, path, ctx, offsetOf(node, at));
        if (keyNode === INVALID) return INVALID;
        const kv = scalarValue(keyNode);
        const keyAt = offsetOf(keyNode, offsetOf(node, at));
        if (typeof kv !== "string" && typeof kv !== "number") {
          report(
            ctx,
            ConfigErrorCode.TYPE,
            path,
            keyAt,
            `keys must be strings, found ${describeNode(keyNode)}`,
          );
          bad = true;
          continue;
        }
        const key = String(kv);
        const keyPath = joinPath(path, key);
        const problem = opts.key?.(key);
        if (problem) {
          report(ctx, problem.code, keyPath, keyAt, problem.message);
          bad = true;
          continue;
        }
        const v = value.parse(pair.value as YNode, keyPath, ctx, keyAt);
        if (v === INVALID) {
          bad = true;
          continue;
        }
        setOwn(out, key, v);
      }
      return bad ? INVALID : out;
    },
  };
}

// ------------------------------------------------------------------ objects

/** What a cross-field check sees: the parsed object and a way to report against one of its fields. */
export interface CheckScope {
  /** Reports at the node of `field` (a relative path like `targetRef` or `route[1].weight`), or the object. */
  report(code: string, field: string, message: string): void;
}

export type ObjectCheck = (value: Record<string, Parsed>, scope: CheckScope) => void;

export interface ObjectOptions {
  required?: readonly string[];
  /** Cross-field rules; run only when every field parsed cleanly, so they never see half an object. */
  checks?: readonly ObjectCheck[];
  /** Known fields that are accepted and dropped (Kubernetes server-set metadata, status). */
  ignored?: readonly string[];
}

export interface ObjectSchema extends Schema {
  readonly fields: Readonly<Record<string, Schema>>;
}

export function obj(fields: Record<string, Schema>, opts: ObjectOptions = {}): ObjectSchema {
  const ignored = new Set(opts.ignored ?? []);
  const known = Object.keys(fields);
  const expect = "a mapping";
  return {
    expect,
    fields,
    emptyOnNull: true,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      // `field:` with nothing after it is an empty object in Kubernetes (JSON null → zero value).
      const isNull = node === null || node === undefined || (isScalar(node) && node.value === null);
      if (!isNull && !isMap(node)) return typeError(node, path, ctx, at, expect);
      const here = offsetOf(node, at);
      const errorsBefore = ctx.errors.length;
      const out: Record<string, Parsed> = {};
      const present = new Set<string>();
      for (const pair of isMap(node) ? node.items : []) {
        if (ctx.aborted) return INVALID;
        const keyNode = deref(pair.key as YNode, path, ctx, here);
        if (keyNode === INVALID) return INVALID;
        const key = scalarValue(keyNode);
        const keyAt = offsetOf(keyNode, here);
        if (typeof key !== "string") {
          report(
            ctx,
            ConfigErrorCode.TYPE,
            path,
            keyAt,
            `field names must be strings, found ${describeNode(keyNode)}`,
          );
          continue;
        }
        const fieldPath = joinPath(path, key);
        // Own fields only: a key like `__proto__` or `constructor` must not find Object.prototype's members.
        const schema = Object.hasOwn(fields, key) ? fields[key] : undefined;
        if (schema === undefined) {
          if (!ignored.has(key)) {
            report(
              ctx,
              ConfigErrorCode.UNKNOWN_FIELD,
              fieldPath,
              keyAt,
              `unknown field ${JSON.stringify(key)} (expected one of: ${known.join(", ")})`,
            );
          }
          continue;
        }
        present.add(key);
        const valueNode = pair.value as YNode;
        // An explicit null is "unset" in Kubernetes, except for objects and maps (their empty value).
        if (isScalar(valueNode) && valueNode.value === null && schema.emptyOnNull !== true) {
          present.delete(key);
          continue;
        }
        const v = schema.parse(valueNode, fieldPath, ctx, keyAt);
        if (v !== INVALID) out[key] = v;
      }
      for (const r of opts.required ?? []) {
        if (!present.has(r)) {
          report(
            ctx,
            ConfigErrorCode.MISSING_FIELD,
            joinPath(path, r),
            here,
            `required field ${JSON.stringify(r)} is missing`,
          );
        }
      }
      if (ctx.errors.length !== errorsBefore) return INVALID;
      for (const check of opts.checks ?? []) {
        check(out, {
          report: (code, field, message) => {
            const target = field === "" ? node : locate(node, field);
            const full =
              field === ""
                ? path
                : path === "" || field.startsWith("[")
                  ? `${path}${field}`
                  : `${path}.${field}`;
            report(ctx, code, full, offsetOf(target, here), message);
          },
        });
      }
      return ctx.errors.length === errorsBefore ? out : INVALID;
    },
  };
}

/**
 * Exactly one schema of several, chosen by a discriminating test on the raw node (no backtracking,
 * so errors come from the branch the user evidently meant).
 */
export function oneOf(expect: string, choose: (node: YNode) => Schema | undefined): Schema {
  return {
    expect,
    parse(raw, path, ctx, at) {
      const node = deref(raw, path, ctx, at);
      if (node === INVALID) return INVALID;
      const schema = choose(node);
      if (schema === undefined) return typeError(node, path, ctx, at, expect);
      return schema.parse(node, path, ctx, at);
    },
  };
}

export function joinPath(base: string, key: string): string {
  const safe = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  if (base === "") return safe;
  return safe.startsWith('"') ? `${base}[${safe}]` : `${base}.${safe}`;
}

/** Finds the node at a relative path (`a.b[2].c`) for positioning; undefined when absent. */
export function locate(node: YNode, relPath: string): YNode {
  let cur: YNode = node;
  const parts = relPath.match(/\["(?:[^"\\]|\\.)*"\]|\[\d+\]|[^.[\]]+/g) ?? [];
  for (const raw of parts) {
    if (isAlias(cur)) return node;
    const part = raw.startsWith('["') ? (JSON.parse(raw.slice(1, -1)) as string) : raw;
    if (raw.startsWith("[") && !raw.startsWith('["')) {
      const idx = Number(part.slice(1, -1));
      cur = isSeq(cur) ? (cur.items[idx] as YNode) : undefined;
    } else if (isMap(cur)) {
      const pair = cur.items.find((p) => isPair(p) && scalarValue(p.key as YNode) === part);
      cur = pair ? ((pair.value ?? pair.key) as YNode) : undefined;
    } else {
      cur = undefined;
    }
    if (cur === undefined) return node;
  }
  return cur;
}

// ------------------------------------------------------------------ helpers for checks

export function problem(code: string, message: string): Problem {
  return { code, message };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `out[key] = v` that stores a user's `__proto__` key as data instead of replacing the prototype. */
function setOwn(out: Record<string, unknown>, key: string, v: unknown): void {
  Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
}
