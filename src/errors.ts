/**
 * Base of every ambit error. Each area keeps its own catalogue of stable codes
 * (`CFG_ERR_…`, `POL_ERR_…`, `ID_ERR_…`, `HBONE_ERR_…`, `XDS_ERR_…`, `CP_ERR_…`, `ZT_ERR_…`, `WP_ERR_…`)
 * and tests assert on `code`, never on message text. Messages name the offending value and a likely fix.
 */
export class AmbitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "AmbitError";
  }
}

export function isAmbitError(e: unknown, code?: string): e is AmbitError {
  return e instanceof AmbitError && (code === undefined || e.code === code);
}
