/**
 * The control plane's model: the store's resources, the registry computed from them, and the
 * xDS snapshot computed from both. Every operation the admin API offers (apply, delete, label)
 * lands here; every change — from the API or a hand edit on disk — recomputes the registry,
 * persists new address allocations and notifies listeners (the xDS publisher, watch streams).
 */
import type { ConfigError } from "../api/config-error.js";
import { checkLabelKey, checkLabelValue } from "../api/formats.js";
import { parseDocuments } from "../api/load.js";
import { canonicalJson } from "./canonical-json.js";
import { ControlError, ControlErrorCode } from "./errors.js";
import { keyOf, lookupKind, objectKey } from "./kinds.js";
import type { ControlLogger } from "./log.js";
import {
  type Allocations,
  buildRegistry,
  emptyAllocations,
  type Registry,
  type RegistryOptions,
} from "./registry.js";
import type { Store, StoredResource } from "./store.js";
import { type TranslateOptions, translate, type XdsSnapshot } from "./translate.js";

/** One input file (or stdin) as the user gave it; `filename` is used in error positions. */
export interface Source {
  filename: string;
  yaml: string;
}

export type ApplyAction = "created" | "configured" | "unchanged";

export interface ObjectRef {
  kind: string;
  namespace: string | undefined;
  name: string;
}

export interface ApplyResult extends ObjectRef {
  action: ApplyAction;
}

export interface DeleteResult extends ObjectRef {
  action: "deleted" | "not found";
}

/** Thrown by apply/delete with a body when the input does not validate; nothing was changed. */
export class InvalidConfigError extends ControlError {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(
      ControlErrorCode.INVALID_CONFIG,
      `the input has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was applied`,
    );
    this.errors = errors;
  }
}

export interface LabelRequest {
  kind: string;
  namespace?: string;
  name: string;
  /** key → value to set. */
  set: Record<string, string>;
  /** keys to remove (`key-`). */
  remove: string[];
  overwrite: boolean;
}

export interface MeshStateOptions extends RegistryOptions, TranslateOptions {
  store: Store;
  log: ControlLogger;
}

const ALLOCATIONS = "allocations";

export class MeshState {
  readonly #store: Store;
  readonly #log: ControlLogger;
  readonly #opts: RegistryOptions & TranslateOptions;
  readonly #listeners = new Set<(r: Registry, x: XdsSnapshot) => void>();
  #registry: Registry = { nodes: [], workloads: [], services: [], problems: [] };
  #snapshot: XdsSnapshot = {
    addresses: new Map(),
    authorizations: new Map(),
    warnings: new Map(),
    l7: { resources: new Map(), scopes: new Map() },
  };
  #version = 0;
  #unsubscribe: () => void;
  /** Serialises mutations so apply-all-or-nothing is not interleaved with another apply. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: MeshStateOptions) {
    this.#store = o.store;
    this.#log = o.log;
    this.#opts = {
      trustDomain: o.trustDomain,
      clusterId: o.clusterId,
      domainSuffix: o.domainSuffix,
      network: o.network,
      rootNamespace: o.rootNamespace,
    };
    this.#unsubscribe = o.store.subscribe((e) => {
      if (e.type === "changed" && e.origin === "disk") {
        this.#log.info({ keys: e.keys }, "store changed on disk");
        void this.#serial(() => this.recompute());
      }
    });
  }

  get registry(): Registry {
    return this.#registry;
  }

  get snapshot(): XdsSnapshot {
    return this.#snapshot;
  }

  /** Bumped on every recomputation; watch streams carry it. */
  get version(): number {
    return this.#version;
  }

  subscribe(listener: (r: Registry, x: XdsSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Rebuilds registry and snapshot from the store; persists allocations that changed. */
  async recompute(): Promise<void> {
    const previous = (this.#store.readState(ALLOCATIONS) as Allocations | undefined) ?? emptyAllocations();
    const resources = this.#store.list();
    const { registry, allocations } = buildRegistry(resources, previous, this.#opts);
    if (JSON.stringify(allocations) !== JSON.stringify(previous)) {
      await this.#store.writeState(ALLOCATIONS, allocations);
    }
    this.#registry = registry;
    this.#snapshot = translate(registry, resources, this.#opts);
    this.#version += 1;
    for (const p of registry.problems) this.#log.debug({ object: p.object, code: p.code }, p.message);
    for (const l of this.#listeners) l(this.#registry, this.#snapshot);
  }

  /** Validates every source first: one bad document in any of them and nothing is stored. */
  apply(sources: readonly Source[], defaultNamespace?: string): Promise<ApplyResult[]> {
    return this.#serial(async () => {
      const resources = this.#parse(sources, defaultNamespace);
      const results: ApplyResult[] = [];
      const changed: StoredResource[] = [];
      for (const r of resources) {
        const existing = this.#store.get(keyOf(r));
        const action: ApplyAction =
          existing === undefined
            ? "created"
            : canonicalJson(existing) === canonicalJson(r)
              ? "unchanged"
              : "configured";
        results.push({ ...refOf(r), action });
        if (action !== "unchanged") changed.push(r);
      }
      if (changed.length > 0) {
        await this.#store.put(changed);
        await this.recompute();
      }
      return results;
    });
  }

  /** Deletes the objects a manifest names (kubectl delete -f). */
  deleteManifest(sources: readonly Source[], defaultNamespace?: string): Promise<DeleteResult[]> {
    return this.#serial(async () => {
      const resources = this.#parse(sources, defaultNamespace);
      return this.#delete(resources.map(refOf));
    });
  }

  deleteObjects(refs: readonly ObjectRef[]): Promise<DeleteResult[]> {
    return this.#serial(() => this.#delete(refs));
  }

  get(kind: string, namespace: string | undefined, name: string): StoredResource | undefined {
    return this.#store.get(objectKey(kind, namespace, name));
  }

  /** Objects of a kind, in one namespace or (namespace undefined) all of them, sorted by namespace/name. */
  list(kind: string, namespace: string | undefined): StoredResource[] {
    return this.#store
      .list()
      .filter(
        (r) =>
          r.kind === kind && (namespace === undefined || (r.metadata.namespace ?? "default") === namespace),
      )
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  /** kubectl label semantics: changing an existing value needs `overwrite`; `key-` removes. */
  label(req: LabelRequest): Promise<{ resource: StoredResource; changed: boolean }> {
    return this.#serial(async () => {
      const info = lookupKind(req.kind);
      if (!info)
        throw new ControlError(ControlErrorCode.BAD_REQUEST, `unknown kind ${JSON.stringify(req.kind)}`);
      const ns = info.namespaced ? (req.namespace ?? "default") : undefined;
      const current = this.#store.get(objectKey(info.kind, ns, req.name));
      if (!current) {
        const generated =
          info.kind === "Pod"
            ? this.#registry.workloads.find(
                (w) => w.kind === "Pod" && w.namespace === ns && w.name === req.name,
              )
            : undefined;
        throw new ControlError(
          ControlErrorCode.NOT_FOUND,
          generated?.owner
            ? `pod ${ns}/${req.name} is made by ${generated.owner}; label the template of its Deployment instead`
            : `${info.kind.toLowerCase()} ${ns ? `${ns}/` : ""}${req.name} not found`,
        );
      }
      const labels = { ...(current.metadata.labels ?? {}) };
      let changed = false;
      for (const [k, v] of Object.entries(req.set)) {
        const problem = checkLabelKey(k) ?? checkLabelValue(v);
        if (problem) throw new ControlError(ControlErrorCode.BAD_REQUEST, problem.message);
        if (labels[k] === v) continue;
        if (labels[k] !== undefined && !req.overwrite) {
          throw new ControlError(
            ControlErrorCode.LABEL_CONFLICT,
            `'${k}' already has a value (${labels[k]}), and --overwrite is false`,
          );
        }
        labels[k] = v;
        changed = true;
      }
      for (const k of req.remove) {
        if (labels[k] === undefined) continue;
        delete labels[k];
        changed = true;
      }
      const next: StoredResource = { ...current, metadata: { ...current.metadata, labels } };
      if (Object.keys(labels).length === 0) delete next.metadata.labels;
      if (changed) {
        await this.#store.put([next]);
        await this.recompute();
      }
      return { resource: next, changed };
    });
  }

  #parse(sources: readonly Source[], defaultNamespace: string | undefined): StoredResource[] {
    const all: StoredResource[] = [];
    const errors: ConfigError[] = [];
    for (const src of sources) {
      const result = parseDocuments(src.yaml, src.filename);
      errors.push(...result.errors);
      all.push(...(result.resources as StoredResource[]));
    }
    const normalised = all.map((r) => {
      const info = lookupKind(r.kind);
      const copy = { ...r, metadata: { ...r.metadata } } as StoredResource;
      delete copy.source;
      if (info?.namespaced) copy.metadata.namespace = r.metadata.namespace ?? defaultNamespace ?? "default";
      else delete copy.metadata.namespace;
      return copy;
    });
    // The same object twice across files is as ambiguous as twice in one file.
    // Duplicates inside one file are parseDocuments' to report; across files they are ours.
    const seen = new Map<string, string | undefined>();
    normalised.forEach((r, i) => {
      const key = keyOf(r);
      const at = all[i]?.source;
      if (seen.has(key) && seen.get(key) !== at?.file) {
        errors.push({
          code: "CFG_ERR_DUPLICATE_RESOURCE",
          file: at?.file ?? "",
          line: at?.line ?? 0,
          column: at?.column ?? 0,
          path: "",
          message: `${key} is given more than once in this input; keep one`,
        });
      }
      if (!seen.has(key)) seen.set(key, at?.file);
    });
    if (errors.length > 0) throw new InvalidConfigError(errors);
    return normalised;
  }

  async #delete(refs: readonly ObjectRef[]): Promise<DeleteResult[]> {
    const results: DeleteResult[] = [];
    const keys: string[] = [];
    for (const ref of refs) {
      const info = lookupKind(ref.kind);
      if (!info)
        throw new ControlError(ControlErrorCode.BAD_REQUEST, `unknown kind ${JSON.stringify(ref.kind)}`);
      const ns = info.namespaced ? (ref.namespace ?? "default") : undefined;
      const key = objectKey(info.kind, ns, ref.name);
      const found = this.#store.get(key) !== undefined;
      results.push({
        kind: info.kind,
        namespace: ns,
        name: ref.name,
        action: found ? "deleted" : "not found",
      });
      if (found) keys.push(key);
    }
    if (keys.length > 0) {
      await this.#store.delete(keys);
      await this.recompute();
    }
    return results;
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function refOf(r: StoredResource): ObjectRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}
