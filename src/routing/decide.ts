/**
 * route(): the decision for one request over a compiled RouteTable. Pure: the only input besides the
 * table and the request is `rand`, which draws weighted backends, fault and mirror percentages.
 */

import { DEFAULT_LOAD_BALANCER } from "./compile.js";
import { applyHeaderOps, type HeaderOp, normaliseHeaders, orderOps } from "./header-ops.js";
import { backendLabel, CLUSTER_DOMAIN, hostMatches, serviceOfHost } from "./hosts.js";
import { evaluateMatch, type MatchInput, parseQuery, splitPath } from "./match.js";
import { redirectLocation, rewritePath } from "./rewrite.js";
import type {
  CompiledDestination,
  CompiledRule,
  HostRoutes,
  RouteDecision,
  RouteRequest,
  RouteTable,
} from "./types.js";
import { chance, type Rand, weightedIndex } from "./weighted.js";

/** Finds the routes of a request's host: exact FQDN (expanding Kubernetes short names), else the most specific wildcard. */
export function lookupHost(
  table: RouteTable,
  request: RouteRequest,
): { fqdn: string; routes: HostRoutes | null } {
  const raw = request.host.toLowerCase().replace(/\.$/, "");
  const host = raw.includes(":") && !raw.startsWith("[") ? raw.slice(0, raw.lastIndexOf(":")) : raw;
  const candidates = host.includes(".")
    ? [host, `${host}.${CLUSTER_DOMAIN}`, `${host}.cluster.local`]
    : [`${host}.${request.client.namespace}.${CLUSTER_DOMAIN}`];
  for (const c of candidates) {
    const r = table.hosts.get(c);
    if (r !== undefined) return { fqdn: c, routes: r };
  }
  for (const c of candidates) if (table.services.has(c)) return { fqdn: c, routes: wildcardFor(table, c) };
  const fqdn = candidates[0] ?? host;
  return { fqdn, routes: wildcardFor(table, fqdn) };
}

function wildcardFor(table: RouteTable, host: string): HostRoutes | null {
  for (const w of table.wildcards) if (hostMatches(w.pattern, host)) return w.routes;
  return null;
}

/** The rules that apply to this client and port, and which kind of resource they come from. */
function rulesFor(
  routes: HostRoutes,
  fqdn: string,
  request: RouteRequest,
): { rules: CompiledRule[]; origin: "HTTPRoute" | "VirtualService" } | null {
  const serviceNs = serviceOfHost(fqdn)?.namespace;
  const onPort = routes.httpRoutes.filter((r) => r.port === undefined || r.port === request.port);
  // GAMMA: routes in the client's namespace (consumer routes) replace the service owner's (producer routes).
  const consumer = onPort.filter(
    (r) => r.namespace === request.client.namespace && r.namespace !== serviceNs,
  );
  const chosen = consumer.length > 0 ? consumer : onPort.filter((r) => r.namespace === serviceNs);
  if (chosen.length > 0) return { rules: chosen.map((r) => r.rule), origin: "HTTPRoute" };
  if (routes.virtualService !== null) return { rules: routes.virtualService.rules, origin: "VirtualService" };
  return null;
}

export function route(table: RouteTable, request: RouteRequest, rand: Rand = Math.random): RouteDecision {
  const headers = normaliseHeaders(request.headers);
  const { pathOnly, query } = splitPath(request.path);
  const authority = headers["host"] ?? headers[":authority"] ?? `${request.host}`;
  const input: MatchInput = {
    request,
    headers,
    pathOnly,
    query: parseQuery(query),
    authority,
    scheme: (request.scheme ?? "http").toLowerCase(),
  };
  const { fqdn, routes } = lookupHost(table, request);

  const found = routes === null ? null : rulesFor(routes, fqdn, request);
  let rules = found?.rules ?? null;
  let fallbackToDefault = false;
  if (rules === null && routes?.trafficSplit) {
    rules = routes.trafficSplit.rules;
    // A TrafficSplit only adds weights; requests none of its rules match go to the service as usual.
    fallbackToDefault = true;
  }
  if (rules === null)
    return defaultDecision(
      table,
      fqdn,
      request,
      headers,
      "no VirtualService, HTTPRoute or TrafficSplit for this host: the default route to the service",
    );

  for (const rule of rules) {
    let matched: { prefixLength: number; prefix: string | undefined } | null = null;
    if (rule.matches.length === 0) {
      if (pathOnly.startsWith("/")) matched = { prefixLength: 1, prefix: "/" };
    } else {
      for (const m of rule.matches) {
        const r = evaluateMatch(m, input);
        if (r !== null) {
          matched = {
            prefixLength: r.prefixLength,
            prefix: m.path?.kind === "segmentPrefix" ? m.path.value : undefined,
          };
          break;
        }
      }
    }
    if (matched !== null) return decideRule(rule, request, headers, authority, matched, rand);
  }
  if (fallbackToDefault) {
    return defaultDecision(
      table,
      fqdn,
      request,
      headers,
      "no TrafficSplit rule matched: the default route to the service",
    );
  }
  return {
    ...empty(request, headers),
    status: 404,
    origin: found?.origin ?? null,
    reason: "no route matched (Envoy: route not found, response flag NR)",
  };
}

function empty(request: RouteRequest, headers: Record<string, string>): RouteDecision {
  return {
    status: 0,
    route: null,
    backend: null,
    destination: null,
    upstream: { path: request.path, headers },
    redirect: null,
    responseHeaders: [],
    mirrors: [],
    loadBalancer: null,
    origin: null,
    reason: "",
  };
}

function defaultDecision(
  table: RouteTable,
  fqdn: string,
  request: RouteRequest,
  headers: Record<string, string>,
  reason: string,
): RouteDecision {
  const d: RouteDecision = {
    ...empty(request, headers),
    status: 200,
    backend: backendLabel(fqdn),
    destination: { host: fqdn, port: request.port },
    loadBalancer: table.defaultLoadBalancers.get(fqdn) ?? DEFAULT_LOAD_BALANCER,
    origin: "default",
    reason,
  };
  if (table.defaultRetries !== null) d.retries = table.defaultRetries;
  return d;
}

function decideRule(
  rule: CompiledRule,
  request: RouteRequest,
  headers: Record<string, string>,
  authorityHeader: string,
  matched: { prefixLength: number; prefix: string | undefined },
  rand: Rand,
): RouteDecision {
  const base: RouteDecision = { ...empty(request, headers), route: rule.id, origin: rule.origin };
  const action = rule.action;
  if (action.kind === "redirect") {
    const redirect = redirectLocation(action.redirect, request, authorityHeader, matched.prefix);
    return {
      ...base,
      status: redirect.status,
      redirect,
      responseHeaders: orderOps(rule.headers.response),
      reason: `redirect to ${redirect.location}`,
    };
  }
  if (action.kind === "direct") {
    return {
      ...base,
      status: action.status,
      directResponse: { status: action.status, ...(action.body !== undefined ? { body: action.body } : {}) },
      responseHeaders: orderOps(rule.headers.response),
      reason: `direct response ${action.status}`,
    };
  }
  if (action.kind === "fail") return { ...base, status: action.status, reason: action.reason };

  const dests = action.destinations;
  let chosen: CompiledDestination | undefined;
  if (dests.length === 1) chosen = dests[0];
  else
    chosen =
      dests[
        weightedIndex(
          dests.map((d) => d.weight),
          rand,
        )
      ];
  if (chosen === undefined) return { ...base, status: 500, reason: "no destination with a positive weight" };

  // Envoy: a single destination's header changes join the route's (one list, route first); a weighted
  // cluster's are applied before the route's, so the route's `set` wins there.
  let responseOps: HeaderOp[];
  let upstreamHeaders = headers;
  if (dests.length === 1) {
    upstreamHeaders = applyHeaderOps(headers, orderOps([...rule.headers.request, ...chosen.headers.request]));
    responseOps = orderOps([...rule.headers.response, ...chosen.headers.response]);
  } else {
    responseOps = [...orderOps(chosen.headers.response), ...orderOps(rule.headers.response)];
    upstreamHeaders = applyHeaderOps(headers, orderOps(chosen.headers.request));
    upstreamHeaders = applyHeaderOps(upstreamHeaders, orderOps(rule.headers.request));
  }
  const authority = rule.authority ?? chosen.headers.authority;
  if (authority !== undefined) upstreamHeaders = { ...upstreamHeaders, host: authority };

  const destination = {
    host: chosen.host,
    ...(chosen.subset !== undefined ? { subset: chosen.subset } : {}),
    ...(chosen.port !== undefined ? { port: chosen.port } : {}),
  };
  const decision: RouteDecision = {
    ...base,
    status: 200,
    backend: chosen.backend,
    destination,
    upstream: {
      path: rewritePath(rule.rewrite, request.path, matched.prefixLength, matched.prefix),
      headers: upstreamHeaders,
      ...(authority !== undefined ? { authority } : {}),
    },
    responseHeaders: responseOps,
    loadBalancer: chosen.loadBalancer,
    reason:
      dests.length === 1
        ? `route to ${chosen.backend}`
        : `weighted route: ${chosen.backend} (weight ${chosen.weight} of ${dests.reduce((s, d) => s + d.weight, 0)})`,
  };
  if (rule.timeoutMs !== undefined) decision.timeoutMs = rule.timeoutMs;
  if (rule.retries !== null) decision.retries = rule.retries;
  if (rule.fault !== undefined) {
    decision.fault = rule.fault;
    const injected: { delayMs?: number; abortStatus?: number } = {};
    if (rule.fault.delay !== undefined && chance(rule.fault.delay.percent, rand))
      injected.delayMs = rule.fault.delay.ms;
    if (rule.fault.abort !== undefined && chance(rule.fault.abort.percent, rand)) {
      injected.abortStatus = rule.fault.abort.status;
      decision.status = rule.fault.abort.status;
      decision.reason = `fault injection: abort with ${rule.fault.abort.status}`;
    }
    if (injected.delayMs !== undefined || injected.abortStatus !== undefined)
      decision.faultInjected = injected;
  }
  decision.mirrors = rule.mirrors.filter((m) => chance(m.percent, rand));
  if (chosen.unavailable !== undefined && decision.faultInjected?.abortStatus === undefined) {
    decision.status = chosen.unavailable.status;
    decision.reason = chosen.unavailable.reason;
  }
  return decision;
}
