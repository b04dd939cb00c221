/**
 * The slice of a pino logger the xDS code uses; a pino Logger satisfies it. Tokens, keys and
 * certificates are never passed to it.
 */
export interface XdsLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};
export const SILENT_LOGGER: XdsLogger = { debug: noop, info: noop, warn: noop, error: noop };
