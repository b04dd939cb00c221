import { AmbitError } from "../errors.js";

/**
 * The control plane's error catalogue. Codes are stable: the admin API returns them in JSON error
 * bodies, the CLI prints them, tests match on them. docs/control-plane.md lists each with its fix.
 */
export const ControlErrorCode = {
  /** A listener (xDS, admin TCP or admin unix socket) could not be bound: the port or path is taken. */
  BIND: "CP_ERR_BIND",
  /** An option passed to `ambit control` is invalid (address, duration, trust domain). */
  BAD_OPTIONS: "CP_ERR_BAD_OPTIONS",
  /** The data directory cannot be created, read or written. */
  STORE_IO: "CP_ERR_STORE_IO",
  /** A file in the data directory does not hold a valid resource (a bad hand edit); it is ignored. */
  STORE_INVALID_FILE: "CP_ERR_STORE_INVALID_FILE",
  /** The admin request carries no bearer token or a wrong one. */
  UNAUTHENTICATED: "CP_ERR_UNAUTHENTICATED",
  /** An admin request is malformed (bad JSON, missing field, unknown kind). */
  BAD_REQUEST: "CP_ERR_BAD_REQUEST",
  /** The named resource does not exist. */
  NOT_FOUND: "CP_ERR_NOT_FOUND",
  /** An applied input failed validation; nothing of it was stored. `errors` holds the ConfigErrors. */
  INVALID_CONFIG: "CP_ERR_INVALID_CONFIG",
  /** `label` would change an existing value without `--overwrite`. */
  LABEL_CONFLICT: "CP_ERR_LABEL_CONFLICT",
  /** An address pool (pod CIDR of a node, service VIP range) has no free address left. */
  POOL_EXHAUSTED: "CP_ERR_POOL_EXHAUSTED",
  /** A node or waypoint asked the CA for an identity it is not entitled to. */
  PERMISSION_DENIED: "CP_ERR_PERMISSION_DENIED",
  /** The CLI cannot reach the admin API (daemon not running, wrong --home). */
  UNREACHABLE: "CP_ERR_UNREACHABLE",
  /** The admin API answered with an error the CLI does not know. */
  ADMIN_ERROR: "CP_ERR_ADMIN_ERROR",
  /** A CA change conflicts with the CA state: a root rotation is in progress, or `--ca-dir` differs from the CA in use. */
  ROTATION_CONFLICT: "CP_ERR_ROTATION_CONFLICT",
} as const;

export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

export class ControlError extends AmbitError {
  declare readonly code: ControlErrorCode;
  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ControlError";
  }
}
