/** Shared by the configuration tests: parse a YAML text and summarise its errors. */
import { parseDocuments } from "../../src/api/load.js";

export interface Found {
  code: string;
  path: string;
  line: number;
  column: number;
}

/** 1-based line and column of the `nth` occurrence of `needle` in `text`. */
export function positionOf(text: string, needle: string, nth = 1): { line: number; column: number } {
  let idx = -1;
  for (let i = 0; i < nth; i++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`needle ${JSON.stringify(needle)} (#${nth}) not in the test text`);
  }
  const before = text.slice(0, idx);
  const line = before.split("\n").length;
  const column = idx - before.lastIndexOf("\n");
  return { line, column };
}

export function errorsOf(text: string, file = "test.yaml"): Found[] {
  return parseDocuments(text, file).errors.map((e) => ({
    code: e.code,
    path: e.path,
    line: e.line,
    column: e.column,
  }));
}
