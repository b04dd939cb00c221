/**
 * AuthorizationPolicy → istio.security.Authorization, the L4 form ztunnel enforces. Follows istiod's
 * ambient conversion: targetRef policies belong to waypoints and are skipped; only ALLOW and DENY
 * reach ztunnel; an ALLOW rule that needs any HTTP attribute can never match at L4 and is dropped
 * (more restrictive than asked), while a DENY rule keeps only its L4 parts (also more restrictive).
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { AuthorizationPolicy, AuthzCondition, AuthzRule } from "../api/types.js";
import {
  Action,
  type Address,
  AddressSchema,
  type Authorization,
  AuthorizationSchema,
  type Clause,
  ClauseSchema,
  type Match,
  MatchSchema,
  RuleSchema,
  Scope,
  type StringMatch,
  StringMatchSchema,
} from "../xds/gen/istio/security/authorization_pb.js";
import { ipBytes, ipToInt } from "./ip-pool.js";

export interface ConvertResult {
  /** Undefined when the policy is not for ztunnel (targetRef, AUDIT, CUSTOM). */
  authorization: Authorization | undefined;
  /** Why some of the policy was dropped or widened, as istiod reports it in the policy's status. */
  warnings: string[];
}

/** Conditions ztunnel can evaluate; any other `when` key is an HTTP attribute. */
const L4_WHEN_KEYS = new Set([
  "source.ip",
  "source.namespace",
  "source.principal",
  "destination.ip",
  "destination.port",
]);

export function convertAuthorizationPolicy(rootNamespace: string, p: AuthorizationPolicy): ConvertResult {
  const spec = p.spec ?? {};
  const namespace = p.metadata.namespace ?? "default";
  if (spec.targetRef || (spec.targetRefs && spec.targetRefs.length > 0)) {
    return { authorization: undefined, warnings: [] };
  }
  const actionName = spec.action ?? "ALLOW";
  if (actionName !== "ALLOW" && actionName !== "DENY") {
    return { authorization: undefined, warnings: [`ztunnel does not support the ${actionName} action`] };
  }
  const action = actionName === "DENY" ? Action.DENY : Action.ALLOW;
  const scope = spec.selector
    ? Scope.WORKLOAD_SELECTOR
    : namespace === rootNamespace
      ? Scope.GLOBAL
      : Scope.NAMESPACE;
  const l7 = new Set<string>();
  const rules = [];
  for (const rule of spec.rules ?? []) {
    const clauses = convertRule(rule, l7);
    if (action === Action.ALLOW && clauses.l7) continue;
    rules.push(create(RuleSchema, { clauses: clauses.clauses }));
  }
  const warnings: string[] = [];
  if (l7.size > 0) {
    warnings.push(
      `ztunnel does not support HTTP attributes (found: ${[...l7].sort().join(", ")}); use a waypoint to enforce them. ` +
        (action === Action.ALLOW
          ? "Within an ALLOW policy, rules matching HTTP attributes are omitted."
          : "The DENY policy is enforced without its HTTP parts."),
    );
  }
  return {
    authorization: create(AuthorizationSchema, { name: p.metadata.name, namespace, scope, action, rules }),
    warnings,
  };
}

function convertRule(rule: AuthzRule, l7: Set<string>): { clauses: Clause[]; l7: boolean } {
  let foundL7 = false;
  const note = (fields: Record<string, readonly unknown[] | undefined>): void => {
    for (const [k, v] of Object.entries(fields)) {
      if (v && v.length > 0) {
        l7.add(k);
        foundL7 = true;
      }
    }
  };
  const to: Match[] = [];
  for (const t of rule.to ?? []) {
    const op = t.operation ?? {};
    note({
      hosts: op.hosts,
      notHosts: op.notHosts,
      methods: op.methods,
      notMethods: op.notMethods,
      paths: op.paths,
      notPaths: op.notPaths,
    });
    to.push(
      create(MatchSchema, { destinationPorts: ports(op.ports), notDestinationPorts: ports(op.notPorts) }),
    );
  }
  const from: Match[] = [];
  for (const f of rule.from ?? []) {
    const src = f.source ?? {};
    note({
      remoteIpBlocks: src.remoteIpBlocks,
      notRemoteIpBlocks: src.notRemoteIpBlocks,
      requestPrincipals: src.requestPrincipals,
      notRequestPrincipals: src.notRequestPrincipals,
    });
    from.push(
      create(MatchSchema, {
        sourceIps: cidrs(src.ipBlocks),
        notSourceIps: cidrs(src.notIpBlocks),
        namespaces: strings(src.namespaces),
        notNamespaces: strings(src.notNamespaces),
        principals: strings(src.principals),
        notPrincipals: strings(src.notPrincipals),
      }),
    );
  }
  const clauses: Clause[] = [];
  if (to.length > 0) clauses.push(create(ClauseSchema, { matches: to }));
  if (from.length > 0) clauses.push(create(ClauseSchema, { matches: from }));
  for (const w of rule.when ?? []) {
    if (!L4_WHEN_KEYS.has(w.key)) {
      l7.add(w.key);
      foundL7 = true;
    }
    clauses.push(create(ClauseSchema, { matches: [whenMatch(w)] }));
  }
  return { clauses, l7: foundL7 };
}

function whenMatch(w: AuthzCondition): Match {
  const pick = <T>(key: string, negate: boolean, f: (v: readonly string[] | undefined) => T[]): T[] =>
    w.key === key ? f(negate ? w.notValues : w.values) : [];
  return create(MatchSchema, {
    namespaces: pick("source.namespace", false, strings),
    principals: pick("source.principal", false, strings),
    sourceIps: pick("source.ip", false, cidrs),
    destinationPorts: pick("destination.port", false, ports),
    destinationIps: pick("destination.ip", false, cidrs),
    notNamespaces: pick("source.namespace", true, strings),
    notPrincipals: pick("source.principal", true, strings),
    notSourceIps: pick("source.ip", true, cidrs),
    notDestinationPorts: pick("destination.port", true, ports),
    notDestinationIps: pick("destination.ip", true, cidrs),
  });
}

/** Istio's wildcard rule: `*` is presence, `*x` a suffix, `x*` a prefix, anything else exact. */
export function strings(values: readonly string[] | undefined): StringMatch[] {
  return (values ?? []).map((v) => {
    if (v === "*")
      return create(StringMatchSchema, { matchType: { case: "presence", value: create(EmptySchema) } });
    if (v.startsWith("*"))
      return create(StringMatchSchema, { matchType: { case: "suffix", value: v.slice(1) } });
    if (v.endsWith("*"))
      return create(StringMatchSchema, { matchType: { case: "prefix", value: v.slice(0, -1) } });
    return create(StringMatchSchema, { matchType: { case: "exact", value: v } });
  });
}

/** Unparseable entries are skipped, as istiod does (validation has already reported them). */
export function ports(values: readonly string[] | undefined): number[] {
  return (values ?? []).filter((v) => /^\d+$/.test(v) && Number(v) <= 65535).map(Number);
}

export function cidrs(values: readonly string[] | undefined): Address[] {
  const out: Address[] = [];
  for (const v of values ?? []) {
    const [ip = "", len] = v.split("/");
    const bytes = ipBytes(ip);
    if (bytes.length === 0) continue;
    const max = bytes.length * 8;
    const length = len === undefined ? max : Number(len);
    if (!Number.isInteger(length) || length < 0 || length > max) continue;
    if (bytes.length === 4 && ipToInt(ip) === undefined) continue;
    out.push(create(AddressSchema, { address: bytes, length }));
  }
  return out;
}
