import { createHash } from "node:crypto";
import { create, type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";
import { type Any, AnySchema } from "@bufbuild/protobuf/wkt";
import { XdsError, XdsErrorCode } from "./errors.js";
import { L7ResourceSchema } from "./gen/ambit/waypoint/l7_pb.js";
import { type Resource, ResourceSchema } from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema } from "./gen/istio/workload/workload_pb.js";
import { typeUrlOf } from "./type-urls.js";

/** What the control plane publishes: a message and, optionally, its version. */
export interface XdsResourceInput {
  readonly resource: Message;
  /** Opaque; when omitted a content hash is used, so republishing identical content pushes nothing. */
  readonly version?: string;
}

export interface StoredResource {
  readonly name: string;
  readonly version: string;
  readonly message: Message;
  /** Serialized once here and shared by every stream that sends it. */
  readonly wire: Resource;
}

export interface XdsResourceDelta {
  readonly upserts?: Iterable<readonly [string, XdsResourceInput]>;
  readonly removals?: Iterable<string>;
}

export interface StoreChange {
  readonly typeUrl: string;
  readonly names: ReadonlySet<string>;
  /** Per-type counter, bumped by every mutation that changed something; sent as system_version_info. */
  readonly revision: number;
}

interface TypeTable {
  revision: number;
  readonly resources: Map<string, StoredResource>;
}

const EMPTY: ReadonlyMap<string, StoredResource> = new Map();

/**
 * The versioned resources the xDS server serves, per type URL. The control plane writes here
 * (whole snapshots with setResources, or deltas with applyDelta); the server listens and pushes
 * only what changed to the streams that may see it.
 */
export class XdsResourceStore {
  readonly #schemas = new Map<string, DescMessage>();
  readonly #types = new Map<string, TypeTable>();
  readonly #listeners = new Set<(change: StoreChange) => void>();

  constructor(extraSchemas: readonly DescMessage[] = []) {
    for (const s of [AddressSchema, AuthorizationSchema, L7ResourceSchema, ...extraSchemas])
      this.#schemas.set(s.typeName, s);
  }

  /** Replaces every resource of a type: names absent from `resources` are removed. */
  setResources(typeUrl: string, resources: ReadonlyMap<string, XdsResourceInput>): number {
    const table = this.#table(typeUrl);
    const removals = [...table.resources.keys()].filter((n) => !resources.has(n));
    return this.applyDelta(typeUrl, { upserts: resources, removals });
  }

  /** Returns how many resources actually changed (an upsert with the same version is no change). */
  applyDelta(typeUrl: string, delta: XdsResourceDelta): number {
    // Pack everything before touching the table, so a bad resource leaves the store unchanged.
    const packed: StoredResource[] = [];
    for (const [name, input] of delta.upserts ?? []) packed.push(this.#pack(typeUrl, name, input));
    const table = this.#table(typeUrl);
    const changed = new Set<string>();
    for (const r of packed) {
      if (table.resources.get(r.name)?.version === r.version) continue;
      table.resources.set(r.name, r);
      changed.add(r.name);
    }
    for (const name of delta.removals ?? []) {
      if (table.resources.delete(name)) changed.add(name);
    }
    if (changed.size === 0) return 0;
    table.revision += 1;
    const change: StoreChange = { typeUrl, names: changed, revision: table.revision };
    for (const l of this.#listeners) l(change);
    return changed.size;
  }

  get(typeUrl: string, name: string): StoredResource | undefined {
    return this.#types.get(typeUrl)?.resources.get(name);
  }

  list(typeUrl: string): ReadonlyMap<string, StoredResource> {
    return this.#types.get(typeUrl)?.resources ?? EMPTY;
  }

  revision(typeUrl: string): number {
    return this.#types.get(typeUrl)?.revision ?? 0;
  }

  typeUrls(): string[] {
    return [...this.#types.keys()];
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #table(typeUrl: string): TypeTable {
    let t = this.#types.get(typeUrl);
    if (t === undefined) {
      t = { revision: 0, resources: new Map() };
      this.#types.set(typeUrl, t);
    }
    return t;
  }

  #pack(typeUrl: string, name: string, input: XdsResourceInput): StoredResource {
    const message = input.resource;
    const schema = this.#schemas.get(message.$typeName);
    if (schema === undefined) {
      throw new XdsError(
        XdsErrorCode.UnknownType,
        `resource "${name}" is a ${message.$typeName}, which this store has no schema for; pass its schema to new XdsResourceStore([...])`,
      );
    }
    if (typeUrlOf(schema) !== typeUrl) {
      throw new XdsError(
        XdsErrorCode.TypeUrlMismatch,
        `resource "${name}" is a ${message.$typeName} but was published under ${typeUrl}; publish it under ${typeUrlOf(schema)}`,
      );
    }
    if (name === "")
      throw new XdsError(XdsErrorCode.Config, `a ${message.$typeName} was published with an empty name`);
    const value = toBinary(schema, message);
    const version = input.version ?? createHash("sha256").update(value).digest("base64url").slice(0, 16);
    const any: Any = create(AnySchema, { typeUrl, value });
    return { name, version, message, wire: create(ResourceSchema, { name, version, resource: any }) };
  }
}
