/**
 * Header changes as Envoy applies them: within one set of operations removals happen first, then
 * `set` (overwrite or add) and `add` (append) in order. Names compare case-insensitively; a repeated
 * header is kept as one comma-joined value, which is how HTTP folds repeated fields.
 */

export type HeaderOp =
  | { op: "remove"; name: string }
  | { op: "set"; name: string; value: string }
  | { op: "add"; name: string; value: string };

export type HeaderMap = Record<string, string>;

/** Lower-cases names; later duplicates (differing only in case) are folded with ",". */
export function normaliseHeaders(h: Readonly<Record<string, string>>): HeaderMap {
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    out[name] = out[name] === undefined ? v : `${out[name]},${v}`;
  }
  return out;
}

/** Applies one group of operations (removals first, as Envoy's header parser does). */
export function applyHeaderOps(headers: Readonly<HeaderMap>, ops: readonly HeaderOp[]): HeaderMap {
  const out: HeaderMap = { ...headers };
  for (const o of ops) if (o.op === "remove") delete out[o.name.toLowerCase()];
  for (const o of ops) {
    if (o.op === "remove") continue;
    const name = o.name.toLowerCase();
    if (o.op === "set" || out[name] === undefined) out[name] = o.value;
    else out[name] = `${out[name]},${o.value}`;
  }
  return out;
}

/** Removals first in the returned list, so that a consumer applying them in order gets Envoy's result. */
export function orderOps(ops: readonly HeaderOp[]): HeaderOp[] {
  return [...ops.filter((o) => o.op === "remove"), ...ops.filter((o) => o.op !== "remove")];
}
