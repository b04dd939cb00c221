/**
 * L4 authorization at the ztunnel, evaluated over the `istio.security.Authorization` resources the
 * control plane sends (PeerAuthentication STRICT arrives among them, converted by the control plane
 * into a DENY of connections without a principal, as istiod does).
 *
 * Why not `policy.compile`: the xDS form is already compiled (AND of clauses, OR of matches, OR of
 * values), and turning it back into AuthorizationPolicy YAML is lossy (a clause may mix source and
 * destination fields that no single `from`/`to` entry can express). So this is a thin adapter: it
 * reuses the policy engine's matchers (string and CIDR matching) and follows ztunnel's order —
 * any matching DENY denies; if ALLOW policies apply, one must match; otherwise allow.
 * Compiled sets are cached per destination workload and state version.
 */

import { anyCidrContains, type CidrBlock, parseIp } from "../policy/ip-match.js";
import { matchAnyString, type StringMatcher } from "../policy/string-match.js";
import type { Match, StringMatch } from "../xds/gen/istio/security/authorization_pb.js";
import { ipFromBytes } from "./addresses.js";
import type { PolicyInfo, WorkloadInfo, ZtunnelState } from "./state.js";

export interface L4Request {
  /** Verified peer identity (SPIFFE URI); undefined for plaintext. */
  readonly peerIdentity: string | undefined;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export interface AuthzResult {
  readonly decision: "allow" | "deny";
  /** "namespace/name" of the deciding policy; null when none decided. */
  readonly policy: string | null;
  readonly rule: number | null;
  readonly reason: string;
}

interface CompiledMatch {
  readonly namespaces: readonly StringMatcher[];
  readonly notNamespaces: readonly StringMatcher[];
  readonly principals: readonly StringMatcher[];
  readonly notPrincipals: readonly StringMatcher[];
  readonly sourceIps: readonly CidrBlock[];
  readonly notSourceIps: readonly CidrBlock[];
  readonly destinationIps: readonly CidrBlock[];
  readonly notDestinationIps: readonly CidrBlock[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
}

interface CompiledPolicy {
  readonly key: string;
  readonly action: "allow" | "deny";
  /** Rules (OR) of clauses (AND) of matches (OR). */
  readonly rules: readonly (readonly (readonly CompiledMatch[])[])[];
}

interface CompiledSet {
  readonly version: number;
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
}

function stringMatcher(m: StringMatch): StringMatcher | undefined {
  switch (m.matchType.case) {
    case "exact":
      return { kind: "exact", value: m.matchType.value, ignoreCase: false, regex: null };
    case "prefix":
      return { kind: "prefix", value: m.matchType.value, ignoreCase: false, regex: null };
    case "suffix":
      return { kind: "suffix", value: m.matchType.value, ignoreCase: false, regex: null };
    case "presence":
      return { kind: "presence", value: "", ignoreCase: false, regex: null };
    default:
      return undefined;
  }
}

function strings(list: readonly StringMatch[]): StringMatcher[] {
  return list.map(stringMatcher).filter((m): m is StringMatcher => m !== undefined);
}

function cidrs(list: readonly { address: Uint8Array; length: number }[]): CidrBlock[] {
  const out: CidrBlock[] = [];
  for (const c of list) {
    const text = ipFromBytes(c.address);
    const ip = text === undefined ? null : parseIp(text);
    if (text === undefined || ip === null) continue;
    // A mapped address in IPv6 form parses as IPv4; its prefix length is rebased like parseCidr does.
    const prefix = c.address.length === 16 && ip.family === 4 ? Math.max(0, c.length - 96) : c.length;
    out.push({ ...ip, prefix, text: `${text}/${c.length}` });
  }
  return out;
}

function compileMatch(m: Match): CompiledMatch {
  return {
    namespaces: strings(m.namespaces),
    notNamespaces: strings(m.notNamespaces),
    principals: strings(m.principals),
    notPrincipals: strings(m.notPrincipals),
    sourceIps: cidrs(m.sourceIps),
    notSourceIps: cidrs(m.notSourceIps),
    destinationIps: cidrs(m.destinationIps),
    notDestinationIps: cidrs(m.notDestinationIps),
    ports: [...m.destinationPorts],
    notPorts: [...m.notDestinationPorts],
  };
}

export function compilePolicy(p: PolicyInfo): CompiledPolicy {
  return {
    key: p.key,
    action: p.action,
    rules: p.proto.rules.map((r) => r.clauses.map((c) => c.matches.map(compileMatch))),
  };
}

interface Facts {
  /** Istio matches principals without the `spiffe://` scheme: `cluster.local/ns/a/sa/b`. */
  readonly principal: string;
  readonly namespace: string;
  readonly sourceIp: ReturnType<typeof parseIp>;
  readonly destinationIp: ReturnType<typeof parseIp>;
  readonly port: number;
}

function factsOf(r: L4Request): Facts {
  const principal = r.peerIdentity?.startsWith("spiffe://")
    ? r.peerIdentity.slice(9)
    : (r.peerIdentity ?? "");
  const ns = /\/ns\/([^/]+)\/sa\//.exec(principal)?.[1] ?? "";
  return {
    principal,
    namespace: ns,
    sourceIp: parseIp(r.sourceIp),
    destinationIp: parseIp(r.destinationIp),
    port: r.destinationPort,
  };
}

function matchOne(m: CompiledMatch, f: Facts): boolean {
  if (m.namespaces.length > 0 && !matchAnyString(m.namespaces, f.namespace)) return false;
  if (m.notNamespaces.length > 0 && matchAnyString(m.notNamespaces, f.namespace)) return false;
  if (m.principals.length > 0 && !matchAnyString(m.principals, f.principal)) return false;
  if (m.notPrincipals.length > 0 && matchAnyString(m.notPrincipals, f.principal)) return false;
  if (m.sourceIps.length > 0 && !anyCidrContains(m.sourceIps, f.sourceIp)) return false;
  if (m.notSourceIps.length > 0 && anyCidrContains(m.notSourceIps, f.sourceIp)) return false;
  if (m.destinationIps.length > 0 && !anyCidrContains(m.destinationIps, f.destinationIp)) return false;
  if (m.notDestinationIps.length > 0 && anyCidrContains(m.notDestinationIps, f.destinationIp)) return false;
  if (m.ports.length > 0 && !m.ports.includes(f.port)) return false;
  if (m.notPorts.length > 0 && m.notPorts.includes(f.port)) return false;
  return true;
}

/** Index of the first matching rule, or -1. A rule without clauses matches everything (Istio's `rules: [{}]`). */
function matchingRule(p: CompiledPolicy, f: Facts): number {
  return p.rules.findIndex((clauses) => clauses.every((matches) => matches.some((m) => matchOne(m, f))));
}

export function evaluateCompiled(set: Pick<CompiledSet, "deny" | "allow">, request: L4Request): AuthzResult {
  const f = factsOf(request);
  for (const p of set.deny) {
    const rule = matchingRule(p, f);
    if (rule >= 0) return { decision: "deny", policy: p.key, rule, reason: `denied by DENY policy ${p.key}` };
  }
  if (set.allow.length === 0)
    return { decision: "allow", policy: null, rule: null, reason: "no ALLOW policy applies" };
  for (const p of set.allow) {
    const rule = matchingRule(p, f);
    if (rule >= 0) return { decision: "allow", policy: p.key, rule, reason: `allowed by ${p.key}` };
  }
  return {
    decision: "deny",
    policy: null,
    rule: null,
    reason: `no ALLOW policy matched (applicable: ${set.allow.map((p) => p.key).join(", ")})`,
  };
}

/** Evaluates the policies that apply to destination workloads, caching compiled sets per workload. */
export class L4Authorizer {
  readonly #state: ZtunnelState;
  readonly #cache = new Map<string, CompiledSet>();

  constructor(state: ZtunnelState) {
    this.#state = state;
  }

  #setFor(w: WorkloadInfo): CompiledSet {
    const cached = this.#cache.get(w.uid);
    if (cached !== undefined && cached.version === this.#state.version) return cached;
    const policies = this.#state.policiesFor(w).sort((a, b) => a.key.localeCompare(b.key));
    const set: CompiledSet = {
      version: this.#state.version,
      deny: policies.filter((p) => p.action === "deny").map(compilePolicy),
      allow: policies.filter((p) => p.action === "allow").map(compilePolicy),
    };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(w.uid, set);
    return set;
  }

  evaluate(destination: WorkloadInfo, request: L4Request): AuthzResult {
    return evaluateCompiled(this.#setFor(destination), request);
  }
}
