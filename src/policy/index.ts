/**
 * The authorization and peer-authentication engine: pure `compilePolicies` (resources → PolicySet)
 * and `evaluate` (PolicySet × request → Decision). No I/O. See docs/policy.md.
 */
export {
  type CompileResult,
  compilePolicies,
  DEFAULT_ROOT_NAMESPACE,
  DRY_RUN_ANNOTATION,
  type PolicyCompileOptions,
  type PolicyWarning,
  WAYPOINT_GATEWAY_CLASS,
} from "./compile.js";
export { PolicyError, PolicyErrorCode } from "./errors.js";
export { evaluate } from "./evaluate.js";
export {
  type EffectiveMtls,
  type EffectiveMtlsLevel,
  effectiveMtlsMode,
  type MtlsDestination,
} from "./peer-authentication.js";
export { PolicySet } from "./policy-set.js";
export {
  type AuthzDestinationInfo,
  type AuthzHttpInfo,
  type AuthzJwtInfo,
  type AuthzRequest,
  type AuthzSourceInfo,
  type EnforcementPoint,
  parseAuthzRequest,
} from "./request.js";
export type { AuditResult, Decision, DecisionReason, DryRunResult } from "./types.js";
