/** Printing resources back as users write them (`ambit get -o yaml|json`), without ambit's `source` bookkeeping. */
import { stringify } from "yaml";
import type { Resource } from "./types.js";

/** A plain copy with only the resource's own fields, in the conventional order. */
export function toPlain(r: Resource): Record<string, unknown> {
  const { source: _source, apiVersion, kind, metadata, ...rest } = r as Resource & Record<string, unknown>;
  return JSON.parse(JSON.stringify({ apiVersion, kind, metadata, ...rest })) as Record<string, unknown>;
}

/** One resource as a YAML document, or several separated by `---`. */
export function toYaml(resources: Resource | readonly Resource[]): string {
  const list = Array.isArray(resources) ? resources : [resources as Resource];
  return list.map((r) => stringify(toPlain(r), { lineWidth: 0 })).join("---\n");
}

/** One resource as JSON, or several as a Kubernetes `List` (what `kubectl get -o json` prints). */
export function toJson(resources: Resource | readonly Resource[]): string {
  const body = Array.isArray(resources)
    ? { apiVersion: "v1", kind: "List", items: resources.map(toPlain) }
    : toPlain(resources as Resource);
  return `${JSON.stringify(body, null, 2)}\n`;
}
