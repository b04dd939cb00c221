/**
 * Proto3 enums are open: a decoder keeps any number. A value this build does not know (a newer
 * control plane, or a hostile one) must not be read as the default — an unknown
 * `tunnel_protocol` as plaintext, an unknown authorization `action` as ALLOW. istio/ztunnel
 * refuses such resources in its conversion (`TryFrom`); ambit NACKs them here, for every
 * resource type, before anything is applied.
 */
import type { DescEnum, DescMessage, Message } from "@bufbuild/protobuf";
import { isReflectMessage, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";

/** Nesting bound: a resource nested deeper than this is refused rather than walked. */
const MAX_DEPTH = 64;

function unknownIn(e: DescEnum, value: number): boolean {
  return !e.values.some((v) => v.number === value);
}

function describe(path: string, e: DescEnum, value: number): string {
  return `${path}: unknown enum value ${value} for ${e.typeName} (known: ${e.values.map((v) => `${v.name}=${v.number}`).join(", ")})`;
}

function walk(m: ReflectMessage, path: string, depth: number): string | null {
  if (depth > MAX_DEPTH) return `${path}: nested more than ${MAX_DEPTH} levels deep`;
  for (const f of m.fields) {
    if (!m.isSet(f)) continue;
    const at = path === "" ? f.name : `${path}.${f.name}`;
    switch (f.fieldKind) {
      case "enum": {
        const v = m.get(f);
        if (unknownIn(f.enum, v)) return describe(at, f.enum, v);
        break;
      }
      case "message": {
        const found = walk(m.get(f), at, depth + 1);
        if (found !== null) return found;
        break;
      }
      case "list": {
        let i = 0;
        for (const item of m.get(f)) {
          if (f.listKind === "enum" && typeof item === "number" && unknownIn(f.enum, item))
            return describe(`${at}[${i}]`, f.enum, item);
          if (isReflectMessage(item)) {
            const found = walk(item, `${at}[${i}]`, depth + 1);
            if (found !== null) return found;
          }
          i++;
        }
        break;
      }
      case "map": {
        for (const [k, item] of m.get(f)) {
          const key = String(k).slice(0, 64);
          if (f.mapKind === "enum" && typeof item === "number" && unknownIn(f.enum, item))
            return describe(`${at}[${key}]`, f.enum, item);
          if (isReflectMessage(item)) {
            const found = walk(item, `${at}[${key}]`, depth + 1);
            if (found !== null) return found;
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return null;
}

/** The first enum field (at any depth) holding a value `schema` does not define, as a NACK message. */
export function unknownEnumValue(schema: DescMessage, message: Message): string | null {
  return walk(reflect(schema, message), "", 0);
}
