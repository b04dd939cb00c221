/**
 * The embedded store: one YAML file per resource under `<home>/resources/<Kind>/<namespace>/<name>.yaml`
 * (cluster-scoped kinds: `<Kind>/<name>.yaml`), control-plane state as JSON under `<home>/state/`.
 * Writes go to a temporary file that is renamed over the target, so a reader (or a crash) never
 * sees half a file. The directory is watched: a hand edit is re-validated and applied; an invalid
 * one is reported and ignored while the last good version stays in force.
 */
import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { stringify } from "yaml";
import type { ConfigError } from "../api/config-error.js";
import { ControlError, ControlErrorCode } from "./errors.js";
import { isNamespaced, keyOf } from "./kinds.js";
import type { ControlLogger } from "./log.js";
import type { ParseFn, Store, StoredResource, StoreEvent, StoreInfo } from "./store.js";

export interface FileStoreOptions {
  /** The data directory (`$AMBIT_HOME`). */
  dir: string;
  parse: ParseFn;
  log: ControlLogger;
  /** Hand edits arrive as bursts of fs events (editors write, rename, chmod); wait this long for quiet. */
  debounceMs?: number;
  /** Off in tools that only read the store once. */
  watch?: boolean;
}

interface FileEntry {
  text: string;
  key: string;
  resource: StoredResource;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export class FileStore implements Store {
  readonly #dir: string;
  readonly #resourcesDir: string;
  readonly #stateDir: string;
  readonly #parse: ParseFn;
  readonly #log: ControlLogger;
  readonly #debounceMs: number;
  /** path → last good content; the watch compares against it to skip our own writes. */
  readonly #files = new Map<string, FileEntry>();
  readonly #invalid = new Map<string, readonly ConfigError[]>();
  readonly #state = new Map<string, unknown>();
  readonly #listeners = new Set<(e: StoreEvent) => void>();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(o: FileStoreOptions) {
    this.#dir = o.dir;
    this.#resourcesDir = join(o.dir, "resources");
    this.#stateDir = join(o.dir, "state");
    this.#parse = o.parse;
    this.#log = o.log;
    this.#debounceMs = o.debounceMs ?? 100;
  }

  static async open(o: FileStoreOptions): Promise<FileStore> {
    const s = new FileStore(o);
    try {
      await mkdir(s.#resourcesDir, { recursive: true, mode: DIR_MODE });
      await mkdir(s.#stateDir, { recursive: true, mode: DIR_MODE });
    } catch (e) {
      throw new ControlError(
        ControlErrorCode.STORE_IO,
        `cannot create the data directory ${o.dir}: ${(e as Error).message}; pick another with --home or $AMBIT_HOME`,
        { cause: e },
      );
    }
    await s.#loadState();
    await s.rescan();
    if (o.watch !== false) s.#startWatch();
    return s;
  }

  list(): readonly StoredResource[] {
    return [...this.#files.values()].map((f) => f.resource);
  }

  get(key: string): StoredResource | undefined {
    for (const f of this.#files.values()) if (f.key === key) return f.resource;
    return undefined;
  }

  put(resources: readonly StoredResource[]): Promise<void> {
    return this.#exclusive(() => this.#put(resources));
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.#exclusive(() => this.#delete(keys));
  }

  async #put(resources: readonly StoredResource[]): Promise<void> {
    const keys: string[] = [];
    for (const r of resources) {
      const path = this.#pathOf(r);
      const clean = withoutSource(r);
      const text = stringify(clean);
      await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
      await atomicWrite(path, text);
      this.#files.set(path, { text, key: keyOf(r), resource: clean });
      this.#invalid.delete(path);
      keys.push(keyOf(r));
    }
    if (keys.length > 0) this.#emit({ type: "changed", keys, origin: "api" });
  }

  async #delete(keys: readonly string[]): Promise<void> {
    const removed: string[] = [];
    for (const [path, f] of [...this.#files]) {
      if (!keys.includes(f.key)) continue;
      await unlink(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOENT") throw e;
      });
      this.#files.delete(path);
      removed.push(f.key);
    }
    if (removed.length > 0) this.#emit({ type: "changed", keys: removed, origin: "api" });
  }

  readState(name: string): unknown {
    return this.#state.get(name);
  }

  async writeState(name: string, value: unknown): Promise<void> {
    await atomicWrite(join(this.#stateDir, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
    this.#state.set(name, value);
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  info(): StoreInfo {
    return {
      kind: "file",
      location: this.#dir,
      resources: this.#files.size,
      invalidFiles: [...this.#invalid.keys()].map((p) => relative(this.#dir, p)),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#scanning;
  }

  /** Re-reads the resources directory and applies what changed on disk. */
  rescan(): Promise<void> {
    return this.#exclusive(() => this.#scan()).catch((e: unknown) => {
      this.#log.error({ err: e }, "store rescan failed");
    });
  }

  /**
   * Scans and writes never interleave: a scan that listed the directory before a write finished
   * would otherwise drop the new file from the cache, or resurrect one being deleted.
   */
  #exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#scanning.then(f, f);
    this.#scanning = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #pathOf(r: StoredResource): string {
    const ns = r.metadata.namespace ?? "default";
    const file = `${r.metadata.name}.yaml`;
    return isNamespaced(r.kind)
      ? join(this.#resourcesDir, r.kind, ns, file)
      : join(this.#resourcesDir, r.kind, file);
  }

  async #scan(): Promise<void> {
    if (this.#closed) return;
    const seen = new Set<string>();
    const changed: string[] = [];
    for (const path of await walkYaml(this.#resourcesDir)) {
      seen.add(path);
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch {
        continue; // removed between listing and reading; the next event rescans
      }
      const known = this.#files.get(path);
      if (known?.text === text) continue;
      const entry = this.#parseFile(path, text);
      if ("errors" in entry) {
        if (!sameErrors(this.#invalid.get(path), entry.errors)) {
          this.#invalid.set(path, entry.errors);
          this.#log.warn(
            { file: path, errors: entry.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`) },
            "ignoring invalid resource file; the last good version stays in force",
          );
          this.#emit({ type: "invalid", file: path, errors: entry.errors });
        }
        continue;
      }
      this.#invalid.delete(path);
      this.#files.set(path, entry);
      changed.push(entry.key);
    }
    for (const [path, f] of [...this.#files]) {
      if (seen.has(path)) continue;
      this.#files.delete(path);
      changed.push(f.key);
    }
    for (const path of [...this.#invalid.keys()]) if (!seen.has(path)) this.#invalid.delete(path);
    if (changed.length > 0) this.#emit({ type: "changed", keys: changed, origin: "disk" });
  }

  #parseFile(path: string, text: string): FileEntry | { errors: readonly ConfigError[] } {
    const display = relative(this.#dir, path);
    const { resources, errors } = this.#parse(text, display);
    if (errors.length > 0) return { errors };
    const fail = (message: string): { errors: ConfigError[] } => ({
      errors: [
        { code: ControlErrorCode.STORE_INVALID_FILE, file: display, line: 0, column: 0, path: "", message },
      ],
    });
    if (resources.length !== 1 || resources[0] === undefined) {
      return fail(`a store file holds exactly one resource, found ${resources.length}`);
    }
    const resource = withoutSource(resources[0] as StoredResource);
    if (this.#pathOf(resource) !== path) {
      return fail(
        `the file's place does not match its ${resource.kind} ${keyOf(resource)}; move it to ${relative(this.#dir, this.#pathOf(resource))}`,
      );
    }
    return { text, key: keyOf(resource), resource };
  }

  async #loadState(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#stateDir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith(".json") || n.startsWith(".")) continue;
      try {
        this.#state.set(n.slice(0, -5), JSON.parse(await readFile(join(this.#stateDir, n), "utf8")));
      } catch (e) {
        this.#log.warn({ file: n, err: (e as Error).message }, "ignoring unreadable state file");
      }
    }
  }

  #startWatch(): void {
    try {
      // Recursive fs.watch is implemented on Linux since Node 20; one watcher covers new kind folders.
      this.#watcher = watch(this.#resourcesDir, { recursive: true }, () => this.#schedule());
      this.#watcher.on("error", (e) =>
        this.#log.warn({ err: e.message }, "store watch failed; hand edits need a restart"),
      );
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, "cannot watch the store; hand edits need a restart");
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.rescan();
    }, this.#debounceMs);
  }

  #emit(e: StoreEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function withoutSource(r: StoredResource): StoredResource {
  const { source: _source, ...rest } = r;
  return rest as StoredResource;
}

function sameErrors(a: readonly ConfigError[] | undefined, b: readonly ConfigError[]): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

async function walkYaml(dir: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    if (n.startsWith(".")) continue; // temporary files of atomic writes, editor swap files
    const p = join(dir, n);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) out.push(...(await walkYaml(p)));
    else if (st?.isFile() && (n.endsWith(".yaml") || n.endsWith(".yml"))) out.push(p);
  }
  return out;
}

/** Temp file in the same directory (rename is atomic only within one filesystem), fsync, rename. */
export async function atomicWrite(path: string, text: string, mode = FILE_MODE): Promise<void> {
  const tmp = join(dirname(path), `.${path.split(sep).pop() ?? "tmp"}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
