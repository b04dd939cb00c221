/**
 * Reading configuration: files, directories and stdin → YAML documents with positions → validated
 * resources. All-or-nothing: a LoadResult with any error must not be applied; its `resources` are
 * only meaningful when `errors` is empty.
 *
 * Hostile input is bounded before it can cost much: a size cap per source, a nesting-depth cap
 * measured on the syntax tree before validation, and an alias-expansion budget per document.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { type ConfigError, formatConfigError } from "./config-error.js";
import { ConfigErrorCode as C, ConfigInvalidError } from "./errors.js";
import { kindDefinition, knownKinds } from "./registry.js";
import { INVALID, locate, offsetOf, report, type WalkContext, type YNode } from "./schema.js";
import type { Resource, SourcePosition } from "./types.js";

export type { ConfigError };
export { formatConfigError };

export interface LoadResult {
  resources: Resource[];
  errors: ConfigError[];
}

export interface LoadLimits {
  /**
   * Bytes per source (file or stdin). Manifests are kilobytes; the YAML parser needs about 1-2 s
   * of CPU per MiB on this project's machines, so 1 MiB bounds the cost of any one source.
   */
  maxSourceBytes: number;
  /** Nesting depth of any document; real manifests stay below ~20. */
  maxDepth: number;
  /** Alias dereferences per document (billion-laughs protection). */
  maxAliasExpansions: number;
  /** Documents per source. */
  maxDocuments: number;
}

export const DEFAULT_LIMITS: Readonly<LoadLimits> = Object.freeze({
  maxSourceBytes: 1024 * 1024,
  maxDepth: 100,
  maxAliasExpansions: 200,
  maxDocuments: 10_000,
});

export interface ParseOptions {
  limits?: Partial<LoadLimits>;
}

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);
export const STDIN_NAME = "<stdin>";

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped kinds. */
export function resourceKey(r: Resource): string {
  const ns = r.metadata.namespace;
  return ns === undefined ? `${r.kind}/${r.metadata.name}` : `${r.kind}/${ns}/${r.metadata.name}`;
}

export function isValid(result: LoadResult): boolean {
  return result.errors.length === 0;
}

/** The resources of a valid result, or a ConfigInvalidError (code CFG_ERR_INVALID) listing every problem. */
export function requireValid(result: LoadResult): Resource[] {
  if (result.errors.length === 0) return result.resources;
  const first = result.errors[0];
  const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : "";
  throw new ConfigInvalidError(
    result.errors,
    `invalid configuration: ${first ? formatConfigError(first) : ""}${more}; nothing was applied`,
  );
}

/** Parses and validates the text of one source (file, stdin, an uploaded body). */
export function parseDocuments(text: string, file: string, opts: ParseOptions = {}): LoadResult {
  const result = parseSource(text, file, { ...DEFAULT_LIMITS, ...opts.limits });
  result.errors.push(...findDuplicates(result.resources));
  return result;
}

/**
 * Reads every `-f` argument: files, directories (recursive, *.yaml|*.yml|*.json, sorted) and `-`
 * for stdin. Duplicates are checked across the whole input.
 */
export async function loadSources(
  paths: string[],
  opts: { stdin?: NodeJS.ReadableStream; limits?: Partial<LoadLimits> } = {},
): Promise<LoadResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const all: LoadResult = { resources: [], errors: [] };
  if (paths.length === 0) {
    all.errors.push(fileError(C.NO_INPUT, "", "no input given (use -f <file|directory|->)"));
    return all;
  }
  for (const p of paths) {
    if (p === "-") {
      const text = await readStream(opts.stdin ?? process.stdin, limits.maxSourceBytes);
      if (text === undefined) all.errors.push(tooLarge(STDIN_NAME, limits));
      else merge(all, parseSource(text, STDIN_NAME, limits));
      continue;
    }
    let files: string[];
    try {
      const st = await stat(p);
      if (st.isDirectory()) {
        files = await listManifests(p);
        if (files.length === 0) {
          all.errors.push(fileError(C.NO_INPUT, p, "directory holds no *.yaml, *.yml or *.json file"));
        }
      } else {
        files = [p];
      }
    } catch (e) {
      all.errors.push(fileError(C.FILE_READ, p, `cannot read: ${describeFsError(e)}`));
      continue;
    }
    for (const f of files) {
      try {
        const st = await stat(f);
        if (st.size > limits.maxSourceBytes) {
          all.errors.push(tooLarge(f, limits));
          continue;
        }
        merge(all, parseSource(await readFile(f, "utf8"), f, limits));
      } catch (e) {
        all.errors.push(fileError(C.FILE_READ, f, `cannot read: ${describeFsError(e)}`));
      }
    }
  }
  all.errors.push(...findDuplicates(all.resources));
  return all;
}

// ------------------------------------------------------------------ one source

function parseSource(text: string, file: string, limits: LoadLimits): LoadResult {
  const out: LoadResult = { resources: [], errors: [] };
  if (Buffer.byteLength(text, "utf8") > limits.maxSourceBytes) {
    out.errors.push(tooLarge(file, limits));
    return out;
  }
  const lineCounter = new LineCounter();
  const deepAt = scanNesting(text, limits.maxDepth);
  if (deepAt !== undefined) {
    // The parser would recurse (and slowly hit the stack limit) on such input: refuse it first.
    lineCounter.addNewLine(0);
    for (let i = text.indexOf("\n"); i >= 0 && i < deepAt; i = text.indexOf("\n", i + 1))
      lineCounter.addNewLine(i + 1);
    const pos = lineCounter.linePos(deepAt);
    out.errors.push({
      code: C.LIMIT,
      file,
      line: pos.line,
      column: pos.col,
      path: "",
      message: `nested more than ${limits.maxDepth} levels deep`,
    });
    return out;
  }
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const list = Array.isArray(docs) ? docs : [];
  if (list.length > limits.maxDocuments) {
    out.errors.push(
      fileError(
        C.LIMIT,
        file,
        `holds ${list.length} documents, more than the limit of ${limits.maxDocuments}; split it`,
      ),
    );
    return out;
  }
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const overflow = /call stack/i.test(e.message);
        out.errors.push({
          code: overflow ? C.LIMIT : e.code === "DUPLICATE_KEY" ? C.DUPLICATE_KEY : C.YAML_SYNTAX,
          file,
          line: pos.line,
          column: pos.col,
          path: "",
          message: overflow
            ? `nested too deeply to parse (limit ${limits.maxDepth} levels)`
            : e.message.replace(/ at line \d+, column \d+.*$/s, ""),
        });
      }
      continue;
    }
    const contents = doc.contents as YNode;
    // kubectl skips empty documents (a trailing `---`, a file of comments).
    if (contents === null || contents === undefined || (isScalar(contents) && contents.value === null))
      continue;
    const ctx: WalkContext = {
      file,
      doc,
      lineCounter,
      errors: out.errors,
      aliasBudget: limits.maxAliasExpansions,
      aborted: false,
    };
    const deepAt = findTooDeep(contents, limits.maxDepth);
    if (deepAt !== undefined) {
      report(ctx, C.LIMIT, "", offsetOf(deepAt, 0), `nested more than ${limits.maxDepth} levels deep`);
      continue;
    }
    readDocument(contents, "", ctx, out.resources);
  }
  return out;
}

/** One document: a resource, or a `kind: List` whose items are resources. */
function readDocument(node: Node, path: string, ctx: WalkContext, into: Resource[]): void {
  const here = offsetOf(node, 0);
  if (!isMap(node)) {
    report(
      ctx,
      C.NOT_A_RESOURCE,
      path,
      here,
      "expected a Kubernetes-style resource (a mapping with apiVersion, kind and metadata)",
    );
    return;
  }
  const kindNode = scalarField(node, "kind");
  const apiNode = scalarField(node, "apiVersion");
  const prefix = path === "" ? "" : `${path}.`;
  if (kindNode === undefined || typeof kindNode.value !== "string") {
    report(
      ctx,
      C.MISSING_FIELD,
      `${prefix}kind`,
      offsetOf(kindNode, here),
      "kind is required (a string such as Service)",
    );
    return;
  }
  const kind = kindNode.value;
  if (kind === "List" && path === "") {
    const items = locate(node, "items");
    if (!isSeq(items) || items === node) {
      report(ctx, C.TYPE, "items", here, "a List needs items (a list of resources)");
      return;
    }
    for (const [i, item] of items.items.entries()) {
      if (isAlias(item)) {
        report(
          ctx,
          C.NOT_A_RESOURCE,
          `items[${i}]`,
          offsetOf(item as Node, here),
          "a List item must be written out, not an alias",
        );
      } else {
        readDocument(item as Node, `items[${i}]`, ctx, into);
      }
    }
    return;
  }
  const def = kindDefinition(kind);
  if (def === undefined) {
    report(
      ctx,
      C.UNKNOWN_KIND,
      `${prefix}kind`,
      offsetOf(kindNode, here),
      `unknown kind ${JSON.stringify(kind)} (expected one of: ${knownKinds().join(", ")})`,
    );
    return;
  }
  const apiVersion = apiNode?.value;
  if (typeof apiVersion !== "string") {
    report(
      ctx,
      C.MISSING_FIELD,
      `${prefix}apiVersion`,
      here,
      `apiVersion is required (e.g. ${def.apiVersions[0] ?? ""})`,
    );
    return;
  }
  if (!def.apiVersions.includes(apiVersion)) {
    report(
      ctx,
      C.API_VERSION,
      `${prefix}apiVersion`,
      offsetOf(apiNode, here),
      `${JSON.stringify(apiVersion)} does not serve kind ${kind} (expected one of: ${def.apiVersions.join(", ")})`,
    );
    return;
  }
  const value = def.schema.parse(node, path, ctx, here);
  if (value === INVALID) return;
  const resource = value as unknown as Resource;
  if (def.namespaced) {
    resource.metadata.namespace ??= "default";
  } else {
    // Kubernetes ignores a namespace on a cluster-scoped object; so do we.
    delete resource.metadata.namespace;
  }
  const pos = ctx.lineCounter.linePos(offsetOf(kindNode, here));
  const source: SourcePosition = { file: ctx.file, line: pos.line, column: pos.col };
  Object.defineProperty(resource, "source", {
    value: source,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  into.push(resource);
}

function scalarField(
  node: Node,
  key: string,
): { value: unknown; range?: [number, number, number] | null } | undefined {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isScalar(pair.key) && pair.key.value === key) {
      return isScalar(pair.value)
        ? pair.value
        : { value: undefined, range: (pair.key as Node).range ?? null };
    }
  }
  return undefined;
}

/**
 * A linear pre-scan for nesting the parser would have to recurse through: flow collections
 * (`[[[[…`) and compact block sequences (`- - - - …`). Quoted scalars and comments are skipped.
 * Over-approximates a little (a block collection inside flow is counted once); real manifests
 * are nowhere near the limit.
 */
function scanNesting(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let quote: '"' | "'" | undefined;
  let lineStart = true;
  let dashes = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote !== undefined) {
      if (ch === "\\" && quote === '"') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "\n") {
      lineStart = true;
      dashes = 0;
      continue;
    }
    if (ch === "#" && (i === 0 || /\s/.test(text[i - 1] ?? ""))) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl - 1;
      continue;
    }
    if (lineStart) {
      if (ch === " " || ch === "\t") continue;
      if (ch === "-" && /[ \t]/.test(text[i + 1] ?? "")) {
        dashes++;
        if (dashes > maxDepth) return i;
        continue;
      }
      lineStart = false;
    }
    if ((ch === '"' || ch === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1] ?? ""))) quote = ch;
    else if (ch === "[" || ch === "{") {
      depth++;
      if (depth > maxDepth) return i;
    } else if ((ch === "]" || ch === "}") && depth > 0) depth--;
  }
  return undefined;
}

/** Iterative (never recursive) depth measurement; aliases are not followed (they are budgeted later). */
function findTooDeep(root: Node, maxDepth: number): Node | undefined {
  const stack: [Node, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [Node, number];
    if (depth > maxDepth) return node;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (pair.value && typeof pair.value === "object") stack.push([pair.value as Node, depth + 1]);
        if (pair.key && typeof pair.key === "object" && !isScalar(pair.key))
          stack.push([pair.key as Node, depth + 1]);
      }
    } else if (isSeq(node)) {
      for (const item of node.items)
        if (item && typeof item === "object") stack.push([item as Node, depth + 1]);
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ across sources

function findDuplicates(resources: Resource[]): ConfigError[] {
  const seen = new Map<string, Resource>();
  const errors: ConfigError[] = [];
  for (const r of resources) {
    const key = resourceKey(r);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, r);
      continue;
    }
    const where = first.source
      ? `${first.source.file}:${first.source.line}:${first.source.column}`
      : "earlier";
    errors.push({
      code: C.DUPLICATE_RESOURCE,
      file: r.source?.file ?? "",
      line: r.source?.line ?? 0,
      column: r.source?.column ?? 0,
      path: "metadata.name",
      message: `duplicate ${key.replace(/\//, " ")} (first defined at ${where}); names must be unique per kind and namespace`,
    });
  }
  return errors;
}

function merge(into: LoadResult, from: LoadResult): void {
  into.resources.push(...from.resources);
  into.errors.push(...from.errors);
}

async function listManifests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listManifests(p)));
    else if (e.isFile() && MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

/** Reads a stream up to `max` bytes; undefined when it is larger (reading stops there). */
async function readStream(stream: NodeJS.ReadableStream, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > max) {
      if ("destroy" in stream && typeof stream.destroy === "function")
        (stream as NodeJS.ReadStream).destroy();
      return undefined;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function fileError(code: string, file: string, message: string): ConfigError {
  return { code, file, line: 0, column: 0, path: "", message };
}

function tooLarge(file: string, limits: LoadLimits): ConfigError {
  return fileError(
    C.LIMIT,
    file,
    `larger than the limit of ${limits.maxSourceBytes} bytes per source; split it into several files`,
  );
}

function describeFsError(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  return e instanceof Error ? e.message : String(e);
}
