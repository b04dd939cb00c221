/**
 * Decides one request against a compiled PolicySet, in Istio's order
 * (istio.io/latest/docs/reference/config/security/authorization-policy/): CUSTOM (refused at compile
 * time) → DENY: any match denies → ALLOW: when at least one ALLOW policy applies, the request must match
 * one → allow. AUDIT policies and dry-run policies are evaluated and reported, never enforced.
 *
 * What an enforcement point cannot see follows Istio: an ALLOW (or AUDIT) rule that needs an unseen
 * attribute never matches. In a DENY rule the unseen attributes are left out ("For a DENY rule, missing
 * attributes are treated as matches"), except that at ztunnel a source/operation left with nothing,
 * or a condition on an unseen key, can never match (istiod drops the HTTP fields and ztunnel's rbac.rs
 * skips empty matches; istio/istio#61126).
 *
 * Pure and allocation-light: the applicable policies are memoised per workload / service in the set,
 * and a request costs one small view object plus the Decision.
 */
import { anyCidrContains, type ParsedIp, parseIp } from "./ip-match.js";
import { effectiveMtlsMode } from "./peer-authentication.js";
import type { PolicySet } from "./policy-set.js";
import { type AuthzRequest, normalizePrincipal, principalNamespace } from "./request.js";
import { matchAnyString } from "./string-match.js";
import {
  type ApplicablePolicies,
  type AuditResult,
  type Check,
  type CompiledPolicy,
  type CompiledRule,
  type Decision,
  type DecisionReason,
  type DryRunResult,
  Layer,
} from "./types.js";

const NO_WARNINGS: readonly string[] = Object.freeze([]);
const NO_POLICY_REASON = [
  "no authorization policy applies at ztunnel: allowed by default",
  "no authorization policy applies at the waypoint: allowed by default",
] as const;
const NO_ALLOW_POLICY_REASON = [
  "no DENY policy matched and no ALLOW policy applies at ztunnel: allowed",
  "no DENY policy matched and no ALLOW policy applies at the waypoint: allowed",
] as const;

/** Request attributes, derived lazily once per evaluation. */
class RequestView {
  readonly request: AuthzRequest;
  readonly principal: string;
  readonly namespace: string;
  #sourceIp: ParsedIp | null | undefined;
  #remoteIp: ParsedIp | null | undefined;
  #destinationIp: ParsedIp | null | undefined;
  #path: string | undefined;
  #headers: Map<string, string> | undefined;

  constructor(request: AuthzRequest) {
    this.request = request;
    const p = request.source.principal;
    // Istio's principals and namespaces come from the peer certificate only; plaintext has neither.
    this.principal = p === null || !request.source.mtls ? "" : normalizePrincipal(p);
    this.namespace = this.principal === "" ? "" : principalNamespace(this.principal);
  }

  sourceIp(): ParsedIp | null {
    if (this.#sourceIp === undefined) this.#sourceIp = parseIp(this.request.source.ip);
    return this.#sourceIp;
  }

  remoteIp(): ParsedIp | null {
    if (this.#remoteIp === undefined)
      this.#remoteIp = parseIp(this.request.source.remoteIp ?? this.request.source.ip);
    return this.#remoteIp;
  }

  destinationIp(): ParsedIp | null {
    if (this.#destinationIp === undefined) this.#destinationIp = parseIp(this.request.destination.ip);
    return this.#destinationIp;
  }

  /** Paths match without the query string or fragment (Istio matches the URL path). */
  path(): string {
    if (this.#path === undefined) {
      const raw = this.request.http?.path ?? "";
      const q = raw.search(/[?#]/);
      this.#path = q === -1 ? raw : raw.slice(0, q);
    }
    return this.#path;
  }

  header(name: string): string | undefined {
    if (this.#headers === undefined) {
      this.#headers = new Map();
      for (const [k, v] of Object.entries(this.request.http?.headers ?? {}))
        this.#headers.set(k.toLowerCase(), v);
    }
    return this.#headers.get(name);
  }
}

/** The value test of one check; the caller has made sure the attribute is visible here. */
function checkMatches(c: Check, v: RequestView): boolean {
  const http = v.request.http;
  let m: boolean;
  switch (c.attribute) {
    case "principal":
      m = matchAnyString(c.strings, v.principal);
      break;
    case "namespace":
      m = matchAnyString(c.strings, v.namespace);
      break;
    case "requestPrincipal":
    case "authPrincipal":
      m = matchAnyString(c.strings, http?.auth?.principal ?? "");
      break;
    case "sourceIp":
      m = anyCidrContains(c.cidrs, v.sourceIp());
      break;
    case "remoteIp":
      m = anyCidrContains(c.cidrs, v.remoteIp());
      break;
    case "destinationIp":
      m = anyCidrContains(c.cidrs, v.destinationIp());
      break;
    case "destinationPort":
      m = c.ports.includes(v.request.destination.port);
      break;
    case "sni":
      m = matchAnyString(c.strings, v.request.connection?.sni ?? "");
      break;
    case "host":
      m = matchAnyString(c.strings, http?.host ?? "");
      break;
    case "method":
      // Case-sensitive, as Envoy compares the :method header (and ambit's SQL verbs on MySQL ports).
      m = matchAnyString(c.strings, http?.method ?? "");
      break;
    case "path":
      m = matchAnyString(c.strings, v.path());
      break;
    case "header": {
      const h = v.header(c.name);
      m = h !== undefined && matchAnyString(c.strings, h);
      break;
    }
    case "authPresenter":
      m = matchAnyString(c.strings, http?.auth?.presenter ?? "");
      break;
    case "authAudiences":
      m = anyOf(c, http?.auth?.audiences);
      break;
    case "authClaim":
      m = anyOf(c, http?.auth?.claims?.[c.name]);
      break;
    case "unavailable":
      m = false;
      break;
  }
  return c.negate ? !m : m;
}

function anyOf(c: Check, value: string | readonly string[] | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value === "string") return matchAnyString(c.strings, value);
  for (const x of value) if (matchAnyString(c.strings, x)) return true;
  return false;
}

/**
 * AND of the checks this enforcement point can see; unseen ones only occur in DENY rules and are left
 * out ("missing attributes are treated as matches"). At ztunnel an entry with nothing visible left
 * never matches, as ztunnel skips empty matches (src/rbac.rs).
 */
function allChecks(checks: readonly Check[], v: RequestView, layer: Layer): boolean {
  let visible = 0;
  for (const c of checks) {
    if (c.layer > layer) continue;
    visible++;
    if (!checkMatches(c, v)) return false;
  }
  return visible > 0 || layer !== Layer.L4 || checks.length === 0;
}

function anyEntry(entries: readonly (readonly Check[])[], v: RequestView, layer: Layer): boolean {
  for (const e of entries) if (allChecks(e, v, layer)) return true;
  return false;
}

function ruleMatches(r: CompiledRule, v: RequestView, layer: Layer, isDeny: boolean): boolean {
  if (r.layer > layer && (!isDeny || (layer === Layer.L4 && r.inertAtZtunnel))) return false;
  if (r.from !== null && !anyEntry(r.from, v, layer)) return false;
  if (r.to !== null && !anyEntry(r.to, v, layer)) return false;
  for (const c of r.when) if (c.layer <= layer && !checkMatches(c, v)) return false;
  return true;
}

/** Index of the first matching rule, or -1. A policy without rules never matches. */
function matchingRule(p: CompiledPolicy, v: RequestView, layer: Layer): number {
  const isDeny = p.action === "DENY";
  for (const r of p.rules) if (ruleMatches(r, v, layer, isDeny)) return r.index;
  return -1;
}

function requestLayer(request: AuthzRequest): Layer {
  if (request.enforcement === "ztunnel") return Layer.L4;
  return request.http !== undefined && request.http !== null ? Layer.HTTP : Layer.TCP_PROXY;
}

function collectWarnings(a: ApplicablePolicies, layer: Layer): readonly string[] {
  let out: string[] | null = null;
  const lists = [a.deny, a.allow, a.audit, a.dryRun];
  for (const list of lists) {
    for (const p of list) {
      const w = p.warnings[layer === Layer.UNAVAILABLE ? Layer.HTTP : layer];
      if (w !== undefined && w.length > 0) {
        out ??= [];
        out.push(...w);
      }
    }
  }
  if (a.ignoredWarnings.length > 0) {
    out ??= [];
    out.push(...a.ignoredWarnings);
  }
  return out ?? NO_WARNINGS;
}

/** Evaluates one request. The request must be well-formed (use parseAuthzRequest on untrusted input). */
export function evaluate(set: PolicySet, request: AuthzRequest): Decision {
  const point = request.enforcement;
  const dest = request.destination;
  const layer = requestLayer(request);
  const applicable =
    point === "ztunnel" ? set.forZtunnel(dest.namespace, dest.labels) : set.forWaypoint(dest);
  const view = new RequestView(request);
  const pointIndex = point === "ztunnel" ? 0 : 1;

  let decided = false;
  let allow = false;
  let policy: string | null = null;
  let rule: number | null = null;
  let reason = "";
  let reasonCode: DecisionReason = "no-policy";

  if (point === "ztunnel" && !request.source.mtls) {
    // PeerAuthentication is enforced by the destination ztunnel on plaintext (non-HBONE) inbound traffic.
    const mtls = effectiveMtlsMode(set, dest);
    if (mtls.mode === "STRICT") {
      const portNote = mtls.level === "port" ? ` on port ${dest.port}` : "";
      decided = true;
      policy = mtls.policy;
      reason = `plaintext connection rejected: PeerAuthentication ${mtls.policy} requires mTLS (STRICT, ${mtls.level} level)${portNote}`;
      reasonCode = "mtls-strict";
    }
  }
  if (!decided) {
    for (const p of applicable.deny) {
      const r = matchingRule(p, view, layer);
      if (r !== -1) {
        decided = true;
        policy = p.key;
        rule = r;
        reason = p.reasons[pointIndex][r] ?? "";
        reasonCode = "deny-matched";
        break;
      }
    }
  }
  const enforcedDeny = decided;
  if (!decided) {
    if (applicable.allow.length === 0) {
      allow = true;
      reason =
        applicable.deny.length === 0 ? NO_POLICY_REASON[pointIndex] : NO_ALLOW_POLICY_REASON[pointIndex];
    } else {
      for (const p of applicable.allow) {
        const r = matchingRule(p, view, layer);
        if (r !== -1) {
          allow = true;
          policy = p.key;
          rule = r;
          reason = p.reasons[pointIndex][r] ?? "";
          reasonCode = "allow-matched";
          break;
        }
      }
      if (!allow) {
        reason = applicable.noAllowReason;
        reasonCode = "no-allow-matched";
      }
    }
  }

  const decision: { -readonly [K in keyof Decision]: Decision[K] } = {
    decision: allow ? "allow" : "deny",
    policy,
    rule,
    reason,
    reasonCode,
    enforcement: point,
    warnings: collectWarnings(applicable, layer),
  };

  if (applicable.audit.length > 0) {
    const audit: AuditResult[] = [];
    for (const p of applicable.audit) {
      const r = matchingRule(p, view, layer);
      if (r !== -1) audit.push({ policy: p.key, rule: r });
    }
    if (audit.length > 0) decision.audit = audit;
  }

  if (applicable.dryRun.length > 0) {
    const results: DryRunResult[] = [];
    let dryDeny = false;
    let dryAllowMatched = false;
    let dryAllowExists = false;
    for (const p of applicable.dryRun) {
      const r = matchingRule(p, view, layer);
      results.push({ policy: p.key, action: p.action, matched: r !== -1, rule: r === -1 ? null : r });
      if (p.action === "DENY" && r !== -1) dryDeny = true;
      if (p.action === "ALLOW") {
        dryAllowExists = true;
        if (r !== -1) dryAllowMatched = true;
      }
    }
    decision.dryRun = results;
    // The decision had the dry-run policies been enforced alongside the others.
    let would: "allow" | "deny";
    if (enforcedDeny || dryDeny) would = "deny";
    else if (applicable.allow.length === 0 && !dryAllowExists) would = "allow";
    else would = reasonCode === "allow-matched" || dryAllowMatched ? "allow" : "deny";
    decision.dryRunDecision = would;
  }
  return decision;
}
