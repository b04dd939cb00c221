/**
 * The routing area's error catalogue. Codes are stable: tests and tools match on them, never on
 * message text. docs/routing.md lists them.
 */
import type { SourcePosition } from "../api/types.js";
import { AmbitError } from "../errors.js";

export const RoutingErrorCode = {
  /** A route field Istio or the Gateway API would reject (e.g. ReplacePrefixMatch without a PathPrefix match). */
  INVALID_ROUTE: "RT_ERR_INVALID_ROUTE",
  /** A regular expression uses a construct RE2 (Envoy's regex engine) does not have: look-around, backreferences… */
  UNSUPPORTED_REGEX: "RT_ERR_UNSUPPORTED_REGEX",
  /** The request handed to `route` (or to `ambit route check --request`) is malformed. */
  BAD_REQUEST: "RT_ERR_BAD_REQUEST",
} as const;

export type RoutingErrorCode = (typeof RoutingErrorCode)[keyof typeof RoutingErrorCode];

/** One problem of one routing resource (`Kind/ns/name`), where in it, and what to do. */
export class RoutingError extends AmbitError {
  /** `Kind/namespace/name` of the offending resource, or "" for a request error. */
  readonly resource: string;
  /** Field path inside the resource or request, e.g. `spec.http[0].match[1].uri.regex`. */
  readonly path: string;
  readonly source: SourcePosition | null;
  constructor(
    code: RoutingErrorCode,
    resource: string,
    path: string,
    message: string,
    source?: SourcePosition,
  ) {
    super(code, message);
    this.name = "RoutingError";
    this.resource = resource;
    this.path = path;
    this.source = source ?? null;
  }
}
