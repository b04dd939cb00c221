/**
 * Conformance of ambit's L7 router with Istio's VirtualService / DestinationRule semantics, the Gateway
 * API HTTPRoute (GAMMA) semantics and ambit's TrafficSplit extension. Every row cites the document
 * (or istiod source) it was written from. Rows are data; one loop runs them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compileRe2,
  type HeaderOp,
  type RetrySpec,
  type RouteRequest,
  route,
} from "../../src/routing/index.js";
import { DOC, type Doc, draws, gamma, NS, REVIEWS, req, split, table, vs } from "./routing-fixtures.js";

interface Expect {
  status?: number;
  route?: string | null;
  backend?: string | null;
  origin?: string | null;
  path?: string;
  /** Upstream header values; null: the header must be absent. */
  headers?: Record<string, string | null>;
  authority?: string;
  location?: string;
  timeoutMs?: number | null;
  retries?: Partial<RetrySpec> | null;
  faultInjected?: { delayMs?: number; abortStatus?: number } | null;
  mirrors?: string[];
  loadBalancer?: string;
  responseHeaders?: HeaderOp[];
  body?: string;
  /** A substring one of the table's warnings must contain. */
  warning?: string;
}

interface Row {
  name: string;
  cite: string;
  docs: Doc[];
  request?: Partial<RouteRequest>;
  rand?: () => number;
  expect: Expect;
}

const to = (host: string, subset?: string, weight?: number): Doc => ({
  destination: { host, ...(subset !== undefined ? { subset } : {}) },
  ...(weight !== undefined ? { weight } : {}),
});
const simple = (http: Doc[]): Doc => vs({ hosts: ["reviews"], http });
const v1 = [to("reviews", "v1")];
const v2 = [to("reviews", "v2")];

const rows: Row[] = [
  // ------------------------------------------------------------ VirtualService hosts and rule order
  {
    name: "a short host name resolves in the VirtualService's namespace",
    cite: `${DOC.vs}#VirtualService (hosts: short names are interpreted relative to the rule's namespace)`,
    docs: [simple([{ route: v1 }])],
    expect: { status: 200, route: "shop/reviews#0", backend: "reviews/v1", origin: "VirtualService" },
  },
  {
    name: "a request for the short name from the same namespace finds the same routes",
    cite: `${DOC.vs}#VirtualService (hosts)`,
    docs: [simple([{ route: v1 }])],
    request: { host: "reviews" },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "a fully-qualified host in hosts is used as written",
    cite: `${DOC.vs}#VirtualService (hosts: fully qualified domain names)`,
    docs: [vs({ hosts: [REVIEWS], http: [{ route: v2 }] })],
    expect: { backend: "reviews/v2" },
  },
  {
    name: "wildcard hosts: *.example.com matches any subdomain",
    cite: `${DOC.vs}#VirtualService (hosts: wildcard prefix)`,
    docs: [vs({ hosts: ["*.example.com"], http: [{ route: [to("ratings")] }] }, "wild")],
    request: { host: "api.example.com", port: 80 },
    expect: { route: "shop/wild#0", backend: "ratings" },
  },
  {
    name: "the first matching http rule wins",
    cite: `${DOC.vs}#VirtualService (http: the first rule matching an incoming request is used)`,
    docs: [simple([{ match: [{ uri: { prefix: "/" } }], route: v1 }, { route: v2 }])],
    expect: { route: "shop/reviews#0", backend: "reviews/v1" },
  },
  {
    name: "rules are named by their name when they have one",
    cite: `${DOC.vs}#HTTPRoute (name)`,
    docs: [simple([{ name: "catch-all", route: v1 }])],
    expect: { route: "shop/reviews#catch-all" },
  },
  {
    name: "match entries are ORed",
    cite: `${DOC.vs}#HTTPRoute (match: conditions within a single match block have AND semantics, while the list of match blocks have OR semantics)`,
    docs: [
      simple([{ match: [{ uri: { exact: "/a" } }, { uri: { exact: "/b" } }], route: v2 }, { route: v1 }]),
    ],
    request: { path: "/b" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "fields inside one match are ANDed",
    cite: `${DOC.vs}#HTTPRoute (match: AND within a block)`,
    docs: [
      simple([
        { match: [{ uri: { prefix: "/api" }, headers: { "end-user": { exact: "jason" } } }], route: v2 },
        { route: v1 },
      ]),
    ],
    request: { path: "/api/x", headers: { "end-user": "mike" } },
    expect: { route: "shop/reviews#1", backend: "reviews/v1" },
  },
  {
    name: "no matching rule: 404 route not found",
    cite: `${DOC.envoyRoute} (no route: NR) / ${DOC.vs}#HTTPRoute`,
    docs: [simple([{ match: [{ uri: { prefix: "/only" } }], route: v1 }])],
    request: { path: "/other" },
    expect: { status: 404, route: null, backend: null },
  },
  // ------------------------------------------------------------ HTTPMatchRequest
  {
    name: "uri exact does not match a longer path",
    cite: `${DOC.vs}#StringMatch (exact)`,
    docs: [simple([{ match: [{ uri: { exact: "/a" } }], route: v2 }, { route: v1 }])],
    request: { path: "/a/b" },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "uri exact ignores the query string",
    cite: `${DOC.envoyRoute}#envoy-v3-api-field-config-route-v3-routematch-path (path must match once the query string is removed)`,
    docs: [simple([{ match: [{ uri: { exact: "/a" } }], route: v2 }, { route: v1 }])],
    request: { path: "/a?x=1" },
    expect: { backend: "reviews/v2", path: "/a?x=1" },
  },
  {
    name: "uri prefix is a plain string prefix (/api matches /apix)",
    cite: `${DOC.vs}#StringMatch (prefix) / ${DOC.envoyRoute}#envoy-v3-api-field-config-route-v3-routematch-prefix`,
    docs: [simple([{ match: [{ uri: { prefix: "/api" } }], route: v2 }, { route: v1 }])],
    request: { path: "/apix" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "uri regex is a full match (RE2)",
    cite: `${DOC.vs}#StringMatch (regex: RE2 style regex-based match)`,
    docs: [simple([{ match: [{ uri: { regex: "/item/[0-9]+" } }], route: v2 }, { route: v1 }])],
    request: { path: "/item/12/x" },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "uri regex matches the whole path",
    cite: `${DOC.vs}#StringMatch (regex)`,
    docs: [simple([{ match: [{ uri: { regex: "/item/[0-9]+" } }], route: v2 }, { route: v1 }])],
    request: { path: "/item/12" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "ignoreUriCase makes the uri match case-insensitive",
    cite: `${DOC.vs}#HTTPMatchRequest (ignoreUriCase)`,
    docs: [simple([{ match: [{ uri: { prefix: "/API" }, ignoreUriCase: true }], route: v2 }, { route: v1 }])],
    request: { path: "/api/list" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "header exact match (the Bookinfo end-user: jason rule)",
    cite: "https://istio.io/latest/docs/tasks/traffic-management/request-routing/#route-based-on-user-identity",
    docs: [simple([{ match: [{ headers: { "end-user": { exact: "jason" } } }], route: v2 }, { route: v1 }])],
    request: { headers: { "end-user": "jason" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "header names compare case-insensitively",
    cite: `${DOC.vs}#HTTPMatchRequest (headers: the keys must be lowercase; HTTP header names are case-insensitive)`,
    docs: [simple([{ match: [{ headers: { "end-user": { exact: "jason" } } }], route: v2 }, { route: v1 }])],
    request: { headers: { "End-User": "jason" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "header prefix match",
    cite: `${DOC.vs}#StringMatch (prefix)`,
    docs: [
      simple([{ match: [{ headers: { "user-agent": { prefix: "curl/" } } }], route: v2 }, { route: v1 }]),
    ],
    request: { headers: { "user-agent": "curl/8.5" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "header regex match is anchored",
    cite: `${DOC.vs}#StringMatch (regex)`,
    docs: [
      simple([{ match: [{ headers: { cookie: { regex: "session=[a-z]+" } } }], route: v2 }, { route: v1 }]),
    ],
    request: { headers: { cookie: "x; session=abc" } },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "an empty header StringMatch means the header must be present",
    cite: `${DOC.vs}#HTTPMatchRequest (headers: if the value is empty and only the name of header is specified, presence of the header is checked)`,
    docs: [simple([{ match: [{ headers: { "x-canary": {} } }], route: v2 }, { route: v1 }])],
    request: { headers: { "x-canary": "" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "a header condition fails when the header is missing",
    cite: `${DOC.vs}#HTTPMatchRequest (headers)`,
    docs: [simple([{ match: [{ headers: { "x-canary": {} } }], route: v2 }, { route: v1 }])],
    expect: { backend: "reviews/v1" },
  },
  {
    name: "withoutHeaders matches when the header is absent",
    cite: `${DOC.vs}#HTTPMatchRequest (withoutHeaders: the negative of header)`,
    docs: [
      simple([{ match: [{ withoutHeaders: { "end-user": { exact: "jason" } } }], route: v2 }, { route: v1 }]),
    ],
    expect: { backend: "reviews/v2" },
  },
  {
    name: "withoutHeaders does not match when the header matches",
    cite: `${DOC.vs}#HTTPMatchRequest (withoutHeaders)`,
    docs: [
      simple([{ match: [{ withoutHeaders: { "end-user": { exact: "jason" } } }], route: v2 }, { route: v1 }]),
    ],
    request: { headers: { "end-user": "jason" } },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "queryParams exact match",
    cite: `${DOC.vs}#HTTPMatchRequest (queryParams)`,
    docs: [simple([{ match: [{ queryParams: { version: { exact: "2" } } }], route: v2 }, { route: v1 }])],
    request: { path: "/list?version=2&x=1" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "queryParams regex match",
    cite: `${DOC.vs}#HTTPMatchRequest (queryParams: regex)`,
    docs: [simple([{ match: [{ queryParams: { id: { regex: "[0-9]+" } } }], route: v2 }, { route: v1 }])],
    request: { path: "/list?id=abc" },
    expect: { backend: "reviews/v1" },
  },
  {
    name: "method match",
    cite: `${DOC.vs}#HTTPMatchRequest (method)`,
    docs: [simple([{ match: [{ method: { exact: "POST" } }], route: v2 }, { route: v1 }])],
    request: { method: "POST" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "authority match against the Host header",
    cite: `${DOC.vs}#HTTPMatchRequest (authority)`,
    docs: [simple([{ match: [{ authority: { prefix: "reviews.shop" } }], route: v2 }, { route: v1 }])],
    request: { headers: { host: "reviews.shop:9080" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "scheme match",
    cite: `${DOC.vs}#HTTPMatchRequest (scheme)`,
    docs: [simple([{ match: [{ scheme: { exact: "https" } }], route: v2 }, { route: v1 }])],
    request: { scheme: "https" },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "port match restricts a rule to one port",
    cite: `${DOC.vs}#HTTPMatchRequest (port)`,
    docs: [simple([{ match: [{ port: 8080 }], route: v2 }, { route: v1 }])],
    expect: { backend: "reviews/v1" },
  },
  {
    name: "sourceNamespace match",
    cite: `${DOC.vs}#HTTPMatchRequest (sourceNamespace)`,
    docs: [simple([{ match: [{ sourceNamespace: "frontend" }], route: v2 }, { route: v1 }])],
    request: { client: { namespace: "frontend" } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "sourceLabels match the client's labels",
    cite: `${DOC.vs}#HTTPMatchRequest (sourceLabels)`,
    docs: [simple([{ match: [{ sourceLabels: { app: "productpage" } }], route: v2 }, { route: v1 }])],
    request: { client: { namespace: NS, labels: { app: "productpage", version: "v1" } } },
    expect: { backend: "reviews/v2" },
  },
  {
    name: "a match bound to a named gateway only does not apply to mesh traffic",
    cite: `${DOC.vs}#HTTPMatchRequest (gateways: names of gateways where the rule should be applied)`,
    docs: [simple([{ match: [{ gateways: ["shop/ingress"] }], route: v2 }, { route: v1 }])],
    expect: { backend: "reviews/v1" },
  },
  {
    name: "a VirtualService bound to gateways without mesh is not used by the waypoint",
    cite: `${DOC.vs}#VirtualService (gateways: the reserved word mesh is used to imply all the sidecars/waypoints in the mesh)`,
    docs: [vs({ hosts: ["reviews"], gateways: ["ingress"], http: [{ route: v2 }] })],
    expect: { status: 200, route: null, origin: "default", backend: "reviews" },
  },
  // ------------------------------------------------------------ destinations, weights, subsets
  {
    name: "weighted destinations: the draw picks by weight (0.9 of 75/25 → second)",
    cite: `${DOC.vs}#HTTPRouteDestination (weight: the proportion of traffic to be forwarded)`,
    docs: [simple([{ route: [to("reviews", "v1", 75), to("reviews", "v2", 25)] }])],
    rand: draws(0.9),
    expect: { backend: "reviews/v2" },
  },
  {
    name: "weighted destinations: a low draw picks the first",
    cite: `${DOC.vs}#HTTPRouteDestination (weight)`,
    docs: [simple([{ route: [to("reviews", "v1", 75), to("reviews", "v2", 25)] }])],
    rand: draws(0.1),
    expect: { backend: "reviews/v1" },
  },
  {
    name: "a subset takes the load balancer of its DestinationRule subset",
    cite: `${DOC.dr}#Subset (trafficPolicy: overrides the DestinationRule's)`,
    docs: [simple([{ route: v2 }])],
    expect: { backend: "reviews/v2", loadBalancer: "RANDOM" },
  },
  {
    name: "a subset without its own policy inherits the DestinationRule's",
    cite: `${DOC.dr}#TrafficPolicy (loadBalancer)`,
    docs: [simple([{ route: v1 }])],
    expect: { loadBalancer: "ROUND_ROBIN" },
  },
  {
    name: "a host without a DestinationRule gets Istio's default LEAST_REQUEST",
    cite: `${DOC.dr}#LoadBalancerSettings-SimpleLB (LEAST_REQUEST is the default)`,
    docs: [vs({ hosts: ["ratings"], http: [{ route: [to("ratings")] }] }, "ratings")],
    request: { host: `ratings.${NS}.svc.cluster.local` },
    expect: { backend: "ratings", loadBalancer: "LEAST_REQUEST" },
  },
  {
    name: "an undefined subset: 503 (no cluster) and an analyzer-style warning",
    cite: `${DOC.envoyRoute}#envoy-v3-api-field-config-route-v3-routeaction-cluster-not-found-response-code (default 503) / istioctl analyze IST0101`,
    docs: [simple([{ route: [to("reviews", "v9")] }])],
    expect: { status: 503, backend: "reviews/v9", warning: 'subset "v9"' },
  },
  // ------------------------------------------------------------ rewrite
  {
    name: "rewrite.uri replaces the matched prefix",
    cite: `${DOC.vs}#HTTPRewrite (uri: if the original URI was matched based on prefix, the value replaces the matched prefix)`,
    docs: [simple([{ match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: v1 }])],
    request: { path: "/old/page?q=1" },
    expect: { path: "/new/page?q=1" },
  },
  {
    name: "rewrite.uri with an exact match replaces the whole path and keeps the query",
    cite: `${DOC.envoyRoute}#envoy-v3-api-field-config-route-v3-routeaction-prefix-rewrite (with path matching the full path is replaced)`,
    docs: [simple([{ match: [{ uri: { exact: "/login" } }], rewrite: { uri: "/auth/login" }, route: v1 }])],
    request: { path: "/login?next=/" },
    expect: { path: "/auth/login?next=/" },
  },
  {
    name: "rewrite.uri without a uri match replaces the implicit / prefix",
    cite: `${DOC.istiodRoute} TranslateRouteMatch (no uri → prefix "/") + prefix_rewrite`,
    docs: [simple([{ rewrite: { uri: "/v2/" }, route: v1 }])],
    request: { path: "/items" },
    expect: { path: "/v2/items" },
  },
  {
    name: "uriRegexRewrite substitutes capture groups",
    cite: `${DOC.vs}#RegexRewrite (example: /service/foo/v1/api → /v1/api/instance/foo)`,
    docs: [
      simple([
        {
          rewrite: { uriRegexRewrite: { match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1" } },
          route: v1,
        },
      ]),
    ],
    request: { path: "/service/foo/v1/api" },
    expect: { path: "/v1/api/instance/foo" },
  },
  {
    name: "rewrite.authority rewrites the Host header",
    cite: `${DOC.vs}#HTTPRewrite (authority)`,
    docs: [simple([{ rewrite: { authority: "reviews.internal" }, route: v1 }])],
    request: { headers: { host: "reviews" } },
    expect: { authority: "reviews.internal", headers: { host: "reviews.internal" } },
  },
  // ------------------------------------------------------------ redirect / direct response
  {
    name: "redirect defaults to 301 and keeps the query string",
    cite: `${DOC.vs}#HTTPRedirect (redirectCode default 301) / ${DOC.envoyRoute}#envoy-v3-api-field-config-route-v3-redirectaction-path-redirect`,
    docs: [
      simple([
        {
          match: [{ uri: { exact: "/v1/getProductRatings" } }],
          redirect: { uri: "/v1/bookRatings", authority: "newratings.default.svc.cluster.local" },
        },
      ]),
    ],
    request: { path: "/v1/getProductRatings?id=3" },
    expect: {
      status: 301,
      backend: null,
      location: "http://newratings.default.svc.cluster.local/v1/bookRatings?id=3",
    },
  },
  {
    name: "redirect with scheme, port and code 302",
    cite: `${DOC.vs}#HTTPRedirect (scheme, port, redirectCode)`,
    docs: [simple([{ redirect: { scheme: "https", port: 8443, redirectCode: 302 } }])],
    request: { path: "/x", headers: { host: "reviews.shop:9080" } },
    expect: { status: 302, location: "https://reviews.shop:8443/x" },
  },
  {
    name: "redirect derivePort FROM_REQUEST_PORT uses the request's port",
    cite: `${DOC.vs}#HTTPRedirect-RedirectPortSelection (FROM_REQUEST_PORT)`,
    docs: [simple([{ redirect: { authority: "other.shop", derivePort: "FROM_REQUEST_PORT" } }])],
    request: { path: "/y" },
    expect: { status: 301, location: "http://other.shop:9080/y" },
  },
  {
    name: "redirect to https on 443 leaves the port out",
    cite: `${DOC.istiodRoute} ApplyRedirect (do not put explicit :80 or :443 when it is http/https)`,
    docs: [simple([{ redirect: { scheme: "https", port: 443, authority: "secure.shop" } }])],
    expect: { location: "https://secure.shop/" },
  },
  {
    name: "directResponse returns the status and body",
    cite: `${DOC.vs}#HTTPDirectResponse`,
    docs: [
      simple([
        {
          match: [{ uri: { exact: "/down" } }],
          directResponse: { status: 503, body: { string: "unavailable" } },
        },
        { route: v1 },
      ]),
    ],
    request: { path: "/down" },
    expect: { status: 503, backend: null, body: "unavailable" },
  },
  // ------------------------------------------------------------ headers
  {
    name: "request headers: remove, then set, then add",
    cite: `${DOC.vs}#Headers-HeaderOperations (set, add, remove)`,
    docs: [
      simple([
        {
          headers: { request: { set: { "x-env": "prod" }, add: { "x-trace": "b" }, remove: ["x-debug"] } },
          route: v1,
        },
      ]),
    ],
    request: { headers: { "x-env": "dev", "x-trace": "a", "x-debug": "1" } },
    expect: { headers: { "x-env": "prod", "x-trace": "a,b", "x-debug": null } },
  },
  {
    name: "per-destination request headers apply after the route's (single destination)",
    cite: `${DOC.vs}#HTTPRouteDestination (headers) / ${DOC.istiodRoute} processDestination`,
    docs: [
      simple([
        {
          headers: { request: { set: { "x-by": "route" } } },
          route: [{ ...to("reviews", "v1"), headers: { request: { set: { "x-by": "destination" } } } }],
        },
      ]),
    ],
    expect: { headers: { "x-by": "destination" } },
  },
  {
    name: "weighted destinations: the destination's headers apply first, the route's set wins",
    cite: `${DOC.envoyRoute}#envoy-v3-api-msg-config-route-v3-weightedcluster-clusterweight (request_headers_to_add: evaluated before the route's) / ${DOC.istiodRoute} processWeightedDestination`,
    docs: [
      simple([
        {
          headers: { request: { set: { "x-by": "route" } } },
          route: [
            {
              ...to("reviews", "v1", 50),
              headers: { request: { set: { "x-by": "destination", "x-dst": "v1" } } },
            },
            { ...to("reviews", "v2", 50), headers: { request: { set: { "x-dst": "v2" } } } },
          ],
        },
      ]),
    ],
    rand: draws(0.1),
    expect: { backend: "reviews/v1", headers: { "x-by": "route", "x-dst": "v1" } },
  },
  {
    name: "response header operations are returned for the waypoint to apply",
    cite: `${DOC.vs}#Headers (response)`,
    docs: [
      simple([
        { headers: { response: { set: { "cache-control": "no-store" }, remove: ["server"] } }, route: v1 },
      ]),
    ],
    expect: {
      responseHeaders: [
        { op: "remove", name: "server" },
        { op: "set", name: "cache-control", value: "no-store" },
      ],
    },
  },
  {
    name: "setting Host through headers rewrites the authority",
    cite: `${DOC.istiodRoute} TranslateHeadersOperations (Host/:authority become a host rewrite)`,
    docs: [simple([{ headers: { request: { set: { host: "reviews.v2.internal" } } }, route: v1 }])],
    expect: { authority: "reviews.v2.internal" },
  },
  // ------------------------------------------------------------ timeouts, retries, faults, mirrors
  {
    name: "timeout",
    cite: `${DOC.vs}#HTTPRoute (timeout)`,
    docs: [simple([{ timeout: "5s", route: v1 }])],
    expect: { timeoutMs: 5000 },
  },
  {
    name: "no timeout by default",
    cite: `${DOC.vs}#HTTPRoute (timeout: disabled by default)`,
    docs: [simple([{ route: v1 }])],
    expect: { timeoutMs: null },
  },
  {
    name: "Istio's default retry policy when none is given",
    cite: `${DOC.retries} / ${DOC.istiodRetry} defaultPolicy`,
    docs: [simple([{ route: v1 }])],
    expect: {
      retries: {
        attempts: 2,
        retryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
        retriableStatusCodes: [503],
      },
    },
  },
  {
    name: "explicit retries: attempts, perTryTimeout, retryOn with a status code",
    cite: `${DOC.vs}#HTTPRetry / ${DOC.istiodRetry} ConvertPolicy (integers in retryOn are status codes)`,
    docs: [
      simple([
        {
          retries: { attempts: 3, perTryTimeout: "2s", retryOn: "gateway-error,connect-failure,504" },
          route: v1,
        },
      ]),
    ],
    expect: {
      retries: {
        attempts: 3,
        perTryTimeoutMs: 2000,
        retryOn: ["gateway-error", "connect-failure", "retriable-status-codes"],
        retriableStatusCodes: [504],
      },
    },
  },
  {
    name: "attempts: 0 disables retries",
    cite: `${DOC.istiodRetry} ConvertPolicy (attempts 0: explicitly disabling the retry policy)`,
    docs: [simple([{ retries: { attempts: 0 }, route: v1 }])],
    expect: { retries: null },
  },
  {
    name: "fault delay at 100 %",
    cite: `${DOC.vs}#HTTPFaultInjection-Delay (fixedDelay, percentage)`,
    docs: [simple([{ fault: { delay: { fixedDelay: "7s", percentage: { value: 100 } } }, route: v1 }])],
    expect: { status: 200, faultInjected: { delayMs: 7000 } },
  },
  {
    name: "fault abort at 100 % answers with its status",
    cite: `${DOC.vs}#HTTPFaultInjection-Abort (httpStatus, percentage)`,
    docs: [simple([{ fault: { abort: { httpStatus: 400, percentage: { value: 100 } } }, route: v1 }])],
    expect: { status: 400, faultInjected: { abortStatus: 400 } },
  },
  {
    name: "fault abort draws its percentage (0.5 % with a 0.9 draw: not aborted)",
    cite: `${DOC.vs}#HTTPFaultInjection-Abort (percentage)`,
    docs: [simple([{ fault: { abort: { httpStatus: 500, percentage: { value: 0.5 } } }, route: v1 }])],
    rand: draws(0.9),
    expect: { status: 200, faultInjected: null },
  },
  {
    name: "a delay without percentage is never injected",
    cite: `${DOC.vs}#HTTPFaultInjection-Delay (percentage: if left unspecified, no request will be delayed) / ${DOC.istiodRoute} TranslateFault`,
    docs: [simple([{ fault: { delay: { fixedDelay: "1s" } }, route: v1 }])],
    expect: { faultInjected: null },
  },
  {
    name: "mirror defaults to 100 %",
    cite: `${DOC.vs}#HTTPRoute (mirror, mirrorPercentage: defaults to 100 % when not set)`,
    docs: [simple([{ mirror: { host: "reviews", subset: "v3" }, route: v1 }])],
    expect: { mirrors: ["reviews/v3"] },
  },
  {
    name: "mirrorPercentage 0 mirrors nothing",
    cite: `${DOC.istiodRoute} MirrorPercent (if zero percent is provided explicitly, we should not mirror)`,
    docs: [
      simple([{ mirror: { host: "reviews", subset: "v3" }, mirrorPercentage: { value: 0 }, route: v1 }]),
    ],
    expect: { mirrors: [] },
  },
  {
    name: "mirrors with a percentage each",
    cite: `${DOC.vs}#HTTPMirrorPolicy`,
    docs: [
      simple([
        {
          mirrors: [
            { destination: { host: "ratings" }, percentage: { value: 50 } },
            { destination: { host: "details" } },
          ],
          route: v1,
        },
      ]),
    ],
    rand: draws(0.9),
    expect: { mirrors: ["details"] },
  },
  {
    name: "a VirtualService without http rules leaves the host on its default route",
    cite: `${DOC.istiodRoute} BuildHTTPRoutesForVirtualService (no routes: the VirtualService is not used for HTTP)`,
    docs: [vs({ hosts: ["reviews"], tcp: [{ route: [to("reviews", "v2")] }] })],
    expect: { status: 200, origin: "default", backend: "reviews", loadBalancer: "ROUND_ROBIN" },
  },
  {
    name: "a host without routing configuration takes the default route to the service",
    cite: `${DOC.istiodRoute} BuildDefaultHTTPOutboundRoute`,
    docs: [],
    request: { host: `details.${NS}.svc.cluster.local` },
    expect: { status: 200, route: null, origin: "default", backend: "details", retries: { attempts: 2 } },
  },
  // ------------------------------------------------------------ Gateway API HTTPRoute (GAMMA)
  {
    name: "GAMMA: an HTTPRoute whose parentRef is the Service routes its traffic",
    cite: `${DOC.gamma} (routes attach to a Service as parentRef) / ${DOC.ambient}`,
    docs: [gamma([{ backendRefs: [{ name: "reviews", port: 9080 }] }])],
    expect: { status: 200, route: "shop/reviews#0", backend: "reviews", origin: "HTTPRoute" },
  },
  {
    name: "backendRefs weights (90/10, draw 0.95 → second)",
    cite: `${DOC.gw}#httpbackendref (weight)`,
    docs: [
      gamma([
        {
          backendRefs: [
            { name: "reviews", port: 9080, weight: 90 },
            { name: "ratings", port: 9080, weight: 10 },
          ],
        },
      ]),
    ],
    rand: draws(0.95),
    expect: { backend: "ratings" },
  },
  {
    name: "a backendRef with weight 0 receives nothing",
    cite: `${DOC.gw}#httpbackendref (weight 0: no traffic)`,
    docs: [
      gamma([
        {
          backendRefs: [
            { name: "reviews", port: 9080, weight: 0 },
            { name: "ratings", port: 9080, weight: 1 },
          ],
        },
      ]),
    ],
    rand: draws(0),
    expect: { backend: "ratings" },
  },
  {
    name: "all backendRefs with weight 0: 500",
    cite: `${DOC.gw}#httprouterule (backendRefs: if all weights are zero, a 500 status code MUST be returned)`,
    docs: [gamma([{ backendRefs: [{ name: "reviews", port: 9080, weight: 0 }] }])],
    expect: { status: 500, backend: null },
  },
  {
    name: "a backendRef naming no Service: 500",
    cite: `${DOC.gw}#httpbackendref (invalid backend: 500 for the share of requests)`,
    docs: [gamma([{ backendRefs: [{ name: "nope", port: 9080 }] }])],
    expect: { status: 500 },
  },
  {
    name: "PathPrefix is element-wise: /foo does not match /foobar",
    cite: `${DOC.gw}#pathmatchtype (PathPrefix: matching is done on a path element by element basis)`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/foo" } }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
        { backendRefs: [{ name: "reviews", port: 9080 }] },
      ]),
    ],
    request: { path: "/foobar" },
    expect: { backend: "reviews" },
  },
  {
    name: "PathPrefix ignores a trailing slash: /foo/ matches /foo",
    cite: `${DOC.gw}#pathmatchtype (a trailing / is ignored)`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/foo/" } }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
        { backendRefs: [{ name: "reviews", port: 9080 }] },
      ]),
    ],
    request: { path: "/foo" },
    expect: { backend: "ratings" },
  },
  {
    name: "precedence: Exact path over PathPrefix, whatever the rule order",
    cite: `${DOC.gw}#httprouterule (precedence: Exact path match) / ${DOC.istiodSort}`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/a" } }],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
        {
          matches: [{ path: { type: "Exact", value: "/a" } }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/a" },
    expect: { route: "shop/reviews#1", backend: "ratings" },
  },
  {
    name: "precedence: the longest PathPrefix wins",
    cite: `${DOC.gw}#httprouterule (Prefix path match with largest number of characters)`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/a" } }],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
        {
          matches: [{ path: { type: "PathPrefix", value: "/a/b" } }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/a/b/c" },
    expect: { backend: "ratings" },
  },
  {
    name: "precedence: PathPrefix over RegularExpression (implementation-specific; istiod ranks regex last)",
    cite: `${DOC.gw}#httprouterule (the precedence of RegularExpression path matches is implementation-specific) / ${DOC.istiodSort} getURIRank`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "RegularExpression", value: "/a/.*" } }],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
        {
          matches: [{ path: { type: "PathPrefix", value: "/a" } }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/a/b" },
    expect: { route: "shop/reviews#1", backend: "ratings" },
  },
  {
    name: "precedence: a method match wins over none",
    cite: `${DOC.gw}#httprouterule (Method match)`,
    docs: [
      gamma([
        { matches: [{ path: { value: "/" } }], backendRefs: [{ name: "reviews", port: 9080 }] },
        {
          matches: [{ path: { value: "/" }, method: "POST" }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { method: "POST" },
    expect: { backend: "ratings" },
  },
  {
    name: "precedence: more header matches win",
    cite: `${DOC.gw}#httprouterule (Largest number of header matches)`,
    docs: [
      gamma([
        {
          matches: [{ headers: [{ name: "a", value: "1" }] }],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
        {
          matches: [
            {
              headers: [
                { name: "a", value: "1" },
                { name: "b", value: "2" },
              ],
            },
          ],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { headers: { a: "1", b: "2" } },
    expect: { backend: "ratings" },
  },
  {
    name: "precedence: more query-parameter matches win",
    cite: `${DOC.gw}#httprouterule (Largest number of query param matches)`,
    docs: [
      gamma([
        {
          matches: [{ queryParams: [{ name: "a", value: "1" }] }],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
        {
          matches: [
            {
              queryParams: [
                { name: "a", value: "1" },
                { name: "b", value: "2" },
              ],
            },
          ],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/?a=1&b=2" },
    expect: { backend: "ratings" },
  },
  {
    name: "precedence ties across routes: alphabetical namespace/name",
    cite: `${DOC.gw}#httprouterule (ties: oldest Route, then alphabetical {namespace}/{name})`,
    docs: [
      gamma([{ backendRefs: [{ name: "ratings", port: 9080 }] }], "zeta"),
      gamma([{ backendRefs: [{ name: "details", port: 9080 }] }], "alpha"),
    ],
    expect: { route: "shop/alpha#0", backend: "details" },
  },
  {
    name: "header match names are case-insensitive (Gateway API)",
    cite: `${DOC.gw}#httpheadermatch (name matching MUST be case-insensitive)`,
    docs: [
      gamma([
        {
          matches: [{ headers: [{ name: "X-Version", value: "2" }] }],
          backendRefs: [{ name: "ratings", port: 9080 }],
        },
        { backendRefs: [{ name: "reviews", port: 9080 }] },
      ]),
    ],
    request: { headers: { "x-version": "2" } },
    expect: { backend: "ratings" },
  },
  {
    name: "RequestHeaderModifier",
    cite: `${DOC.gw}#httpheaderfilter`,
    docs: [
      gamma([
        {
          filters: [
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: {
                set: [{ name: "x-a", value: "1" }],
                add: [{ name: "x-b", value: "2" }],
                remove: ["x-c"],
              },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    request: { headers: { "x-b": "1", "x-c": "gone" } },
    expect: { headers: { "x-a": "1", "x-b": "1,2", "x-c": null } },
  },
  {
    name: "ResponseHeaderModifier",
    cite: `${DOC.gw}#httpheaderfilter (ResponseHeaderModifier)`,
    docs: [
      gamma([
        {
          filters: [
            {
              type: "ResponseHeaderModifier",
              responseHeaderModifier: { add: [{ name: "x-served-by", value: "waypoint" }] },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    expect: { responseHeaders: [{ op: "add", name: "x-served-by", value: "waypoint" }] },
  },
  {
    name: "URLRewrite ReplacePrefixMatch: /foo/bar with /foo → /xyz gives /xyz/bar",
    cite: `${DOC.gw}#httppathmodifier (ReplacePrefixMatch table)`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/foo" } }],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/xyz" } },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/foo/bar?q=1" },
    expect: { path: "/xyz/bar?q=1" },
  },
  {
    name: "URLRewrite ReplacePrefixMatch with an empty replacement: /foo → /",
    cite: `${DOC.gw}#httppathmodifier (ReplacePrefixMatch table: /foo, prefix /foo, replacement "" → /)`,
    docs: [
      gamma([
        {
          matches: [{ path: { type: "PathPrefix", value: "/foo" } }],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "" } },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/foo" },
    expect: { path: "/" },
  },
  {
    name: "URLRewrite ReplaceFullPath and hostname",
    cite: `${DOC.gw}#httpurlrewritefilter`,
    docs: [
      gamma([
        {
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: {
                hostname: "reviews.internal",
                path: { type: "ReplaceFullPath", replaceFullPath: "/health" },
              },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    request: { path: "/anything/at/all" },
    expect: { path: "/health", authority: "reviews.internal" },
  },
  {
    name: "RequestRedirect defaults to 302; https without port uses 443 and leaves it out",
    cite: `${DOC.gw}#httprequestredirectfilter (statusCode default 302; port derived from scheme)`,
    docs: [gamma([{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https" } }] }])],
    request: { path: "/p", headers: { host: "reviews.shop:9080" } },
    expect: { status: 302, location: "https://reviews.shop/p" },
  },
  {
    name: "RequestRedirect without scheme or port keeps the listener (service) port",
    cite: `${DOC.gw}#httprequestredirectfilter (if redirect scheme is empty, the redirect port MUST be the listener port)`,
    docs: [
      gamma([
        {
          filters: [{ type: "RequestRedirect", requestRedirect: { hostname: "new.shop", statusCode: 301 } }],
        },
      ]),
    ],
    request: { path: "/p" },
    expect: { status: 301, location: "http://new.shop:9080/p" },
  },
  {
    name: "RequestMirror",
    cite: `${DOC.gw}#httprequestmirrorfilter`,
    docs: [
      gamma([
        {
          filters: [
            { type: "RequestMirror", requestMirror: { backendRef: { name: "details", port: 9080 } } },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ],
    expect: { mirrors: ["details"] },
  },
  {
    name: "timeouts.request",
    cite: `${DOC.gw}#httproutetimeouts (request)`,
    docs: [gamma([{ timeouts: { request: "3s" }, backendRefs: [{ name: "reviews", port: 9080 }] }])],
    expect: { timeoutMs: 3000 },
  },
  {
    name: "a consumer route applies to its own namespace's clients",
    cite: `${DOC.gamma} (consumer routes: an HTTPRoute in the client's namespace attached to a Service in another)`,
    docs: [
      gamma([{ backendRefs: [{ name: "reviews", port: 9080 }] }], "producer"),
      gamma([{ backendRefs: [{ name: "ratings", namespace: NS, port: 9080 }] }], "consumer", "frontend"),
    ],
    request: { client: { namespace: "frontend" } },
    expect: { route: "frontend/consumer#0", backend: "ratings" },
  },
  {
    name: "a consumer route does not affect other namespaces' clients",
    cite: `${DOC.gamma} (consumer routes)`,
    docs: [
      gamma([{ backendRefs: [{ name: "reviews", port: 9080 }] }], "producer"),
      gamma([{ backendRefs: [{ name: "ratings", namespace: NS, port: 9080 }] }], "consumer", "frontend"),
    ],
    expect: { route: "shop/producer#0", backend: "reviews" },
  },
  {
    name: "parentRef port limits the route to that service port",
    cite: `${DOC.gw}#parentreference (port)`,
    docs: [
      gamma([{ backendRefs: [{ name: "ratings", port: 9080 }] }], "reviews", NS, {
        group: "",
        kind: "Service",
        name: "reviews",
        port: 8080,
      }),
    ],
    expect: { origin: "default", backend: "reviews" },
  },
  {
    name: "a parentRef of kind Service without group names no core Service",
    cite: `${DOC.gw}#parentreference (group: defaults to gateway.networking.k8s.io; core is the empty string) / ${DOC.gamma}`,
    docs: [
      gamma([{ backendRefs: [{ name: "ratings", port: 9080 }] }], "reviews", NS, {
        kind: "Service",
        name: "reviews",
      }),
    ],
    expect: { origin: "default", backend: "reviews", warning: "has no group" },
  },
  {
    name: "VirtualService and HTTPRoute on one host: the HTTPRoute is used, with a warning",
    cite: `${DOC.ambient} (mixing VirtualService and HTTPRoute for the same workload is not supported)`,
    docs: [simple([{ route: v2 }]), gamma([{ backendRefs: [{ name: "ratings", port: 9080 }] }])],
    expect: { origin: "HTTPRoute", backend: "ratings", warning: "both a VirtualService and HTTPRoutes" },
  },
  // ------------------------------------------------------------ TrafficSplit (ambit extension)
  {
    name: "TrafficSplit: the Service selected by workloadSelector is split by weight (draw 0.97 → canary)",
    cite: "docs/routing.md#trafficsplit (ambit extension; examples/payment-system/06-traffic-split.yaml)",
    docs: [
      split({
        workloadSelector: { labels: { app: "reviews" } },
        rules: [{ route: [to("reviews", "v1", 95), to("reviews", "v2", 5)] }],
        layer: "L7",
      }),
    ],
    rand: draws(0.97),
    expect: { origin: "TrafficSplit", route: "shop/split#0", backend: "reviews/v2" },
  },
  {
    name: "TrafficSplit: a VirtualService for the host takes precedence",
    cite: "docs/routing.md#precedence",
    docs: [
      simple([{ route: v1 }]),
      split({
        workloadSelector: { labels: { app: "reviews" } },
        rules: [{ route: [to("reviews", "v1", 50), to("reviews", "v2", 50)] }],
      }),
    ],
    rand: draws(0.99),
    expect: { origin: "VirtualService", backend: "reviews/v1", warning: "takes precedence" },
  },
  {
    name: "TrafficSplit: a request its rules do not match takes the default route",
    cite: "docs/routing.md#trafficsplit",
    docs: [
      split({
        workloadSelector: { labels: { app: "reviews" } },
        rules: [{ match: [{ uri: { prefix: "/api" } }], route: [to("reviews", "v2")] }],
      }),
    ],
    request: { path: "/web" },
    expect: { status: 200, origin: "default", backend: "reviews" },
  },
];

describe("routing conformance (Istio VirtualService, Gateway API HTTPRoute, ambit TrafficSplit)", () => {
  for (const row of rows) {
    test(`${row.name} — ${row.cite}`, () => {
      const t = table(row.docs);
      assert.deepEqual(
        t.errors.map((e) => e.message),
        [],
      );
      const d = route(t, req(row.request), row.rand ?? draws(0));
      const e = row.expect;
      if (e.status !== undefined) assert.equal(d.status, e.status, d.reason);
      if (e.route !== undefined) assert.equal(d.route, e.route);
      if (e.backend !== undefined) assert.equal(d.backend, e.backend, d.reason);
      if (e.origin !== undefined) assert.equal(d.origin, e.origin);
      if (e.path !== undefined) assert.equal(d.upstream.path, e.path);
      for (const [k, v] of Object.entries(e.headers ?? {}))
        assert.equal(d.upstream.headers[k], v ?? undefined, `header ${k}`);
      if (e.authority !== undefined) assert.equal(d.upstream.authority, e.authority);
      if (e.location !== undefined) assert.equal(d.redirect?.location, e.location);
      if (e.timeoutMs !== undefined) assert.equal(d.timeoutMs, e.timeoutMs ?? undefined);
      if (e.retries === null) assert.equal(d.retries, undefined);
      else if (e.retries !== undefined) {
        assert.ok(d.retries !== undefined, "retries expected");
        for (const [k, v] of Object.entries(e.retries))
          assert.deepEqual(d.retries[k as keyof RetrySpec], v, `retries.${k}`);
      }
      if (e.faultInjected !== undefined) assert.deepEqual(d.faultInjected, e.faultInjected ?? undefined);
      if (e.mirrors !== undefined)
        assert.deepEqual(
          d.mirrors.map((m) => m.backend),
          e.mirrors,
        );
      if (e.loadBalancer !== undefined) assert.equal(d.loadBalancer, e.loadBalancer);
      if (e.responseHeaders !== undefined) assert.deepEqual(d.responseHeaders, e.responseHeaders);
      if (e.body !== undefined) assert.equal(d.directResponse?.body, e.body);
      if (e.warning !== undefined) {
        const w = e.warning;
        assert.ok(
          t.warnings.some((x) => x.message.includes(w)),
          `a warning containing ${JSON.stringify(w)}: ${JSON.stringify(t.warnings)}`,
        );
      }
    });
  }

  test("the tables hold at least 50 cases", () => {
    assert.ok(rows.length >= 50, `${rows.length} rows`);
  });
});

describe("regular expressions follow RE2", () => {
  const cases: [string, string][] = [
    ["look-ahead", "/a(?=b)"],
    ["negative look-behind", "(?<!x)/a"],
    ["backreference", "(a)\\1"],
  ];
  for (const [what, re] of cases) {
    test(`${what} is refused with RT_ERR_UNSUPPORTED_REGEX — ${DOC.vs}#StringMatch (RE2 syntax: https://github.com/google/re2/wiki/Syntax)`, () => {
      const t = table([simple([{ match: [{ uri: { regex: re } }], route: v1 }])]);
      assert.equal(t.errors.length, 1);
      assert.equal(t.errors[0]?.code, "RT_ERR_UNSUPPORTED_REGEX");
      assert.equal(t.errors[0]?.path, "spec.http[0].match[0].uri.regex");
    });
  }

  test("RE2 named groups (?P<name>) are translated for the JavaScript engine", () => {
    const r = compileRe2("/(?P<id>[0-9]+)");
    assert.ok(r.ok);
    assert.ok(r.ok && r.re.test("/42"));
    assert.ok(r.ok && !r.re.test("/42/x"));
  });

  test("ReplacePrefixMatch without a PathPrefix match is refused", () => {
    const t = table([
      gamma([
        {
          matches: [{ path: { type: "Exact", value: "/a" } }],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/b" } },
            },
          ],
          backendRefs: [{ name: "reviews", port: 9080 }],
        },
      ]),
    ]);
    assert.equal(t.errors[0]?.code, "RT_ERR_INVALID_ROUTE");
  });
});

describe("Gateway API ReplacePrefixMatch table", () => {
  // https://gateway-api.sigs.k8s.io/reference/spec/#httppathmodifier
  const rows2: [string, string, string, string][] = [
    ["/foo/bar", "/foo", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo", "/xyz/", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz/", "/xyz/bar"],
    ["/foo", "/foo", "/xyz", "/xyz"],
    ["/foo/", "/foo", "/xyz", "/xyz/"],
    ["/foo/bar", "/foo", "", "/bar"],
    ["/foo/", "/foo", "", "/"],
    ["/foo", "/foo", "", "/"],
    ["/foo/", "/foo", "/", "/"],
    ["/foo", "/foo", "/", "/"],
  ];
  for (const [path, prefix, replacement, want] of rows2) {
    test(`${path} with prefix ${prefix} → ${JSON.stringify(replacement)} gives ${want}`, () => {
      const t = table([
        gamma([
          {
            matches: [{ path: { type: "PathPrefix", value: prefix } }],
            filters: [
              {
                type: "URLRewrite",
                urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: replacement } },
              },
            ],
            backendRefs: [{ name: "reviews", port: 9080 }],
          },
        ]),
      ]);
      assert.equal(route(t, req({ path })).upstream.path, want);
    });
  }
});
