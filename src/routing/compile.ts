/**
 * compileRoutes: VirtualServices, GAMMA HTTPRoutes (parentRefs to a Service) and ambit TrafficSplits,
 * resolved against DestinationRules and Services, into an immutable RouteTable indexed by
 * destination host. Everything a request-time decision needs is precomputed here.
 */
import { parseDurationMs } from "../api/formats.js";
import type {
  DestinationRule,
  GatewayHTTPRoute,
  HTTPHeaderFilter,
  HTTPMatchRequest,
  HTTPPathModifier,
  HTTPRouteMatch,
  Headers as IstioHeaders,
  HTTPRoute as IstioHttpRoute,
  LoadBalancerSettings,
  Percent,
  Resource,
  Service,
  StringMatch,
  TrafficSplit,
  VirtualService,
} from "../api/types.js";
import { RoutingError, RoutingErrorCode } from "./errors.js";
import type { HeaderOp } from "./header-ops.js";
import { backendLabel, hostMatches, isWildcard, resolveHost } from "./hosts.js";
import { compileRe2, re2Substitution } from "./regex.js";
import type {
  CompiledDestination,
  CompiledMatch,
  CompiledRule,
  CompileOptions,
  FaultSpec,
  HeaderChanges,
  HostRoutes,
  MirrorSpec,
  PathMatcher,
  RedirectSpec,
  RetrySpec,
  RouteTable,
  RouteWarning,
  StringMatcher,
} from "./types.js";

/** Istio's default retry policy (pilot/pkg/networking/core/route/retry): 2 retries, 503 retriable. */
export const ISTIO_DEFAULT_RETRIES: Readonly<RetrySpec> = Object.freeze({
  attempts: 2,
  retryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
  retriableStatusCodes: [503],
});

/** Istio's default load balancer since 1.14. */
export const DEFAULT_LOAD_BALANCER = "LEAST_REQUEST";

const MESH_GATEWAY = "mesh";

interface Ctx {
  errors: RoutingError[];
  warnings: RouteWarning[];
  services: Map<string, Service>;
  servicePorts: Map<string, number[]>;
  destinationRules: DestinationRule[];
  defaultRetries: RetrySpec | null;
}

function ns(r: Resource): string {
  return r.metadata.namespace ?? "default";
}

function key(r: Resource): string {
  return `${r.kind}/${ns(r)}/${r.metadata.name}`;
}

function byName(a: Resource, b: Resource): number {
  const ka = `${ns(a)}/${a.metadata.name}`;
  const kb = `${ns(b)}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

class RuleError extends Error {
  constructor(
    readonly code: RoutingErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export function compileRoutes(resources: readonly Resource[], opts: CompileOptions = {}): RouteTable {
  const ctx: Ctx = {
    errors: [],
    warnings: [],
    services: new Map(),
    servicePorts: new Map(),
    destinationRules: [],
    defaultRetries:
      opts.defaultRetries === undefined ? cloneRetry(ISTIO_DEFAULT_RETRIES) : opts.defaultRetries,
  };
  const virtualServices: VirtualService[] = [];
  const httpRoutes: GatewayHTTPRoute[] = [];
  const splits: TrafficSplit[] = [];
  for (const r of resources) {
    switch (r.kind) {
      case "Service": {
        const fqdn = resolveHost(r.metadata.name, ns(r));
        ctx.services.set(fqdn, r);
        ctx.servicePorts.set(
          fqdn,
          (r.spec?.ports ?? []).map((p) => p.port),
        );
        break;
      }
      case "DestinationRule":
        ctx.destinationRules.push(r);
        break;
      case "VirtualService":
        virtualServices.push(r);
        break;
      case "HTTPRoute":
        httpRoutes.push(r);
        break;
      case "TrafficSplit":
        splits.push(r);
        break;
      default:
        break;
    }
  }
  ctx.destinationRules.sort(byName);
  virtualServices.sort(byName);
  httpRoutes.sort(byName);
  splits.sort(byName);

  const hosts = new Map<string, HostRoutes>();
  const wildcards: { pattern: string; routes: HostRoutes }[] = [];
  const entry = (host: string): HostRoutes => {
    let e = hosts.get(host);
    if (e === undefined) {
      e = { host, virtualService: null, httpRoutes: [], trafficSplit: null };
      hosts.set(host, e);
    }
    return e;
  };

  for (const vs of virtualServices) {
    const gateways = vs.spec?.gateways ?? [];
    if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) {
      // Bound to ingress gateways only: Istio does not apply it to mesh (waypoint) traffic.
      continue;
    }
    const rules = compileVirtualService(vs, ctx);
    if (rules.length === 0) {
      // istiod builds no HTTP routes from it ("no routes matched"): the hosts keep their default route.
      continue;
    }
    for (const h of vs.spec?.hosts ?? []) {
      const host = resolveHost(h, ns(vs));
      if (isWildcard(host)) {
        const existing = wildcards.find((w) => w.pattern === host);
        if (existing !== undefined) {
          conflict(ctx, vs, host, existing.routes.virtualService?.resource ?? "");
          continue;
        }
        wildcards.push({
          pattern: host,
          routes: { host, virtualService: { resource: key(vs), rules }, httpRoutes: [], trafficSplit: null },
        });
        continue;
      }
      const e = entry(host);
      if (e.virtualService !== null) {
        conflict(ctx, vs, host, e.virtualService.resource);
        continue;
      }
      e.virtualService = { resource: key(vs), rules };
    }
  }
  // Istio picks the most specific wildcard: the longest pattern.
  wildcards.sort((a, b) => b.pattern.length - a.pattern.length);

  const gamma: { host: string; rule: CompiledRule; port?: number; namespace: string }[] = [];
  for (const hr of httpRoutes) {
    const parents = (hr.spec?.parentRefs ?? []).filter(
      (p) =>
        (p.kind ?? "Gateway") === "Service" && ["", "core"].includes(p.group ?? "gateway.networking.k8s.io"),
    );
    for (const p of hr.spec?.parentRefs ?? []) {
      if (p.kind === "Service" && p.group === undefined) {
        ctx.warnings.push({
          resource: key(hr),
          message: `parentRef to Service ${p.name} has no group: the Gateway API default group is gateway.networking.k8s.io, so it names no core Service (write group: "")`,
        });
      }
    }
    // Routes whose parents are Gateways are ingress configuration, not mesh routing.
    if (parents.length === 0) continue;
    const rules = compileHttpRoute(hr, ctx);
    for (const parent of parents) {
      const host = resolveHost(parent.name, parent.namespace ?? ns(hr));
      for (const rule of rules) {
        gamma.push({
          host,
          rule,
          ...(parent.port !== undefined ? { port: parent.port } : {}),
          namespace: ns(hr),
        });
      }
    }
  }

  for (const g of gamma) {
    entry(g.host).httpRoutes.push({
      rule: g.rule,
      ...(g.port !== undefined ? { port: g.port } : {}),
      namespace: g.namespace,
    });
  }
  for (const e of hosts.values()) {
    e.httpRoutes = stableSort(e.httpRoutes, (a, b) => comparePrecedence(a.rule, b.rule));
    if (e.virtualService !== null && e.httpRoutes.length > 0) {
      ctx.warnings.push({
        resource: e.virtualService.resource,
        message: `host ${e.host} has both a VirtualService and HTTPRoutes; Istio calls mixing them undefined behaviour — ambit uses the HTTPRoutes and ignores the VirtualService for this host`,
      });
    }
  }

  for (const ts of splits) {
    const layer = ts.spec?.layer ?? "L7";
    if (layer !== "L7") {
      ctx.warnings.push({
        resource: key(ts),
        message: "layer L4: a connection-level split applied by ztunnel, not by the L7 router",
      });
      continue;
    }
    const rules = compileTrafficSplit(ts, ctx);
    for (const host of trafficSplitHosts(ts, ctx)) {
      const e = entry(host);
      if (e.trafficSplit !== null) {
        conflict(ctx, ts, host, e.trafficSplit.resource);
        continue;
      }
      e.trafficSplit = { resource: key(ts), rules };
      if (e.virtualService !== null || e.httpRoutes.length > 0) {
        ctx.warnings.push({
          resource: key(ts),
          message: `host ${host} also has a ${e.httpRoutes.length > 0 ? "HTTPRoute" : "VirtualService"}, which takes precedence; this TrafficSplit is not used for it`,
        });
      }
    }
  }

  const defaults = new Map<string, string>();
  for (const fqdn of ctx.services.keys())
    defaults.set(fqdn, loadBalancerOf(destinationRuleFor(fqdn, ctx), undefined, undefined));
  const table: RouteTable = {
    hosts,
    wildcards: Object.freeze(wildcards),
    services: ctx.servicePorts,
    defaultLoadBalancers: defaults,
    defaultRetries: ctx.defaultRetries,
    warnings: Object.freeze(ctx.warnings),
    errors: Object.freeze(ctx.errors),
  };
  return deepFreeze(table);
}

function conflict(ctx: Ctx, r: Resource, host: string, winner: string): void {
  ctx.warnings.push({
    resource: key(r),
    message: `host ${host} is already routed by ${winner}; Istio uses one ${r.kind} per host for mesh traffic (ambit keeps the first by namespace/name)`,
  });
}

function stableSort<T>(items: T[], cmp: (a: T, b: T) => number): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => cmp(a.item, b.item) || a.i - b.i)
    .map((x) => x.item);
}

/**
 * Gateway API precedence as istiod implements it (conversion.go sortHTTPRoutes): Exact path over
 * PathPrefix over RegularExpression, then the longer path, then a method match, then more header
 * matches, then more query-parameter matches; ties keep route order (namespace/name, then rule order).
 */
function comparePrecedence(a: CompiledRule, b: CompiledRule): number {
  const ma = a.matches[0];
  const mb = b.matches[0];
  const rank = (m: CompiledMatch | undefined): number => {
    switch (m?.path?.kind) {
      case "exact":
        return 3;
      case "prefix":
      case "segmentPrefix":
        return 2;
      case "regex":
        return 1;
      default:
        return -1;
    }
  };
  const len = (m: CompiledMatch | undefined): number => m?.path?.value.length ?? 0;
  if (rank(ma) !== rank(mb)) return rank(mb) - rank(ma);
  if (len(ma) !== len(mb)) return len(mb) - len(ma);
  const method = (m: CompiledMatch | undefined): number => (m?.method !== undefined ? 1 : 0);
  if (method(ma) !== method(mb)) return method(mb) - method(ma);
  const hdr = (m: CompiledMatch | undefined): number => m?.headers.length ?? 0;
  if (hdr(ma) !== hdr(mb)) return hdr(mb) - hdr(ma);
  const qp = (m: CompiledMatch | undefined): number => m?.query.length ?? 0;
  return qp(mb) - qp(ma);
}

// ---------------------------------------------------------------- VirtualService

function compileVirtualService(vs: VirtualService, ctx: Ctx): CompiledRule[] {
  const out: CompiledRule[] = [];
  const namespace = ns(vs);
  for (const [i, rule] of (vs.spec?.http ?? []).entries()) {
    const path = `spec.http[${i}]`;
    try {
      const compiled = compileIstioRule(vs, rule, i, path, namespace, ctx, "VirtualService");
      if (compiled !== null) out.push(compiled);
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      ctx.errors.push(
        new RoutingError(e.code, key(vs), e.path, `${key(vs)} ${e.path}: ${e.message}`, vs.source),
      );
    }
  }
  return out;
}

function compileIstioRule(
  owner: Resource,
  rule: IstioHttpRoute,
  index: number,
  path: string,
  namespace: string,
  ctx: Ctx,
  origin: "VirtualService" | "TrafficSplit",
): CompiledRule | null {
  const matches: CompiledMatch[] = [];
  const declared = rule.match ?? [];
  for (const [mi, m] of declared.entries()) {
    // A match bound to named gateways only is not part of mesh routing.
    if (m.gateways !== undefined && m.gateways.length > 0 && !m.gateways.includes(MESH_GATEWAY)) continue;
    matches.push(compileIstioMatch(m, mi, `${path}.match[${mi}]`));
  }
  if (declared.length > 0 && matches.length === 0) return null;
  if (rule.delegate !== undefined) {
    ctx.warnings.push({
      resource: key(owner),
      message: `${path}.delegate: delegate VirtualServices apply to ingress gateways only; the rule is skipped`,
    });
    return null;
  }
  const headers = istioHeaders(rule.headers);
  const base = {
    origin,
    id: `${namespace}/${owner.metadata.name}#${rule.name ?? index}`,
    resource: key(owner),
    namespace,
    matches,
    headers,
    mirrors: istioMirrors(rule, namespace),
    retries: convertRetries(rule.retries, ctx.defaultRetries),
    ...(owner.source !== undefined ? { source: owner.source } : {}),
  };
  const extra: Partial<CompiledRule> = {};
  const timeout = rule.timeout === undefined ? undefined : parseDurationMs(rule.timeout);
  // 0s means "no timeout", which is also Istio's default for HTTP routes.
  if (timeout !== undefined && timeout > 0) extra.timeoutMs = timeout;
  const fault = istioFault(rule.fault);
  if (fault !== undefined) extra.fault = fault;
  if (rule.rewrite !== undefined) {
    if (rule.rewrite.uriRegexRewrite !== undefined) {
      const r = compileRe2(rule.rewrite.uriRegexRewrite.match, { anchored: false });
      if (!r.ok) {
        throw new RuleError(
          RoutingErrorCode.UNSUPPORTED_REGEX,
          `${path}.rewrite.uriRegexRewrite.match`,
          r.reason,
        );
      }
      extra.rewrite = {
        kind: "regex",
        // Envoy's regex_rewrite substitutes every non-overlapping match (RE2::GlobalReplace).
        re: new RegExp(r.re.source, `${r.re.flags}g`),
        substitution: re2Substitution(rule.rewrite.uriRegexRewrite.rewrite),
        pattern: rule.rewrite.uriRegexRewrite.match,
      };
    } else if (rule.rewrite.uri !== undefined && rule.rewrite.uri !== "") {
      extra.rewrite = { kind: "prefix", value: rule.rewrite.uri };
    }
    if (rule.rewrite.authority !== undefined && rule.rewrite.authority !== "") {
      extra.authority = rule.rewrite.authority;
    }
  }
  if (extra.authority === undefined && headers.authority !== undefined) extra.authority = headers.authority;

  if (rule.redirect !== undefined) {
    const r = rule.redirect;
    const code = r.redirectCode ?? 301;
    if (![301, 302, 303, 307, 308].includes(code)) {
      throw new RuleError(
        RoutingErrorCode.INVALID_ROUTE,
        `${path}.redirect.redirectCode`,
        `redirect code ${code} is not supported (use 301, 302, 303, 307 or 308)`,
      );
    }
    const redirect: RedirectSpec = { code, gatewayPortRules: false };
    if (r.scheme !== undefined && r.scheme !== "") redirect.scheme = r.scheme;
    if (r.authority !== undefined && r.authority !== "") redirect.authority = r.authority;
    if (r.uri !== undefined && r.uri !== "") redirect.path = { kind: "full", value: r.uri };
    if (r.port !== undefined) redirect.port = r.port;
    else if (r.derivePort !== undefined) redirect.derivePort = r.derivePort;
    return { ...base, ...extra, action: { kind: "redirect", redirect } };
  }
  if (rule.directResponse !== undefined) {
    const body = rule.directResponse.body;
    const text =
      body?.string ??
      (body?.bytes !== undefined ? Buffer.from(body.bytes, "base64").toString("utf8") : undefined);
    return {
      ...base,
      ...extra,
      action: {
        kind: "direct",
        status: rule.directResponse.status,
        ...(text !== undefined ? { body: text } : {}),
      },
    };
  }
  const routes = rule.route ?? [];
  const destinations: CompiledDestination[] = [];
  for (const [di, d] of routes.entries()) {
    // A single destination takes all traffic whatever its weight; with several, weight 0 is skipped.
    const weight = routes.length === 1 ? 100 : (d.weight ?? 0);
    if (routes.length > 1 && weight === 0) continue;
    destinations.push(
      destination(
        resolveHost(d.destination.host, namespace),
        d.destination.subset,
        d.destination.port?.number,
        weight,
        istioHeaders(d.headers),
        ctx,
        owner,
        `${path}.route[${di}]`,
      ),
    );
  }
  if (destinations.length === 0) {
    return {
      ...base,
      ...extra,
      action: { kind: "fail", status: 500, reason: "every destination has weight 0" },
    };
  }
  return { ...base, ...extra, action: { kind: "route", destinations } };
}

function compileIstioMatch(m: HTTPMatchRequest, index: number, path: string): CompiledMatch {
  const out: CompiledMatch = { index, headers: [], query: [] };
  if (m.name !== undefined) out.name = m.name;
  const ignoreUriCase = m.ignoreUriCase === true;
  if (m.uri !== undefined) {
    if (m.uri.exact !== undefined)
      out.path = { kind: "exact", value: m.uri.exact, ignoreCase: ignoreUriCase };
    else if (m.uri.prefix !== undefined)
      out.path = { kind: "prefix", value: m.uri.prefix, ignoreCase: ignoreUriCase };
    else if (m.uri.regex !== undefined) {
      const r = compileRe2(m.uri.regex, { ignoreCase: ignoreUriCase });
      if (!r.ok) throw new RuleError(RoutingErrorCode.UNSUPPORTED_REGEX, `${path}.uri.regex`, r.reason);
      out.path = { kind: "regex", value: m.uri.regex, re: r.re };
    }
  }
  if (m.method !== undefined) out.method = istioString(m.method, `${path}.method`);
  if (m.authority !== undefined) out.authority = istioString(m.authority, `${path}.authority`);
  if (m.scheme !== undefined) out.scheme = istioString(m.scheme, `${path}.scheme`);
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    out.headers.push({
      name: name.toLowerCase(),
      matcher: istioString(sm, `${path}.headers.${name}`),
      invert: false,
    });
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    out.headers.push({
      name: name.toLowerCase(),
      matcher: istioString(sm, `${path}.withoutHeaders.${name}`),
      invert: true,
    });
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    out.query.push({ name, matcher: istioString(sm, `${path}.queryParams.${name}`) });
  }
  if (m.port !== undefined) out.port = m.port;
  if (m.sourceNamespace !== undefined) out.sourceNamespace = m.sourceNamespace;
  if (m.sourceLabels !== undefined && Object.keys(m.sourceLabels).length > 0)
    out.sourceLabels = m.sourceLabels;
  return out;
}

/** An empty StringMatch, or `regex: "*"`, is a presence match (istiod canBeConvertedToPresentMatch). */
function istioString(sm: StringMatch, path: string): StringMatcher {
  if (sm.exact !== undefined) return { kind: "exact", value: sm.exact, ignoreCase: false };
  if (sm.prefix !== undefined) return { kind: "prefix", value: sm.prefix, ignoreCase: false };
  if (sm.regex !== undefined && sm.regex !== "*") {
    const r = compileRe2(sm.regex);
    if (!r.ok) throw new RuleError(RoutingErrorCode.UNSUPPORTED_REGEX, `${path}.regex`, r.reason);
    return { kind: "regex", value: sm.regex, re: r.re };
  }
  return { kind: "present" };
}

function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === "host" || n === ":authority";
}

/** istiod TranslateHeadersOperations: set before add, each sorted by name; Host/:authority → authority rewrite. */
function istioHeaders(h: IstioHeaders | undefined): HeaderChanges {
  const request: HeaderOp[] = [];
  const response: HeaderOp[] = [];
  let setAuthority: string | undefined;
  let addAuthority: string | undefined;
  const sorted = (m: Record<string, string> | undefined): [string, string][] =>
    Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of h?.request?.remove ?? []) if (!isInternal(name)) request.push({ op: "remove", name });
  for (const [name, value] of sorted(h?.request?.set)) {
    if (isAuthorityHeader(name)) setAuthority = value;
    if (!isInternal(name)) request.push({ op: "set", name, value });
  }
  for (const [name, value] of sorted(h?.request?.add)) {
    if (isAuthorityHeader(name)) addAuthority = value;
    if (!isInternal(name)) request.push({ op: "add", name, value });
  }
  for (const name of h?.response?.remove ?? []) if (!isInternal(name)) response.push({ op: "remove", name });
  for (const [name, value] of sorted(h?.response?.set))
    if (!isInternal(name)) response.push({ op: "set", name, value });
  for (const [name, value] of sorted(h?.response?.add))
    if (!isInternal(name)) response.push({ op: "add", name, value });
  const authority = setAuthority ?? addAuthority;
  return { request, response, ...(authority !== undefined ? { authority } : {}) };
}

function isInternal(name: string): boolean {
  return name.startsWith(":") || name.toLowerCase() === "host";
}

function percentOf(p: Percent | undefined, legacy: number | undefined): number | undefined {
  if (p !== undefined) return p.value ?? 0;
  return legacy;
}

/**
 * Istio's TranslateFault: a delay without a percentage (or the deprecated integer `percent`) is injected
 * for 0 % of requests, and an abort without a percentage likewise never fires.
 */
function istioFault(f: IstioHttpRoute["fault"]): FaultSpec | undefined {
  if (f === undefined) return undefined;
  const out: FaultSpec = {};
  if (f.delay?.fixedDelay !== undefined) {
    const ms = parseDurationMs(f.delay.fixedDelay) ?? 0;
    out.delay = { ms, percent: percentOf(f.delay.percentage, f.delay.percent) ?? 0 };
  }
  if (f.abort?.httpStatus !== undefined) {
    out.abort = { status: f.abort.httpStatus, percent: percentOf(f.abort.percentage, undefined) ?? 0 };
  }
  return out.delay === undefined && out.abort === undefined ? undefined : out;
}

/** `mirror` + `mirrorPercentage` (default 100 %) or `mirrors[]`; an explicit 0 % mirrors nothing. */
function istioMirrors(rule: IstioHttpRoute, namespace: string): MirrorSpec[] {
  const out: MirrorSpec[] = [];
  const add = (d: { host: string; subset?: string; port?: { number?: number } }, percent: number): void => {
    if (percent <= 0) return;
    const host = resolveHost(d.host, namespace);
    const m: MirrorSpec = { host, backend: backendLabel(host, d.subset), percent };
    if (d.subset !== undefined) m.subset = d.subset;
    if (d.port?.number !== undefined) m.port = d.port.number;
    out.push(m);
  };
  if (rule.mirror !== undefined)
    add(rule.mirror, percentOf(rule.mirrorPercentage, rule.mirrorPercent) ?? 100);
  for (const m of rule.mirrors ?? [])
    add(m.destination, m.percentage === undefined ? 100 : (m.percentage.value ?? 0));
  return out;
}

function cloneRetry(r: Readonly<RetrySpec>): RetrySpec {
  return { ...r, retryOn: [...r.retryOn], retriableStatusCodes: [...r.retriableStatusCodes] };
}

/** istiod retry.ConvertPolicy: unset → default; attempts 0 → none; numbers in retryOn are status codes. */
function convertRetries(r: IstioHttpRoute["retries"], dflt: RetrySpec | null): RetrySpec | null {
  if (r === undefined) return dflt === null ? null : cloneRetry(dflt);
  if ((r.attempts ?? 0) <= 0) return null;
  const base = cloneRetry(dflt ?? ISTIO_DEFAULT_RETRIES);
  base.attempts = r.attempts ?? 0;
  if (r.retryOn !== undefined && r.retryOn.trim() !== "") {
    const on: string[] = [];
    const codes: number[] = [];
    for (const part of r.retryOn.split(",").map((s) => s.trim())) {
      if (part === "") continue;
      if (/^\d{3}$/.test(part) && Number(part) >= 100 && Number(part) <= 599) codes.push(Number(part));
      else on.push(part);
    }
    if (codes.length > 0 && !on.includes("retriable-status-codes")) on.push("retriable-status-codes");
    base.retryOn = on;
    base.retriableStatusCodes = codes;
  }
  if (r.perTryTimeout !== undefined) {
    const ms = parseDurationMs(r.perTryTimeout);
    if (ms !== undefined) base.perTryTimeoutMs = ms;
  }
  return base;
}

// ---------------------------------------------------------------- destinations and DestinationRules

function destination(
  host: string,
  subset: string | undefined,
  port: number | undefined,
  weight: number,
  headers: HeaderChanges,
  ctx: Ctx,
  owner: Resource,
  path: string,
): CompiledDestination {
  const dr = destinationRuleFor(host, ctx);
  const out: CompiledDestination = {
    host,
    weight,
    backend: backendLabel(host, subset),
    headers,
    loadBalancer: loadBalancerOf(dr, subset, port),
  };
  if (subset !== undefined && subset !== "") out.subset = subset;
  if (port !== undefined) out.port = port;
  if (out.subset !== undefined) {
    const known = dr?.spec?.subsets?.some((s) => s.name === out.subset) === true;
    if (!known) {
      const where = dr === undefined ? "no DestinationRule exists for this host" : `not in ${key(dr)}`;
      // Istio still routes to the subset's cluster, which does not exist: Envoy answers 503 (flag NC).
      out.unavailable = { status: 503, reason: `subset ${out.subset} of ${host} is not defined (${where})` };
      ctx.warnings.push({
        resource: key(owner),
        message: `${path}: subset ${JSON.stringify(out.subset)} of ${host} is not defined (${where}); requests routed to it get 503`,
      });
    }
  }
  return out;
}

/** The DestinationRule for a host: an exact host wins over wildcards; the host's own namespace first. */
function destinationRuleFor(host: string, ctx: Ctx): DestinationRule | undefined {
  const hostNs = host.split(".")[1];
  let best: DestinationRule | undefined;
  let bestScore = -1;
  for (const dr of ctx.destinationRules) {
    const pattern = resolveHost(dr.spec?.host ?? "", ns(dr));
    if (!hostMatches(pattern, host)) continue;
    const score = (isWildcard(pattern) ? 0 : 1_000_000) + pattern.length * 2 + (ns(dr) === hostNs ? 1 : 0);
    if (score > bestScore) {
      best = dr;
      bestScore = score;
    }
  }
  return best;
}

function lbName(lb: LoadBalancerSettings | undefined): string | undefined {
  if (lb === undefined) return undefined;
  if (lb.consistentHash !== undefined) return "CONSISTENT_HASH";
  if (lb.simple === undefined || lb.simple === "UNSPECIFIED") return undefined;
  // LEAST_CONN is Istio's deprecated spelling of LEAST_REQUEST.
  return lb.simple === "LEAST_CONN" ? "LEAST_REQUEST" : lb.simple;
}

function loadBalancerOf(
  dr: DestinationRule | undefined,
  subset: string | undefined,
  port: number | undefined,
): string {
  const spec = dr?.spec;
  if (spec === undefined) return DEFAULT_LOAD_BALANCER;
  const s = subset === undefined ? undefined : spec.subsets?.find((x) => x.name === subset);
  const portLb = (pls: { port?: { number?: number }; loadBalancer?: LoadBalancerSettings }[] | undefined) =>
    port === undefined ? undefined : lbName(pls?.find((p) => p.port?.number === port)?.loadBalancer);
  return (
    portLb(s?.trafficPolicy?.portLevelSettings) ??
    lbName(s?.trafficPolicy?.loadBalancer) ??
    portLb(spec.trafficPolicy?.portLevelSettings) ??
    lbName(spec.trafficPolicy?.loadBalancer) ??
    DEFAULT_LOAD_BALANCER
  );
}

// ---------------------------------------------------------------- Gateway API HTTPRoute (GAMMA)

function compileHttpRoute(hr: GatewayHTTPRoute, ctx: Ctx): CompiledRule[] {
  const out: CompiledRule[] = [];
  const namespace = ns(hr);
  for (const [ri, rule] of (hr.spec?.rules ?? []).entries()) {
    const declared: (HTTPRouteMatch | undefined)[] = rule.matches?.length ? rule.matches : [undefined];
    for (const [mi, m] of declared.entries()) {
      const path = `spec.rules[${ri}]`;
      try {
        out.push(compileGatewayRule(hr, rule, ri, m, mi, namespace, ctx));
      } catch (e) {
        if (!(e instanceof RuleError)) throw e;
        ctx.errors.push(
          new RoutingError(
            e.code,
            key(hr),
            e.path || path,
            `${key(hr)} ${e.path || path}: ${e.message}`,
            hr.source,
          ),
        );
      }
    }
  }
  return out;
}

function compileGatewayMatch(m: HTTPRouteMatch | undefined, index: number, path: string): CompiledMatch {
  const out: CompiledMatch = { index, headers: [], query: [] };
  const type = m?.path?.type ?? "PathPrefix";
  const value = m?.path?.value ?? "/";
  out.path = gatewayPath(type, value, `${path}.path`);
  if (m?.method !== undefined) out.method = { kind: "exact", value: m.method, ignoreCase: false };
  const seen = new Set<string>();
  for (const [hi, h] of (m?.headers ?? []).entries()) {
    const name = h.name.toLowerCase();
    // "If multiple entries specify equivalent header names, only the first entry … MUST be considered."
    if (seen.has(name)) continue;
    seen.add(name);
    out.headers.push({
      name,
      matcher: gatewayValue(h.type, h.value, `${path}.headers[${hi}]`),
      invert: false,
    });
  }
  const seenQ = new Set<string>();
  for (const [qi, q] of (m?.queryParams ?? []).entries()) {
    if (seenQ.has(q.name)) continue;
    seenQ.add(q.name);
    out.query.push({ name: q.name, matcher: gatewayValue(q.type, q.value, `${path}.queryParams[${qi}]`) });
  }
  return out;
}

function gatewayPath(type: string, value: string, path: string): PathMatcher {
  switch (type) {
    case "Exact":
      return { kind: "exact", value, ignoreCase: false };
    case "RegularExpression": {
      const r = compileRe2(value);
      if (!r.ok) throw new RuleError(RoutingErrorCode.UNSUPPORTED_REGEX, `${path}.value`, r.reason);
      return { kind: "regex", value, re: r.re };
    }
    default: {
      // "A trailing / is ignored": /foo/ and /foo are the same element-wise prefix.
      const v = value !== "/" && value.endsWith("/") ? value.replace(/\/+$/, "") || "/" : value;
      return { kind: "segmentPrefix", value: v, ignoreCase: false };
    }
  }
}

function gatewayValue(type: string | undefined, value: string, path: string): StringMatcher {
  if (type === "RegularExpression") {
    const r = compileRe2(value);
    if (!r.ok) throw new RuleError(RoutingErrorCode.UNSUPPORTED_REGEX, `${path}.value`, r.reason);
    return { kind: "regex", value, re: r.re };
  }
  return { kind: "exact", value, ignoreCase: false };
}

function headerFilter(f: HTTPHeaderFilter | undefined, into: HeaderOp[]): string | undefined {
  let authority: string | undefined;
  for (const name of f?.remove ?? []) into.push({ op: "remove", name });
  for (const s of f?.set ?? []) {
    if (isAuthorityHeader(s.name)) authority = s.value;
    else into.push({ op: "set", name: s.name, value: s.value });
  }
  for (const a of f?.add ?? []) {
    if (isAuthorityHeader(a.name)) authority ??= a.value;
    else into.push({ op: "add", name: a.name, value: a.value });
  }
  return authority;
}

function compileGatewayRule(
  hr: GatewayHTTPRoute,
  rule: NonNullable<NonNullable<GatewayHTTPRoute["spec"]>["rules"]>[number],
  ri: number,
  m: HTTPRouteMatch | undefined,
  mi: number,
  namespace: string,
  ctx: Ctx,
): CompiledRule {
  const path = `spec.rules[${ri}]`;
  const match = compileGatewayMatch(m, mi, `${path}.matches[${mi}]`);
  const headers: HeaderChanges = { request: [], response: [] };
  let rewrite: CompiledRule["rewrite"];
  let authority: string | undefined;
  let redirect: RedirectSpec | undefined;
  const mirrors: MirrorSpec[] = [];
  for (const [fi, f] of (rule.filters ?? []).entries()) {
    const fpath = `${path}.filters[${fi}]`;
    switch (f.type) {
      case "RequestHeaderModifier": {
        const a = headerFilter(f.requestHeaderModifier, headers.request);
        if (a !== undefined) authority = a;
        break;
      }
      case "ResponseHeaderModifier":
        headerFilter(f.responseHeaderModifier, headers.response);
        break;
      case "URLRewrite":
        if (f.urlRewrite?.hostname !== undefined) authority = f.urlRewrite.hostname;
        if (f.urlRewrite?.path !== undefined)
          rewrite = gatewayRewrite(f.urlRewrite.path, match, `${fpath}.urlRewrite.path`);
        break;
      case "RequestRedirect": {
        const r = f.requestRedirect ?? {};
        redirect = { code: r.statusCode ?? 302, gatewayPortRules: true };
        if (r.scheme !== undefined) redirect.scheme = r.scheme;
        if (r.hostname !== undefined) redirect.authority = r.hostname;
        if (r.port !== undefined) redirect.port = r.port;
        if (r.path !== undefined) {
          const p = gatewayRewrite(r.path, match, `${fpath}.requestRedirect.path`);
          redirect.path =
            p.kind === "fullPath"
              ? { kind: "full", value: p.value }
              : { kind: "replacePrefixMatch", value: p.kind === "replacePrefixMatch" ? p.value : "" };
        }
        break;
      }
      case "RequestMirror": {
        const rm = f.requestMirror;
        if (rm === undefined) break;
        const host = resolveHost(rm.backendRef.name, rm.backendRef.namespace ?? namespace);
        let percent = 100;
        if (rm.percent !== undefined) percent = rm.percent;
        else if (rm.fraction !== undefined)
          percent = (rm.fraction.numerator / (rm.fraction.denominator ?? 100)) * 100;
        if (percent > 0) {
          mirrors.push({
            host,
            backend: backendLabel(host),
            percent,
            ...(rm.backendRef.port !== undefined ? { port: rm.backendRef.port } : {}),
          });
        }
        break;
      }
      default:
        ctx.warnings.push({
          resource: key(hr),
          message: `${fpath}: filter type ${f.type} is not supported by ambit; ignored`,
        });
    }
  }
  if (redirect !== undefined && rewrite !== undefined) {
    throw new RuleError(
      RoutingErrorCode.INVALID_ROUTE,
      `${path}.filters`,
      "RequestRedirect and URLRewrite cannot be used together",
    );
  }
  const retries = gatewayRetries(rule, ctx);
  const base: Omit<CompiledRule, "action"> = {
    origin: "HTTPRoute",
    id: `${namespace}/${hr.metadata.name}#${rule.name ?? ri}`,
    resource: key(hr),
    namespace,
    matches: [match],
    headers,
    mirrors,
    retries,
    ...(hr.source !== undefined ? { source: hr.source } : {}),
  };
  if (rewrite !== undefined) base.rewrite = rewrite;
  if (authority !== undefined) base.authority = authority;
  const timeout = rule.timeouts?.request === undefined ? undefined : parseDurationMs(rule.timeouts.request);
  if (timeout !== undefined && timeout > 0) base.timeoutMs = timeout;
  if (redirect !== undefined) return { ...base, action: { kind: "redirect", redirect } };

  const destinations: CompiledDestination[] = [];
  for (const [bi, b] of (rule.backendRefs ?? []).entries()) {
    const weight = b.weight ?? 1;
    if (weight === 0) continue;
    const bh: HeaderChanges = { request: [], response: [] };
    for (const f of b.filters ?? []) {
      if (f.type === "RequestHeaderModifier") {
        const a = headerFilter(f.requestHeaderModifier, bh.request);
        if (a !== undefined) bh.authority = a;
      } else if (f.type === "ResponseHeaderModifier") headerFilter(f.responseHeaderModifier, bh.response);
    }
    const host = resolveHost(b.name, b.namespace ?? namespace);
    const d = destination(host, undefined, b.port, weight, bh, ctx, hr, `${path}.backendRefs[${bi}]`);
    const kind = b.kind ?? "Service";
    const group = b.group ?? "";
    if (kind !== "Service" || (group !== "" && group !== "core")) {
      d.unavailable = {
        status: 500,
        reason: `backendRef kind ${group === "" ? "" : `${group}/`}${kind} is not supported`,
      };
    } else if (!ctx.services.has(host) && hasServicesIn(ctx, host)) {
      // The Gateway API requires 500 for the share of requests sent to an invalid backend.
      d.unavailable = {
        status: 500,
        reason: `backendRef ${b.name} names no Service in ${host.split(".")[1]}`,
      };
    }
    destinations.push(d);
  }
  if (destinations.length === 0) {
    return {
      ...base,
      action: { kind: "fail", status: 500, reason: "the rule has no backendRef with a non-zero weight" },
    };
  }
  return { ...base, action: { kind: "route", destinations } };
}

function hasServicesIn(ctx: Ctx, host: string): boolean {
  const n = host.split(".")[1];
  for (const h of ctx.services.keys()) if (h.split(".")[1] === n) return true;
  return false;
}

function gatewayRewrite(
  p: HTTPPathModifier,
  match: CompiledMatch,
  path: string,
): NonNullable<CompiledRule["rewrite"]> {
  if (p.type === "ReplaceFullPath") return { kind: "fullPath", value: p.replaceFullPath ?? "/" };
  if (match.path?.kind !== "segmentPrefix") {
    throw new RuleError(
      RoutingErrorCode.INVALID_ROUTE,
      path,
      "ReplacePrefixMatch is only compatible with a PathPrefix match (Gateway API HTTPPathModifier)",
    );
  }
  return { kind: "replacePrefixMatch", value: p.replacePrefixMatch ?? "" };
}

/** Gateway API retry → Istio's conversion: default attempts 2, `codes` become retriable status codes. */
function gatewayRetries(
  rule: NonNullable<NonNullable<GatewayHTTPRoute["spec"]>["rules"]>[number],
  ctx: Ctx,
): RetrySpec | null {
  let out: RetrySpec | null = ctx.defaultRetries === null ? null : cloneRetry(ctx.defaultRetries);
  const r = rule.retry;
  if (r !== undefined) {
    if (r.attempts === 0) return null;
    out = cloneRetry(ISTIO_DEFAULT_RETRIES);
    out.attempts = r.attempts ?? 2;
    if (r.codes !== undefined && r.codes.length > 0) out.retriableStatusCodes = [...r.codes];
  }
  const backend =
    rule.timeouts?.backendRequest === undefined ? undefined : parseDurationMs(rule.timeouts.backendRequest);
  if (out !== null && backend !== undefined && backend > 0) out.perTryTimeoutMs = backend;
  return out;
}

// ---------------------------------------------------------------- TrafficSplit (ambit extension)

/** The Services a TrafficSplit routes: those of its namespace whose selector agrees with its workloadSelector. */
function trafficSplitHosts(ts: TrafficSplit, ctx: Ctx): string[] {
  const labels = ts.spec?.workloadSelector?.labels ?? {};
  const out = new Set<string>();
  for (const [fqdn, svc] of ctx.services) {
    if (ns(svc) !== ns(ts)) continue;
    const sel = svc.spec?.selector;
    if (sel === undefined || Object.keys(sel).length === 0 || Object.keys(labels).length === 0) continue;
    const subset = (a: Record<string, string>, b: Record<string, string>): boolean =>
      Object.entries(a).every(([k, v]) => b[k] === v);
    if (subset(sel, labels) || subset(labels, sel)) out.add(fqdn);
  }
  if (out.size === 0) {
    for (const rule of ts.spec?.rules ?? []) {
      for (const d of rule.route) out.add(resolveHost(d.destination.host, ns(ts)));
    }
  }
  return [...out].sort();
}

function compileTrafficSplit(ts: TrafficSplit, ctx: Ctx): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const [i, rule] of (ts.spec?.rules ?? []).entries()) {
    const path = `spec.rules[${i}]`;
    try {
      const asIstio: IstioHttpRoute = {
        route: rule.route.map((d) => ({
          destination: d.destination,
          ...(d.weight !== undefined ? { weight: d.weight } : {}),
        })),
        ...(rule.match !== undefined ? { match: rule.match } : {}),
      };
      const c = compileIstioRule(ts, asIstio, i, path, ns(ts), ctx, "TrafficSplit");
      if (c !== null) out.push(c);
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      ctx.errors.push(
        new RoutingError(e.code, key(ts), e.path, `${key(ts)} ${e.path}: ${e.message}`, ts.source),
      );
    }
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o === null || typeof o !== "object" || Object.isFrozen(o) || o instanceof RegExp) return o;
  if (o instanceof Map) {
    for (const v of o.values()) deepFreeze(v);
    // A frozen Map can still be mutated through set(); the table's type only exposes ReadonlyMap.
    return o;
  }
  Object.freeze(o);
  for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  return o;
}
