import type { StoredResource } from "./store.js";

/** Key-order-independent JSON, so re-applying the same YAML with reordered keys is `unchanged`. */
export function canonicalJson(r: StoredResource): string {
  const { source: _s, ...rest } = r;
  return JSON.stringify(sortKeys(rest));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
