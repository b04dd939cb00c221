/**
 * AuthorizationPolicy / PeerAuthentication resources → an immutable, indexed PolicySet.
 * Validation follows Istio's (istiod rejects the same inputs); every problem is reported with the
 * policy, the field path and a fix, and an invalid policy is left out of the set.
 */
import type {
  AuthorizationPolicy,
  AuthzCondition,
  AuthzOperation,
  AuthzRule,
  AuthzSource,
  MtlsMode,
  PeerAuthentication,
  PolicyTargetReference,
  ResourceBase,
} from "../api/types.js";
import { PolicyError, PolicyErrorCode } from "./errors.js";
import { type CidrBlock, parseCidr } from "./ip-match.js";
import { auditIgnoredAtZtunnel, PolicySet } from "./policy-set.js";
import { compilePathMatch, compileStringMatch, type StringMatcher } from "./string-match.js";
import {
  type Attachment,
  type Attribute,
  type Check,
  type CompiledPeerAuthentication,
  type CompiledPolicy,
  type CompiledRule,
  type CompiledTarget,
  Layer,
  type PolicyAction,
} from "./types.js";

export const DEFAULT_ROOT_NAMESPACE = "istio-system";
export const DRY_RUN_ANNOTATION = "istio.io/dry-run";
export const WAYPOINT_GATEWAY_CLASS = "istio-waypoint";

export interface PolicyCompileOptions {
  /** Istio's root namespace: policies there apply mesh-wide. Default `istio-system`. */
  rootNamespace?: string;
}

export interface PolicyWarning {
  /** `namespace/name` of the policy. */
  policy: string;
  message: string;
}

export interface CompileResult {
  set: PolicySet;
  /** Problems that made a policy unusable (it is left out of `set`). */
  errors: PolicyError[];
  /** Policies that compile but will not do everything they say where they are attached. */
  warnings: PolicyWarning[];
}

type AnyResource = ResourceBase<string, unknown>;

const MTLS_MODES: ReadonlySet<string> = new Set(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]);

/** Pure: compiles every AuthorizationPolicy and PeerAuthentication of `resources` (other kinds are skipped). */
export function compilePolicies(
  resources: readonly AnyResource[],
  options: PolicyCompileOptions = {},
): CompileResult {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const errors: PolicyError[] = [];
  const warnings: PolicyWarning[] = [];
  const policies: CompiledPolicy[] = [];
  const peerAuths: CompiledPeerAuthentication[] = [];
  for (const r of resources) {
    if (r.kind === "AuthorizationPolicy") {
      const c = new PolicyCompiler(r as AuthorizationPolicy, rootNamespace);
      const p = c.compile();
      errors.push(...c.errors);
      warnings.push(...c.warnings);
      if (p !== null && c.errors.length === 0) policies.push(p);
    } else if (r.kind === "PeerAuthentication") {
      const pa = compilePeerAuthentication(r as PeerAuthentication, rootNamespace, errors, warnings);
      if (pa !== null) peerAuths.push(pa);
    }
  }
  policies.sort((a, b) => compareKeys(a.key, b.key));
  peerAuths.sort((a, b) => compareKeys(a.key, b.key));
  return { set: new PolicySet(rootNamespace, policies, peerAuths), errors, warnings };
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyOf(r: AnyResource): string {
  return `${r.metadata.namespace ?? "default"}/${r.metadata.name}`;
}

function labelPairs(matchLabels: Record<string, string> | undefined): (readonly [string, string])[] {
  return Object.entries(matchLabels ?? {}).sort((a, b) => compareKeys(a[0], b[0]));
}

interface FieldSpec {
  attribute: Attribute;
  layer: Layer;
  kind: "string" | "host" | "path" | "cidr" | "port";
}

const SOURCE_FIELDS: Record<keyof AuthzSource, FieldSpec & { negate: boolean }> = {
  principals: { attribute: "principal", layer: Layer.L4, kind: "string", negate: false },
  notPrincipals: { attribute: "principal", layer: Layer.L4, kind: "string", negate: true },
  requestPrincipals: { attribute: "requestPrincipal", layer: Layer.HTTP, kind: "string", negate: false },
  notRequestPrincipals: { attribute: "requestPrincipal", layer: Layer.HTTP, kind: "string", negate: true },
  namespaces: { attribute: "namespace", layer: Layer.L4, kind: "string", negate: false },
  notNamespaces: { attribute: "namespace", layer: Layer.L4, kind: "string", negate: true },
  ipBlocks: { attribute: "sourceIp", layer: Layer.L4, kind: "cidr", negate: false },
  notIpBlocks: { attribute: "sourceIp", layer: Layer.L4, kind: "cidr", negate: true },
  remoteIpBlocks: { attribute: "remoteIp", layer: Layer.TCP_PROXY, kind: "cidr", negate: false },
  notRemoteIpBlocks: { attribute: "remoteIp", layer: Layer.TCP_PROXY, kind: "cidr", negate: true },
};

const OPERATION_FIELDS: Record<keyof AuthzOperation, FieldSpec & { negate: boolean }> = {
  hosts: { attribute: "host", layer: Layer.HTTP, kind: "host", negate: false },
  notHosts: { attribute: "host", layer: Layer.HTTP, kind: "host", negate: true },
  ports: { attribute: "destinationPort", layer: Layer.L4, kind: "port", negate: false },
  notPorts: { attribute: "destinationPort", layer: Layer.L4, kind: "port", negate: true },
  methods: { attribute: "method", layer: Layer.HTTP, kind: "string", negate: false },
  notMethods: { attribute: "method", layer: Layer.HTTP, kind: "string", negate: true },
  paths: { attribute: "path", layer: Layer.HTTP, kind: "path", negate: false },
  notPaths: { attribute: "path", layer: Layer.HTTP, kind: "path", negate: true },
};

/**
 * The `when` keys of istio.io/latest/docs/reference/config/security/conditions/. Those marked L4 are the
 * ones istiod translates for ztunnel (source.ip, source.namespace, source.principal, destination.ip,
 * destination.port); remote.ip and connection.sni need a proxy that terminates the connection.
 */
const CONDITION_KEYS: Record<string, FieldSpec> = {
  "source.ip": { attribute: "sourceIp", layer: Layer.L4, kind: "cidr" },
  "source.namespace": { attribute: "namespace", layer: Layer.L4, kind: "string" },
  "source.principal": { attribute: "principal", layer: Layer.L4, kind: "string" },
  "destination.ip": { attribute: "destinationIp", layer: Layer.L4, kind: "cidr" },
  "destination.port": { attribute: "destinationPort", layer: Layer.L4, kind: "port" },
  "remote.ip": { attribute: "remoteIp", layer: Layer.TCP_PROXY, kind: "cidr" },
  "connection.sni": { attribute: "sni", layer: Layer.TCP_PROXY, kind: "string" },
  "request.auth.principal": { attribute: "authPrincipal", layer: Layer.HTTP, kind: "string" },
  "request.auth.audiences": { attribute: "authAudiences", layer: Layer.HTTP, kind: "string" },
  "request.auth.presenter": { attribute: "authPresenter", layer: Layer.HTTP, kind: "string" },
};

const BRACKETED_KEY = /^(request\.headers|request\.auth\.claims)\[([^\]]+)\]$/;

class PolicyCompiler {
  readonly errors: PolicyError[] = [];
  readonly warnings: PolicyWarning[] = [];
  readonly #ap: AuthorizationPolicy;
  readonly #key: string;
  readonly #rootNamespace: string;

  constructor(ap: AuthorizationPolicy, rootNamespace: string) {
    this.#ap = ap;
    this.#key = keyOf(ap);
    this.#rootNamespace = rootNamespace;
  }

  #error(code: PolicyErrorCode, path: string, message: string): void {
    this.errors.push(
      new PolicyError(code, this.#key, path, `${this.#key} ${path}: ${message}`, this.#ap.source),
    );
  }

  compile(): CompiledPolicy | null {
    const spec = this.#ap.spec ?? {};
    const namespace = this.#ap.metadata.namespace ?? "default";
    const rawAction = spec.action ?? "ALLOW";
    if (rawAction === "CUSTOM") {
      this.#error(
        PolicyErrorCode.CUSTOM_UNSUPPORTED,
        "spec.action",
        `action CUSTOM (external authorization${spec.provider ? ` via provider ${JSON.stringify(spec.provider.name)}` : ""}) is not supported by ambit; express the rule as ALLOW/DENY, or remove the policy`,
      );
      return null;
    }
    if (rawAction !== "ALLOW" && rawAction !== "DENY" && rawAction !== "AUDIT") {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        "spec.action",
        `unknown action ${JSON.stringify(rawAction)}; expected ALLOW, DENY or AUDIT`,
      );
      return null;
    }
    const action: PolicyAction = rawAction;
    if (spec.provider !== undefined) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        "spec.provider",
        "provider may only be set with action CUSTOM",
      );
    }
    const attachment = this.#attachment(namespace);
    const rules: CompiledRule[] = [];
    (spec.rules ?? []).forEach((rule, i) => {
      const r = this.#rule(rule ?? {}, i);
      if (r !== null) rules.push(r);
    });
    if (attachment === null || this.errors.length > 0) return null;
    const dryRunValue = this.#ap.metadata.annotations?.[DRY_RUN_ANNOTATION];
    const policy: CompiledPolicy = {
      key: this.#key,
      namespace,
      name: this.#ap.metadata.name,
      action,
      dryRun: typeof dryRunValue === "string" && dryRunValue.toLowerCase() === "true",
      attachment,
      rules,
      reasons: [
        matchReasons(this.#key, action, rules, "ztunnel"),
        matchReasons(this.#key, action, rules, "the waypoint"),
      ],
      warnings: [
        ruleWarnings(this.#key, action, rules, Layer.L4),
        ruleWarnings(this.#key, action, rules, Layer.TCP_PROXY),
        ruleWarnings(this.#key, action, rules, Layer.HTTP),
      ],
    };
    // Report, at compile time, what will not be enforced where the policy is attached.
    const at = attachment.kind === "targetRefs" ? Layer.HTTP : Layer.L4;
    for (const message of policy.warnings[at]) this.warnings.push({ policy: this.#key, message });
    if (attachment.kind !== "targetRefs" && action === "AUDIT") {
      this.warnings.push({ policy: this.#key, message: auditIgnoredAtZtunnel(this.#key) });
    }
    return Object.freeze(policy);
  }

  #attachment(namespace: string): Attachment | null {
    const spec = this.#ap.spec ?? {};
    const refs: { ref: PolicyTargetReference; path: string }[] = [];
    if (spec.targetRef !== undefined && spec.targetRefs !== undefined && spec.targetRefs.length > 0) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        "spec.targetRef",
        "set either targetRef or targetRefs, not both",
      );
      return null;
    }
    if (spec.targetRef !== undefined) refs.push({ ref: spec.targetRef, path: "spec.targetRef" });
    for (const [i, ref] of (spec.targetRefs ?? []).entries())
      refs.push({ ref, path: `spec.targetRefs[${i}]` });
    if (refs.length === 0) {
      if (spec.selector === undefined) return { kind: "namespace" };
      return { kind: "selector", matchLabels: labelPairs(spec.selector.matchLabels) };
    }
    if (spec.selector !== undefined) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        "spec.selector",
        "selector and targetRef(s) are mutually exclusive: use selector for ztunnel (workload) enforcement, targetRefs for waypoint enforcement",
      );
      return null;
    }
    const targets: CompiledTarget[] = [];
    for (const { ref, path } of refs) {
      const t = this.#target(ref, path, namespace);
      if (t !== null) targets.push(t);
    }
    return { kind: "targetRefs", targets };
  }

  #target(ref: PolicyTargetReference, path: string, namespace: string): CompiledTarget | null {
    const group = ref.group === undefined || ref.group === "core" ? "" : ref.group;
    const kind = ref.kind;
    const supported =
      (kind === "Service" && group === "") ||
      (kind === "ServiceEntry" && group === "networking.istio.io") ||
      ((kind === "Gateway" || kind === "GatewayClass") && group === "gateway.networking.k8s.io");
    if (!supported) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        path,
        `unsupported target ${group === "" ? "core" : group}/${kind}; AuthorizationPolicy can target core/Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or gateway.networking.k8s.io/GatewayClass`,
      );
      return null;
    }
    if (ref.namespace !== undefined && ref.namespace !== "" && ref.namespace !== namespace) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        `${path}.namespace`,
        `cross-namespace targetRef to ${JSON.stringify(ref.namespace)} is not supported; create the policy in ${JSON.stringify(ref.namespace)}`,
      );
      return null;
    }
    if (
      kind === "GatewayClass" &&
      (ref.name !== WAYPOINT_GATEWAY_CLASS || namespace !== this.#rootNamespace)
    ) {
      this.warnings.push({
        policy: this.#key,
        message: `${this.#key} ${path}: a GatewayClass target only attaches to GatewayClass ${WAYPOINT_GATEWAY_CLASS} from the root namespace ${this.#rootNamespace}; this target never applies`,
      });
    }
    return { kind: kind as CompiledTarget["kind"], name: ref.name };
  }

  #rule(rule: AuthzRule, index: number): CompiledRule | null {
    const base = `spec.rules[${index}]`;
    let ok = true;
    let from: Check[][] | null = null;
    if (rule.from !== undefined && rule.from.length > 0) {
      from = [];
      for (const [j, f] of rule.from.entries()) {
        const checks = this.#fields(f?.source, SOURCE_FIELDS, `${base}.from[${j}].source`);
        if (checks === null) ok = false;
        else from.push(checks);
      }
    }
    let to: Check[][] | null = null;
    if (rule.to !== undefined && rule.to.length > 0) {
      to = [];
      for (const [j, t] of rule.to.entries()) {
        const checks = this.#fields(t?.operation, OPERATION_FIELDS, `${base}.to[${j}].operation`);
        if (checks === null) ok = false;
        else to.push(checks);
      }
    }
    const when: Check[] = [];
    for (const [j, c] of (rule.when ?? []).entries()) {
      const checks = this.#condition(c, `${base}.when[${j}]`);
      if (checks === null) ok = false;
      else when.push(...checks);
    }
    if (!ok) return null;
    const all = [...(from ?? []).flat(), ...(to ?? []).flat(), ...when];
    let layer: Layer = Layer.L4;
    for (const c of all) if (c.layer > layer) layer = c.layer;
    const above = (l: Layer): string[] => [...new Set(all.filter((c) => c.layer > l).map((c) => c.field))];
    return {
      index,
      from,
      to,
      when,
      layer,
      inertAtZtunnel:
        from?.every(l7Only) === true || to?.every(l7Only) === true || when.some((c) => c.layer > Layer.L4),
      hasL7OnlyEntry: (from ?? []).some(l7Only) || (to ?? []).some(l7Only),
      fieldsAbove: [above(Layer.L4), above(Layer.TCP_PROXY), above(Layer.HTTP)],
    };
  }

  #fields<K extends string>(
    obj: Partial<Record<K, string[]>> | undefined,
    table: Record<K, FieldSpec & { negate: boolean }>,
    path: string,
  ): Check[] | null {
    if (obj === undefined || obj === null) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        path,
        "must be set (an entry of from/to needs its source/operation)",
      );
      return null;
    }
    const checks: Check[] = [];
    let ok = true;
    for (const [field, values] of Object.entries(obj) as [string, unknown][]) {
      const spec = (table as Record<string, (FieldSpec & { negate: boolean }) | undefined>)[field];
      if (spec === undefined) {
        this.#error(
          PolicyErrorCode.INVALID_POLICY,
          `${path}.${field}`,
          `unknown field; expected one of ${Object.keys(table).join(", ")}`,
        );
        ok = false;
        continue;
      }
      if (!Array.isArray(values)) {
        this.#error(PolicyErrorCode.INVALID_POLICY, `${path}.${field}`, "expected a list of strings");
        ok = false;
        continue;
      }
      if (values.length === 0) continue;
      const check = this.#check(spec, spec.negate, field, values, `${path}.${field}`, "");
      if (check === null) ok = false;
      else checks.push(check);
    }
    if (!ok) return null;
    if (checks.length === 0) {
      this.#error(
        PolicyErrorCode.INVALID_POLICY,
        path,
        "must not be empty (Istio rejects an empty source/operation); remove the entry to match anything",
      );
      return null;
    }
    return checks;
  }

  #condition(c: AuthzCondition, path: string): Check[] | null {
    if (c === null || typeof c !== "object" || typeof c.key !== "string" || c.key === "") {
      this.#error(PolicyErrorCode.INVALID_POLICY, `${path}.key`, "a condition needs a key");
      return null;
    }
    let spec: FieldSpec | undefined = CONDITION_KEYS[c.key];
    let name = "";
    const bracket = BRACKETED_KEY.exec(c.key);
    if (bracket !== null) {
      name = (bracket[2] ?? "").toLowerCase();
      spec =
        bracket[1] === "request.headers"
          ? { attribute: "header", layer: Layer.HTTP, kind: "string" }
          : { attribute: "authClaim", layer: Layer.HTTP, kind: "string" };
      if (bracket[1] === "request.auth.claims") name = bracket[2] ?? "";
    } else if (c.key.startsWith("experimental.envoy.filters.")) {
      spec = { attribute: "unavailable", layer: Layer.UNAVAILABLE, kind: "string" };
    }
    if (spec === undefined) {
      this.#error(
        PolicyErrorCode.UNKNOWN_CONDITION,
        `${path}.key`,
        `unknown attribute ${JSON.stringify(c.key)}; see istio.io/latest/docs/reference/config/security/conditions/ (e.g. source.ip, source.principal, destination.port, request.headers[name])`,
      );
      return null;
    }
    const values = c.values ?? [];
    const notValues = c.notValues ?? [];
    if (values.length === 0 && notValues.length === 0) {
      this.#error(PolicyErrorCode.INVALID_POLICY, path, `condition ${c.key} needs values or notValues`);
      return null;
    }
    const out: Check[] = [];
    if (values.length > 0) {
      const k = this.#check(spec, false, c.key, values, `${path}.values`, name);
      if (k === null) return null;
      out.push(k);
    }
    if (notValues.length > 0) {
      const k = this.#check(spec, true, c.key, notValues, `${path}.notValues`, name);
      if (k === null) return null;
      out.push(k);
    }
    return out;
  }

  #check(
    spec: FieldSpec,
    negate: boolean,
    field: string,
    values: readonly unknown[],
    path: string,
    name: string,
  ): Check | null {
    const strings: StringMatcher[] = [];
    const cidrs: CidrBlock[] = [];
    const ports: number[] = [];
    for (const [i, v] of values.entries()) {
      if (typeof v !== "string") {
        this.#error(PolicyErrorCode.INVALID_POLICY, `${path}[${i}]`, `expected a string, got ${typeof v}`);
        return null;
      }
      switch (spec.kind) {
        case "string":
          strings.push(compileStringMatch(v));
          break;
        case "host":
          strings.push(compileStringMatch(v, true));
          break;
        case "path":
          strings.push(compilePathMatch(v));
          break;
        case "cidr": {
          const b = parseCidr(v);
          if (b === null) {
            this.#error(
              PolicyErrorCode.INVALID_POLICY,
              `${path}[${i}]`,
              `${JSON.stringify(v)} is not an IP address or CIDR block (e.g. 10.0.0.1, 10.0.0.0/16, 2001:db8::/32)`,
            );
            return null;
          }
          cidrs.push(b);
          break;
        }
        case "port": {
          if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
            this.#error(
              PolicyErrorCode.INVALID_POLICY,
              `${path}[${i}]`,
              `${JSON.stringify(v)} is not a port number 0-65535`,
            );
            return null;
          }
          ports.push(Number(v));
          break;
        }
      }
    }
    return Object.freeze({
      attribute: spec.attribute,
      negate,
      layer: spec.layer,
      field,
      strings,
      cidrs,
      ports,
      name,
    });
  }
}

function matchReasons(
  key: string,
  action: PolicyAction,
  rules: readonly CompiledRule[],
  where: string,
): string[] {
  const verb = action === "DENY" ? "denied" : action === "ALLOW" ? "allowed" : "audited";
  return rules.map((r) => `${verb} at ${where} by ${action} policy ${key} (rule ${r.index})`);
}

function l7Only(entry: readonly Check[]): boolean {
  return entry.every((c) => c.layer > Layer.L4);
}

const LAYER_PLACE = ["ztunnel", "a waypoint on a connection it does not parse as HTTP", "ambit"] as const;

function ruleWarnings(
  key: string,
  action: PolicyAction,
  rules: readonly CompiledRule[],
  layer: typeof Layer.L4 | typeof Layer.TCP_PROXY | typeof Layer.HTTP,
): string[] {
  const out: string[] = [];
  for (const r of rules) {
    const fields = r.fieldsAbove[layer];
    if (fields.length === 0) continue;
    const unavailable = fields.filter((f) => f.startsWith("experimental."));
    const missing = layer === Layer.HTTP ? unavailable : fields;
    if (missing.length === 0) continue;
    const place = unavailable.length === missing.length ? "ambit" : LAYER_PLACE[layer];
    const what = `rule ${r.index} of ${key} uses ${missing.join(", ")}, which ${place} cannot enforce`;
    const fix =
      layer === Layer.L4 && unavailable.length < missing.length
        ? "; attach it to a waypoint with targetRefs"
        : "";
    const them = missing.length === 1 ? "it" : "them";
    if (action === "DENY" && layer === Layer.L4 && r.inertAtZtunnel) {
      out.push(
        `${what}: without ${them} this DENY rule has nothing left to match and has no effect at ztunnel${fix}`,
      );
    } else if (action === "DENY" && layer === Layer.L4) {
      const skipped = r.hasL7OnlyEntry ? " (a source or operation made only of them is ignored)" : "";
      out.push(
        `${what}: this DENY rule is enforced on its L4 fields only${skipped}, so it may deny more than written${fix}`,
      );
    } else if (action === "DENY") {
      out.push(`${what}: this DENY rule is enforced without ${them}, so it denies more than written${fix}`);
    } else {
      out.push(
        `${what}: this ${action} rule will never match${layer === Layer.L4 ? " at ztunnel" : ""}${fix}`,
      );
    }
  }
  return out;
}

function compilePeerAuthentication(
  pa: PeerAuthentication,
  rootNamespace: string,
  errors: PolicyError[],
  warnings: PolicyWarning[],
): CompiledPeerAuthentication | null {
  const key = keyOf(pa);
  const spec = pa.spec ?? {};
  const err = (path: string, message: string): null => {
    errors.push(
      new PolicyError(PolicyErrorCode.INVALID_POLICY, key, path, `${key} ${path}: ${message}`, pa.source),
    );
    return null;
  };
  const mode = spec.mtls?.mode ?? "UNSET";
  if (!MTLS_MODES.has(mode))
    return err(
      "spec.mtls.mode",
      `unknown mode ${JSON.stringify(mode)}; expected STRICT, PERMISSIVE, DISABLE or UNSET`,
    );
  const matchLabels = spec.selector === undefined ? null : labelPairs(spec.selector.matchLabels);
  const portModes = new Map<number, MtlsMode>();
  for (const [port, m] of Object.entries(spec.portLevelMtls ?? {})) {
    const path = `spec.portLevelMtls[${port}]`;
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      return err(path, `${JSON.stringify(port)} is not a port number 1-65535`);
    const pm = m?.mode ?? "UNSET";
    if (!MTLS_MODES.has(pm)) return err(`${path}.mode`, `unknown mode ${JSON.stringify(pm)}`);
    portModes.set(Number(port), pm);
  }
  if (portModes.size > 0 && (matchLabels === null || matchLabels.length === 0)) {
    return err(
      "spec.portLevelMtls",
      "port-level mTLS needs a workload selector (Istio applies portLevelMtls only with a selector)",
    );
  }
  const namespace = pa.metadata.namespace ?? "default";
  if (namespace === rootNamespace && matchLabels !== null && matchLabels.length > 0) {
    warnings.push({
      policy: key,
      message: `${key}: a PeerAuthentication with a selector in the root namespace ${rootNamespace} is ignored in ambient mode; put it in the workload's namespace`,
    });
  }
  return Object.freeze({ key, namespace, name: pa.metadata.name, matchLabels, mode, portModes });
}
