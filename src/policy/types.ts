/**
 * The compiled (immutable, indexed) form of AuthorizationPolicy and PeerAuthentication, and the
 * Decision an evaluation returns. Built by compile.ts, read by evaluate.ts and peer-authentication.ts.
 */
import type { MtlsMode } from "../api/types.js";
import type { CidrBlock } from "./ip-match.js";
import type { EnforcementPoint } from "./request.js";
import type { StringMatcher } from "./string-match.js";

/**
 * What an attribute needs from the enforcement point, in increasing order. ztunnel sees L4 only;
 * a waypoint on an opaque TCP connection also sees what a TCP proxy knows (SNI, PROXY-protocol remote
 * address); a waypoint that parsed HTTP sees everything. `UNAVAILABLE` is an attribute ambit never has
 * (Istio's `experimental.envoy.filters.*` metadata of Envoy filters).
 */
export const Layer = { L4: 0, TCP_PROXY: 1, HTTP: 2, UNAVAILABLE: 3 } as const;
export type Layer = (typeof Layer)[keyof typeof Layer];

export type Attribute =
  | "principal"
  | "namespace"
  | "requestPrincipal"
  | "sourceIp"
  | "remoteIp"
  | "destinationIp"
  | "destinationPort"
  | "sni"
  | "host"
  | "method"
  | "path"
  | "header"
  | "authPrincipal"
  | "authAudiences"
  | "authPresenter"
  | "authClaim"
  | "unavailable";

/** One field of a source/operation or one half of a condition: `values` (negate=false) or `notValues`. */
export interface Check {
  readonly attribute: Attribute;
  readonly negate: boolean;
  readonly layer: Layer;
  /** The field as the user wrote it (`methods`, `notPaths`, `request.headers[x-user]`), for warnings. */
  readonly field: string;
  readonly strings: readonly StringMatcher[];
  readonly cidrs: readonly CidrBlock[];
  readonly ports: readonly number[];
  /** Lower-cased header name or claim name, for `header` / `authClaim`. */
  readonly name: string;
}

export interface CompiledRule {
  readonly index: number;
  /** OR'd sources (each an AND of checks); null when `from` is absent (any source). */
  readonly from: readonly (readonly Check[])[] | null;
  /** OR'd operations; null when `to` is absent (any operation). */
  readonly to: readonly (readonly Check[])[] | null;
  /** AND'd checks of all conditions. */
  readonly when: readonly Check[];
  /** The highest layer any check of this rule needs. */
  readonly layer: Layer;
  /**
   * As a DENY at ztunnel this rule can never match: istiod drops the HTTP parts, and ztunnel skips a
   * source/operation left empty and fails a condition left empty (istio/istio#61126), so a `from` or `to`
   * made only of L7 entries, or any L7 `when` condition, leaves nothing that can match.
   */
  readonly inertAtZtunnel: boolean;
  /** Some `from`/`to` entry has only L7 fields, so ztunnel ignores that entry. */
  readonly hasL7OnlyEntry: boolean;
  /** Fields of this rule above each layer, for warnings: index = enforcement layer. */
  readonly fieldsAbove: readonly [readonly string[], readonly string[], readonly string[]];
}

export type PolicyAction = "ALLOW" | "DENY" | "AUDIT";

export type TargetKind = "Gateway" | "GatewayClass" | "Service" | "ServiceEntry";

export interface CompiledTarget {
  readonly kind: TargetKind;
  readonly name: string;
}

export type Attachment =
  | { readonly kind: "namespace" }
  | { readonly kind: "selector"; readonly matchLabels: readonly (readonly [string, string])[] }
  | { readonly kind: "targetRefs"; readonly targets: readonly CompiledTarget[] };

export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: PolicyAction;
  readonly dryRun: boolean;
  readonly attachment: Attachment;
  /** Empty when the policy has no rules: it then never matches (an ALLOW of that kind allows nothing). */
  readonly rules: readonly CompiledRule[];
  /** Decision reasons when rule i matches, built once: [at ztunnel, at a waypoint]. */
  readonly reasons: readonly [readonly string[], readonly string[]];
  /** Warnings for this policy at each layer it may be evaluated at (index = Layer of the request). */
  readonly warnings: readonly [readonly string[], readonly string[], readonly string[]];
}

export interface CompiledPeerAuthentication {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly matchLabels: readonly (readonly [string, string])[] | null;
  readonly mode: MtlsMode;
  readonly portModes: ReadonlyMap<number, MtlsMode>;
}

/** The policies that apply at one place, by action, dry-run ones apart; sorted by key. */
export interface ApplicablePolicies {
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
  readonly dryRun: readonly CompiledPolicy[];
  /** Policies present but ignored at this enforcement point (AUDIT at ztunnel), for warnings. */
  readonly ignoredWarnings: readonly string[];
  /** The reason of a deny because ALLOW policies apply and none matched (built once per place). */
  readonly noAllowReason: string;
}

export interface DryRunResult {
  readonly policy: string;
  readonly action: PolicyAction;
  readonly matched: boolean;
  readonly rule: number | null;
}

export interface AuditResult {
  readonly policy: string;
  readonly rule: number;
}

export type DecisionReason =
  | "no-policy"
  | "deny-matched"
  | "allow-matched"
  | "no-allow-matched"
  | "mtls-strict";

export interface Decision {
  readonly decision: "allow" | "deny";
  /** `namespace/name` of the policy that decided, or null when no policy did. */
  readonly policy: string | null;
  /** Index of the rule (in `spec.rules`) that matched, or null. */
  readonly rule: number | null;
  readonly reason: string;
  readonly reasonCode: DecisionReason;
  readonly enforcement: EnforcementPoint;
  /** Dry-run policies that apply here and what they would have done. */
  readonly dryRun?: readonly DryRunResult[];
  /** The decision had the dry-run policies been enforced too. */
  readonly dryRunDecision?: "allow" | "deny";
  /** AUDIT policies whose rules matched (never change the decision). */
  readonly audit?: readonly AuditResult[];
  readonly warnings: readonly string[];
}
