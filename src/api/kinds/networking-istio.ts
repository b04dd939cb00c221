/**
 * networking.istio.io: VirtualService, DestinationRule, ServiceEntry, WorkloadEntry — the fields of
 * Istio's reference pages, with the cross-field rules Istio's validation enforces.
 */
import { ConfigErrorCode as C } from "../errors.js";
import {
  checkDns1123Label,
  checkHost,
  checkIpOrCidr,
  duration,
  host,
  ipOrCidr,
  portNumber,
  regex,
} from "../formats.js";
import {
  bool,
  enumOf,
  int,
  list,
  map,
  num,
  type ObjectCheck,
  obj,
  type Parsed,
  problem,
  type Schema,
  str,
} from "../schema.js";
import { exportTo, labels, stringMap, workloadSelector } from "./common.js";

// ------------------------------------------------------------------ shared messages

/** Exactly one of exact / prefix / regex; `{}` (presence) is allowed where `allowEmpty`. */
export function stringMatch(allowEmpty = false): Schema {
  return obj(
    { exact: str(), prefix: str(), regex: regex() },
    {
      checks: [
        (v, scope) => {
          const set = ["exact", "prefix", "regex"].filter((k) => v[k] !== undefined);
          if (set.length > 1) {
            scope.report(
              C.CONFLICT,
              set[1] ?? "",
              `only one of exact, prefix or regex may be set (found ${set.join(", ")})`,
            );
          }
          if (set.length === 0 && !allowEmpty)
            scope.report(C.MISSING_FIELD, "", "one of exact, prefix or regex is required");
        },
      ],
    },
  );
}

export const percent = (): Schema => obj({ value: num({ min: 0, max: 100 }) });

export const destination = (): Schema =>
  obj(
    {
      host: host(),
      subset: str({ check: checkDns1123Label }),
      port: obj({ number: portNumber() }),
    },
    { required: ["host"] },
  );

const headerOperations = (): Schema => obj({ set: stringMap(), add: stringMap(), remove: list(str()) });
export const headers = (): Schema => obj({ request: headerOperations(), response: headerOperations() });

export const httpMatchRequest = (): Schema =>
  obj({
    name: str(),
    uri: stringMatch(),
    scheme: stringMatch(),
    method: stringMatch(),
    authority: stringMatch(),
    headers: map(stringMatch(true)),
    port: portNumber(),
    sourceLabels: labels(),
    gateways: list(str()),
    queryParams: map(stringMatch(true)),
    ignoreUriCase: bool(),
    withoutHeaders: map(stringMatch(true)),
    sourceNamespace: str({ check: checkDns1123Label }),
    statPrefix: str(),
  });

/**
 * Weights are percentages: with more than one destination they must add up to 100 (a single
 * destination implicitly gets 100). Shared by VirtualService routes and TrafficSplit rules.
 */
export const weightsSumTo100: ObjectCheck = (v, scope) => {
  const route = v["route"] as { weight?: number }[] | undefined;
  if (route === undefined || route.length < 2) return;
  const sum = route.reduce((s, d) => s + (d.weight ?? 0), 0);
  if (sum !== 100) {
    scope.report(
      C.WEIGHT_SUM,
      "route",
      `route weights add up to ${sum}, expected 100 (${route.map((d) => d.weight ?? 0).join(" + ")})`,
    );
  }
};

export const weight = (): Schema => int({ min: 0, max: 100 });

const httpRouteDestination = obj(
  { destination: destination(), weight: weight(), headers: headers() },
  { required: ["destination"] },
);

const routeDestination = obj({ destination: destination(), weight: weight() }, { required: ["destination"] });

// ------------------------------------------------------------------ VirtualService

const httpRedirect = obj({
  uri: str(),
  authority: str(),
  port: portNumber(),
  derivePort: enumOf(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]),
  scheme: str(),
  redirectCode: int({ min: 300, max: 399 }),
});

const httpRewrite = obj(
  {
    uri: str(),
    authority: str(),
    uriRegexRewrite: obj({ match: regex(), rewrite: str() }, { required: ["match", "rewrite"] }),
  },
  {
    checks: [
      (v, scope) => {
        if (v["uri"] !== undefined && v["uriRegexRewrite"] !== undefined) {
          scope.report(C.CONFLICT, "uriRegexRewrite", "uri and uriRegexRewrite are mutually exclusive");
        }
      },
    ],
  },
);

const GRPC_STATUS = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

const oneOfRequired =
  (fields: readonly string[], what: string): ObjectCheck =>
  (v, scope) => {
    const set = fields.filter((f) => v[f] !== undefined);
    if (set.length === 0) scope.report(C.MISSING_FIELD, "", `${what} needs one of ${fields.join(", ")}`);
    if (set.length > 1)
      scope.report(
        C.CONFLICT,
        set[1] ?? "",
        `${what} takes only one of ${fields.join(", ")} (found ${set.join(", ")})`,
      );
  };

const httpFault = obj({
  delay: obj(
    {
      fixedDelay: duration(),
      exponentialDelay: duration(),
      percentage: percent(),
      percent: int({ min: 0, max: 100 }),
    },
    { checks: [oneOfRequired(["fixedDelay", "exponentialDelay"], "delay")] },
  ),
  abort: obj(
    {
      httpStatus: int({ min: 200, max: 599 }),
      grpcStatus: enumOf(GRPC_STATUS),
      http2Error: str(),
      percentage: percent(),
    },
    { checks: [oneOfRequired(["httpStatus", "grpcStatus", "http2Error"], "abort")] },
  ),
});

const corsPolicy = obj({
  allowOrigins: list(stringMatch()),
  allowOrigin: list(str()),
  allowMethods: list(str()),
  allowHeaders: list(str()),
  exposeHeaders: list(str()),
  maxAge: duration(),
  allowCredentials: bool(),
  unmatchedPreflights: enumOf(["UNSPECIFIED", "FORWARD", "IGNORE"]),
});

const httpRoute = obj(
  {
    name: str(),
    match: list(httpMatchRequest()),
    route: list(httpRouteDestination),
    redirect: httpRedirect,
    directResponse: obj(
      {
        status: int({ min: 200, max: 599 }),
        body: obj({ string: str(), bytes: str() }, { checks: [oneOfRequired(["string", "bytes"], "body")] }),
      },
      { required: ["status"] },
    ),
    delegate: obj({ name: str(), namespace: str({ check: checkDns1123Label }) }),
    rewrite: httpRewrite,
    timeout: duration(),
    retries: obj({
      attempts: int({ min: 0 }),
      perTryTimeout: duration(),
      retryOn: str({
        check: (v) =>
          v.split(",").every((s) => s.trim() !== "")
            ? undefined
            : problem(C.FORMAT, `${JSON.stringify(v)} is not a comma-separated list of retry conditions`),
      }),
      retryRemoteLocalities: bool(),
    }),
    fault: httpFault,
    mirror: destination(),
    mirrors: list(obj({ destination: destination(), percentage: percent() }, { required: ["destination"] })),
    mirrorPercentage: percent(),
    mirrorPercent: int({ min: 0, max: 100 }),
    corsPolicy,
    headers: headers(),
  },
  {
    checks: [
      weightsSumTo100,
      (v, scope) => {
        const targets = ["route", "redirect", "directResponse", "delegate"].filter((k) => v[k] !== undefined);
        if (targets.length === 0) {
          scope.report(
            C.MISSING_FIELD,
            "",
            "an http route needs one of route, redirect, directResponse or delegate",
          );
        } else if (targets.length > 1) {
          scope.report(
            C.CONFLICT,
            targets[1] ?? "",
            `route, redirect, directResponse and delegate are mutually exclusive (found ${targets.join(", ")})`,
          );
        }
        if (v["rewrite"] !== undefined && v["redirect"] !== undefined) {
          scope.report(C.CONFLICT, "rewrite", "rewrite cannot be combined with redirect");
        }
        if (v["mirror"] !== undefined && v["mirrors"] !== undefined) {
          scope.report(C.CONFLICT, "mirrors", "mirror and mirrors are mutually exclusive (use mirrors)");
        }
      },
    ],
  },
);

const l4Match = {
  destinationSubnets: list(ipOrCidr()),
  port: portNumber(),
  sourceLabels: labels(),
  gateways: list(str()),
  sourceNamespace: str({ check: checkDns1123Label }),
};

const tcpRoute = obj(
  { match: list(obj(l4Match)), route: list(routeDestination) },
  { checks: [weightsSumTo100] },
);

const tlsRoute = obj(
  {
    match: list(obj({ ...l4Match, sniHosts: list(host(), { minItems: 1 }) }, { required: ["sniHosts"] }), {
      minItems: 1,
    }),
    route: list(routeDestination),
  },
  { required: ["match"], checks: [weightsSumTo100] },
);

export const virtualServiceSpec = obj(
  {
    hosts: list(host()),
    gateways: list(str()),
    http: list(httpRoute),
    tls: list(tlsRoute),
    tcp: list(tcpRoute),
    exportTo: exportTo(),
  },
  {
    checks: [
      (v, scope) => {
        const hosts = (v["hosts"] as string[] | undefined) ?? [];
        const http = (v["http"] as { delegate?: unknown }[] | undefined) ?? [];
        // A delegate VirtualService (one referenced by another's `delegate`) has no hosts of its own.
        const isDelegateTarget = hosts.length === 0 && v["gateways"] === undefined;
        if (hosts.length === 0 && !isDelegateTarget) {
          scope.report(C.MISSING_FIELD, "hosts", "hosts must list at least one host");
        }
        if (v["http"] === undefined && v["tcp"] === undefined && v["tls"] === undefined) {
          scope.report(C.MISSING_FIELD, "", "a VirtualService needs at least one of http, tcp or tls routes");
        }
        if (isDelegateTarget && http.some((r) => r.delegate !== undefined)) {
          scope.report(C.SEMANTIC, "http", "a delegate VirtualService (without hosts) cannot delegate again");
        }
      },
    ],
  },
);

// ------------------------------------------------------------------ DestinationRule

const consistentHash = obj(
  {
    httpHeaderName: str(),
    httpCookie: obj({ name: str({ nonEmpty: true }), path: str(), ttl: duration() }, { required: ["name"] }),
    useSourceIp: bool(),
    httpQueryParameterName: str(),
    ringHash: obj({ minimumRingSize: int({ min: 0 }) }),
    maglev: obj({ tableSize: int({ min: 0 }) }),
    minimumRingSize: int({ min: 0 }),
  },
  {
    checks: [
      oneOfRequired(
        ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"],
        "consistentHash",
      ),
      (v, scope) => {
        if (v["ringHash"] !== undefined && v["maglev"] !== undefined) {
          scope.report(C.CONFLICT, "maglev", "ringHash and maglev are mutually exclusive");
        }
      },
    ],
  },
);

const localityLbSetting = obj({
  distribute: list(obj({ from: str(), to: map(int({ min: 0, max: 100 })) })),
  failover: list(obj({ from: str(), to: str() })),
  failoverPriority: list(str()),
  enabled: bool(),
});

const loadBalancer = obj(
  {
    simple: enumOf(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]),
    consistentHash,
    localityLbSetting,
    warmupDurationSecs: duration(),
  },
  {
    checks: [
      (v, scope) => {
        if (v["simple"] !== undefined && v["consistentHash"] !== undefined) {
          scope.report(C.CONFLICT, "consistentHash", "simple and consistentHash are mutually exclusive");
        }
      },
    ],
  },
);

const connectionPool = obj({
  tcp: obj({
    maxConnections: int({ min: 0 }),
    connectTimeout: duration(),
    tcpKeepalive: obj({ probes: int({ min: 0 }), time: duration(), interval: duration() }),
    maxConnectionDuration: duration(),
    idleTimeout: duration(),
  }),
  http: obj({
    http1MaxPendingRequests: int({ min: 0 }),
    http2MaxRequests: int({ min: 0 }),
    maxRequestsPerConnection: int({ min: 0 }),
    maxRetries: int({ min: 0 }),
    idleTimeout: duration(),
    h2UpgradePolicy: enumOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]),
    useClientProtocol: bool(),
    maxConcurrentStreams: int({ min: 0 }),
  }),
});

const outlierDetection = obj({
  consecutiveErrors: int({ min: 0 }),
  consecutiveLocalOriginFailures: int({ min: 0 }),
  consecutiveGatewayErrors: int({ min: 0 }),
  consecutive5xxErrors: int({ min: 0 }),
  splitExternalLocalOriginErrors: bool(),
  interval: duration(),
  baseEjectionTime: duration(),
  maxEjectionPercent: int({ min: 0, max: 100 }),
  minHealthPercent: int({ min: 0, max: 100 }),
});

const clientTls = obj(
  {
    mode: enumOf(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]),
    clientCertificate: str(),
    privateKey: str(),
    caCertificates: str(),
    credentialName: str(),
    subjectAltNames: list(str()),
    sni: str(),
    insecureSkipVerify: bool(),
    caCrl: str(),
  },
  {
    checks: [
      (v, scope) => {
        // Istio: MUTUAL needs a key pair unless it comes from a credentialName secret.
        if (v["mode"] === "MUTUAL" && v["credentialName"] === undefined) {
          if (v["clientCertificate"] === undefined) {
            scope.report(
              C.MISSING_FIELD,
              "",
              "mode MUTUAL needs clientCertificate and privateKey (or credentialName)",
            );
          } else if (v["privateKey"] === undefined) {
            scope.report(C.MISSING_FIELD, "", "mode MUTUAL needs privateKey with clientCertificate");
          }
        }
      },
    ],
  },
);

const portTrafficPolicy = obj({
  port: obj({ number: portNumber() }),
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls: clientTls,
});

const trafficPolicy = obj({
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls: clientTls,
  portLevelSettings: list(portTrafficPolicy, {
    uniqueBy: {
      key: (p) => {
        const n = (p as { port?: { number?: number } }).port?.number;
        return n === undefined ? undefined : String(n);
      },
      what: "port",
    },
  }),
  tunnel: obj(
    { protocol: enumOf(["CONNECT", "POST"]), targetHost: str({ nonEmpty: true }), targetPort: portNumber() },
    { required: ["targetHost", "targetPort"] },
  ),
  proxyProtocol: obj({ version: enumOf(["V1", "V2"]) }),
});

const byName = (what: string) => ({ key: (v: Parsed) => (v as { name?: string }).name, what });

export const destinationRuleSpec = obj(
  {
    host: host(),
    trafficPolicy,
    subsets: list(
      obj(
        { name: str({ check: checkDns1123Label }), labels: labels(), trafficPolicy },
        { required: ["name"] },
      ),
      { uniqueBy: byName("subset name") },
    ),
    exportTo: exportTo(),
    workloadSelector: workloadSelector(),
  },
  { required: ["host"] },
);

// ------------------------------------------------------------------ ServiceEntry, WorkloadEntry

const PROTOCOLS = [
  "HTTP",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "HTTP2",
  "MONGO",
  "REDIS",
  "MYSQL",
  "TCP",
  "TLS",
  "UDP",
  "HBONE",
];

export const workloadEntrySpec = obj({
  address: str({
    expect: "an IP address, a host name or a unix:// path",
    check: (v) =>
      v.startsWith("unix://") || checkIpOrCidr(v) === undefined || checkHost(v) === undefined
        ? undefined
        : problem(C.FORMAT, `${JSON.stringify(v)} is not an IP address, host name or unix:// path`),
  }),
  ports: map(portNumber()),
  labels: labels(),
  network: str(),
  locality: str(),
  weight: int({ min: 0, max: 4294967295 }),
  serviceAccount: str({ check: checkDns1123Label }),
});

const servicePort = obj(
  {
    number: portNumber(),
    protocol: str({
      check: (v) =>
        PROTOCOLS.includes(v.toUpperCase())
          ? undefined
          : problem(C.ENUM, `${JSON.stringify(v)} is not one of ${PROTOCOLS.join(", ")}`),
    }),
    name: str({ nonEmpty: true }),
    targetPort: portNumber(),
  },
  { required: ["number", "name"] },
);

export const serviceEntrySpec = obj(
  {
    hosts: list(host(), { minItems: 1 }),
    addresses: list(ipOrCidr()),
    ports: list(servicePort, {
      uniqueBy: byName("port name"),
    }),
    location: enumOf(["MESH_EXTERNAL", "MESH_INTERNAL"]),
    resolution: enumOf(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]),
    endpoints: list(workloadEntrySpec),
    workloadSelector: obj({ labels: labels() }),
    exportTo: exportTo(),
    subjectAltNames: list(str()),
  },
  {
    required: ["hosts"],
    checks: [
      (v, scope) => {
        const endpoints = (v["endpoints"] as { address?: string }[] | undefined) ?? [];
        if (v["workloadSelector"] !== undefined && endpoints.length > 0) {
          scope.report(
            C.CONFLICT,
            "workloadSelector",
            "workloadSelector and endpoints are mutually exclusive",
          );
        }
        const resolution = v["resolution"] ?? "NONE";
        if (resolution === "STATIC") {
          for (const [i, ep] of endpoints.entries()) {
            if (
              ep.address !== undefined &&
              !ep.address.startsWith("unix://") &&
              checkIpOrCidr(ep.address) !== undefined
            ) {
              scope.report(
                C.SEMANTIC,
                `endpoints[${i}].address`,
                `resolution STATIC needs IP addresses, found ${JSON.stringify(ep.address)} (use resolution DNS for host names)`,
              );
            }
          }
        }
        if (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") {
          const hosts = (v["hosts"] as string[]) ?? [];
          if (endpoints.length === 0 && hosts.some((h) => h.startsWith("*"))) {
            scope.report(
              C.SEMANTIC,
              "hosts",
              "resolution DNS without endpoints needs hosts without wildcards",
            );
          }
        }
      },
    ],
  },
);
