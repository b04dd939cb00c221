/**
 * The configuration area's error catalogue. Every problem found in user YAML carries one of these
 * codes (stable: tests and tools match on them, never on message text). docs/configuration.md lists
 * them; a test keeps the two in sync.
 */
import { AmbitError } from "../errors.js";
import type { ConfigError } from "./config-error.js";

export const ConfigErrorCode = {
  /** A file or directory named with `-f` cannot be read (missing, permission, not a regular file). */
  FILE_READ: "CFG_ERR_FILE_READ",
  /** `-f` named nothing that holds a manifest (an empty directory, no *.yaml|*.yml|*.json). */
  NO_INPUT: "CFG_ERR_NO_INPUT",
  /** The text is not YAML/JSON (syntax error reported by the parser). */
  YAML_SYNTAX: "CFG_ERR_YAML_SYNTAX",
  /** The same key twice in one mapping (YAML forbids it; Kubernetes rejects it). */
  DUPLICATE_KEY: "CFG_ERR_DUPLICATE_KEY",
  /** A hostile or runaway input: too large, too deeply nested, too many aliases. */
  LIMIT: "CFG_ERR_LIMIT",
  /** The document is not a mapping with apiVersion/kind (e.g. a bare list or scalar). */
  NOT_A_RESOURCE: "CFG_ERR_NOT_A_RESOURCE",
  /** `kind` is not one ambit understands. */
  UNKNOWN_KIND: "CFG_ERR_UNKNOWN_KIND",
  /** `apiVersion` does not serve this kind (e.g. `apps/v1` Service). */
  API_VERSION: "CFG_ERR_API_VERSION",
  /** A field that the kind's schema does not have (Kubernetes strict field validation). */
  UNKNOWN_FIELD: "CFG_ERR_UNKNOWN_FIELD",
  /** A required field is absent. */
  MISSING_FIELD: "CFG_ERR_MISSING_FIELD",
  /** The value has the wrong type (a list where a string is expected, …). */
  TYPE: "CFG_ERR_TYPE",
  /** A value outside a closed set (the message names the allowed values). */
  ENUM: "CFG_ERR_ENUM",
  /** A number out of its range (replicas < 0, weight > 100, percentage > 100, …). */
  RANGE: "CFG_ERR_RANGE",
  /** Not a port number 1-65535. */
  PORT: "CFG_ERR_PORT",
  /** Not an IP address or CIDR block. */
  CIDR: "CFG_ERR_CIDR",
  /** Not a duration like `1.5s`, `300ms`, `1h`. */
  DURATION: "CFG_ERR_DURATION",
  /** Not a valid DNS-1123 name / label / hostname, or a malformed label key or value. */
  NAME: "CFG_ERR_NAME",
  /** A malformed string for its field (a bad regex, a principal with a wildcard in the middle, …). */
  FORMAT: "CFG_ERR_FORMAT",
  /** Fields that Istio / Kubernetes document as mutually exclusive are both set. */
  CONFLICT: "CFG_ERR_CONFLICT",
  /** Route weights do not add up to 100. */
  WEIGHT_SUM: "CFG_ERR_WEIGHT_SUM",
  /** A rule documented by Istio, Gateway API or Kubernetes across several fields does not hold. */
  SEMANTIC: "CFG_ERR_SEMANTIC",
  /** Two resources with the same kind, namespace and name in one input. */
  DUPLICATE_RESOURCE: "CFG_ERR_DUPLICATE_RESOURCE",
  /** Two list items that must be unique by a key (Service port names, subset names, …). */
  DUPLICATE_ITEM: "CFG_ERR_DUPLICATE_ITEM",
  /** Raised by `requireValid()` for an input with any of the errors above; `errors` lists them. */
  INVALID: "CFG_ERR_INVALID",
} as const;

export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/**
 * Thrown (rather than returned in a LoadResult) only when a caller asks for a valid input and did
 * not get one, e.g. `requireValid(result)`; `errors` holds every problem found.
 */
export class ConfigInvalidError extends AmbitError {
  readonly errors: readonly ConfigError[];
  constructor(errors: ConfigInvalidError["errors"], summary: string) {
    super(ConfigErrorCode.INVALID, summary);
    this.errors = errors;
  }
}
