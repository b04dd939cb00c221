/** One problem found in a configuration input, located in its source. */
export interface ConfigError {
  /** A `CFG_ERR_*` code from errors.ts. */
  code: string;
  file: string;
  /** 1-based; 0 when the problem has no place in a file (e.g. a file that cannot be read). */
  line: number;
  column: number;
  /** Field path inside the resource (`spec.rules[0].to[0].operation.ports[0]`), or "" for the whole document. */
  path: string;
  message: string;
}

/** `file:line:col path: message`, the format editors and CI annotators understand. */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  return e.path === "" ? `${where}: ${e.message}` : `${where} ${e.path}: ${e.message}`;
}
