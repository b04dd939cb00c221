/**
 * The routing engine's data: the request it is asked about, the compiled table it decides from, and
 * the decision the waypoint executes.
 */
import type { SourcePosition } from "../api/types.js";
import type { HeaderOp } from "./header-ops.js";

export interface RouteRequest {
  client: { namespace: string; labels?: Record<string, string> };
  /** The destination service host (FQDN or a name relative to the client's namespace). */
  host: string;
  port: number;
  method: string;
  /** Path with query string, e.g. `/a?b=c`. */
  path: string;
  headers: Record<string, string>;
  /** `http` unless said otherwise. */
  scheme?: string;
}

export type StringMatcher =
  | { kind: "exact"; value: string; ignoreCase: boolean }
  | { kind: "prefix"; value: string; ignoreCase: boolean }
  | { kind: "regex"; value: string; re: RegExp }
  | { kind: "present" };

export type PathMatcher =
  | { kind: "exact"; value: string; ignoreCase: boolean }
  | { kind: "prefix"; value: string; ignoreCase: boolean }
  /** Gateway API PathPrefix: element-wise (`/foo` matches `/foo` and `/foo/bar`, not `/foobar`). */
  | { kind: "segmentPrefix"; value: string; ignoreCase: boolean }
  | { kind: "regex"; value: string; re: RegExp };

export interface HeaderCondition {
  name: string;
  matcher: StringMatcher;
  /** withoutHeaders: true when the header is absent or does not match. */
  invert: boolean;
}

export interface CompiledMatch {
  /** Index of the match inside its rule. */
  index: number;
  name?: string;
  path?: PathMatcher;
  method?: StringMatcher;
  authority?: StringMatcher;
  scheme?: StringMatcher;
  headers: HeaderCondition[];
  query: { name: string; matcher: StringMatcher }[];
  port?: number;
  sourceNamespace?: string;
  sourceLabels?: Record<string, string>;
}

export interface HeaderChanges {
  request: HeaderOp[];
  response: HeaderOp[];
  /** Host / :authority set through headers becomes an authority rewrite, as istiod translates it. */
  authority?: string;
}

export interface CompiledDestination {
  host: string;
  subset?: string;
  port?: number;
  weight: number;
  backend: string;
  headers: HeaderChanges;
  /** The DestinationRule's load-balancer policy for this destination, or Istio's default. */
  loadBalancer: string;
  /** Set when the destination cannot be served: unknown subset (503 like Envoy's "no cluster"), unknown backend (500). */
  unavailable?: { status: number; reason: string };
}

export type PathRewrite =
  /** Envoy prefix_rewrite: the matched prefix (the whole path for exact/regex matches) is replaced. */
  | { kind: "prefix"; value: string }
  | { kind: "regex"; re: RegExp; substitution: string; pattern: string }
  | { kind: "fullPath"; value: string }
  /** Gateway API ReplacePrefixMatch (element-wise). */
  | { kind: "replacePrefixMatch"; value: string };

export interface RedirectSpec {
  /** Gateway API: a status code default of 302; Istio: 301. */
  code: number;
  scheme?: string;
  authority?: string;
  path?: { kind: "full"; value: string } | { kind: "replacePrefixMatch"; value: string };
  port?: number;
  derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  /** Gateway API semantics: with no port given, the port follows the scheme (80/443) or the listener port. */
  gatewayPortRules: boolean;
}

export interface RetrySpec {
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn: string[];
  retriableStatusCodes: number[];
}

export interface FaultSpec {
  delay?: { ms: number; percent: number };
  abort?: { status: number; percent: number };
}

export interface MirrorSpec {
  host: string;
  subset?: string;
  port?: number;
  backend: string;
  percent: number;
}

export type RuleAction =
  | { kind: "route"; destinations: CompiledDestination[] }
  | { kind: "redirect"; redirect: RedirectSpec }
  | { kind: "direct"; status: number; body?: string }
  /** A Gateway API rule whose backends all have weight 0 (or none): 500, as the spec requires. */
  | { kind: "fail"; status: number; reason: string };

export type RouteOrigin = "VirtualService" | "HTTPRoute" | "TrafficSplit";

export interface CompiledRule {
  origin: RouteOrigin;
  /** `ns/name#rule`: the rule's name when it has one, else its index. */
  id: string;
  /** `Kind/ns/name`. */
  resource: string;
  namespace: string;
  /** Empty: matches every request. */
  matches: CompiledMatch[];
  action: RuleAction;
  rewrite?: PathRewrite;
  authority?: string;
  headers: HeaderChanges;
  timeoutMs?: number;
  /** null: retries explicitly disabled (attempts: 0). */
  retries: RetrySpec | null;
  fault?: FaultSpec;
  mirrors: MirrorSpec[];
  source?: SourcePosition;
}

export interface HostRoutes {
  host: string;
  /** Rules of the VirtualService that owns this host (first by namespace/name when several claim it). */
  virtualService: { resource: string; rules: CompiledRule[] } | null;
  /** GAMMA HTTPRoutes, sorted by Gateway API precedence; `port` restricts a rule to one service port. */
  httpRoutes: { rule: CompiledRule; port?: number; namespace: string }[];
  trafficSplit: { resource: string; rules: CompiledRule[] } | null;
}

export interface RouteWarning {
  resource: string;
  message: string;
}

export interface RouteTable {
  /** Keyed by FQDN; wildcard VirtualService hosts live in `wildcards`. */
  readonly hosts: ReadonlyMap<string, HostRoutes>;
  /** Wildcard VirtualService hosts, most specific first. */
  readonly wildcards: readonly { pattern: string; routes: HostRoutes }[];
  /** Service FQDN → its ports, from the Service resources seen. */
  readonly services: ReadonlyMap<string, readonly number[]>;
  /** Load balancer of each known Service's default route (its DestinationRule's, or Istio's default). */
  readonly defaultLoadBalancers: ReadonlyMap<string, string>;
  /** Retry policy of routes that do not set one (Istio's default unless overridden). */
  readonly defaultRetries: RetrySpec | null;
  readonly warnings: readonly RouteWarning[];
  readonly errors: readonly import("./errors.js").RoutingError[];
}

export interface CompileOptions {
  /** Istio's `defaultHttpRetryPolicy` override; default: 2 attempts on Istio's default conditions. */
  defaultRetries?: RetrySpec | null;
}

export interface RouteDecision {
  status: number;
  /** `ns/name#rule`, `default` for a host without routing config, or null (no route found). */
  route: string | null;
  backend: string | null;
  destination: { host: string; subset?: string; port?: number } | null;
  upstream: { path: string; headers: Record<string, string>; authority?: string };
  redirect: { location: string; status: number } | null;
  /** Header operations the waypoint applies to the response, in order. */
  responseHeaders: HeaderOp[];
  directResponse?: { status: number; body?: string };
  timeoutMs?: number;
  retries?: RetrySpec;
  fault?: FaultSpec;
  /** What the injected randomness decided for the configured fault. */
  faultInjected?: { delayMs?: number; abortStatus?: number };
  mirrors: MirrorSpec[];
  loadBalancer: string | null;
  origin: RouteOrigin | "default" | null;
  reason: string;
}
