/**
 * The policy area's error catalogue. Codes are stable: tests and tools match on them, never on
 * message text. docs/policy.md lists them (a test keeps the two in sync).
 */
import type { SourcePosition } from "../api/types.js";
import { AmbitError } from "../errors.js";

export const PolicyErrorCode = {
  /** An AuthorizationPolicy with `action: CUSTOM` (external authorizers are not supported by ambit). */
  CUSTOM_UNSUPPORTED: "POL_ERR_CUSTOM_UNSUPPORTED",
  /** A field of an AuthorizationPolicy or PeerAuthentication that Istio's validation would reject. */
  INVALID_POLICY: "POL_ERR_INVALID_POLICY",
  /** A `when` condition key that is not one of Istio's documented attributes. */
  UNKNOWN_CONDITION: "POL_ERR_UNKNOWN_CONDITION",
  /** The request handed to `evaluate` (or to `ambit authz check --request`) is malformed. */
  BAD_REQUEST: "POL_ERR_BAD_REQUEST",
} as const;

export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

/** One problem of one policy: which policy (`ns/name`), where in it, and what to do. */
export class PolicyError extends AmbitError {
  /** `namespace/name` of the offending resource, or "" for a request error. */
  readonly policy: string;
  /** Field path inside the resource or request, e.g. `spec.rules[0].to[0].operation.ports[1]`. */
  readonly path: string;
  /** Where the offending resource was read from, when known. */
  readonly source: SourcePosition | null;
  constructor(code: PolicyErrorCode, policy: string, path: string, message: string, source?: SourcePosition) {
    super(code, message);
    this.name = "PolicyError";
    this.policy = policy;
    this.path = path;
    this.source = source ?? null;
  }
}
