/**
 * The control plane's configuration store. The embedded default keeps files in the data directory
 * (file-store.ts); an etcd store can implement the same interface later (DESIGN §5), so nothing
 * above this layer knows where resources live.
 */
import type { ConfigError } from "../api/config-error.js";
import type { ResourceBase } from "../api/types.js";

/** Any stored resource: the Kubernetes envelope, spec left to the kind's own type. */
export type StoredResource = ResourceBase<string, unknown> & Record<string, unknown>;

/** Parses one file's text into resources, reporting problems with positions (src/api's parseDocuments). */
export type ParseFn = (
  text: string,
  file: string,
) => { resources: readonly ResourceBase<string, unknown>[]; errors: readonly ConfigError[] };

export type StoreEvent =
  /** Resources were added, changed or removed (by this process or by a hand edit). */
  | { type: "changed"; keys: readonly string[]; origin: "api" | "disk" }
  /** A file on disk does not hold a valid resource: it is ignored and the last good version stays. */
  | { type: "invalid"; file: string; errors: readonly ConfigError[] };

export interface StoreInfo {
  kind: "file" | "memory" | "etcd";
  location: string;
  resources: number;
  /** Files currently ignored because a hand edit made them invalid. */
  invalidFiles: readonly string[];
}

export interface Store {
  list(): readonly StoredResource[];
  get(key: string): StoredResource | undefined;
  /** Writes every resource (each atomically) and then emits one `changed` event. */
  put(resources: readonly StoredResource[]): Promise<void>;
  /** Removes the given keys (absent keys are ignored) and emits one `changed` event. */
  delete(keys: readonly string[]): Promise<void>;
  /** Small JSON documents of the control plane's own (address allocations). */
  readState(name: string): unknown;
  writeState(name: string, value: unknown): Promise<void>;
  subscribe(listener: (e: StoreEvent) => void): () => void;
  info(): StoreInfo;
  close(): Promise<void>;
}
