/**
 * gateway.networking.k8s.io: Gateway and HTTPRoute (v1, v1beta1). A Gateway of class
 * `istio-waypoint` declares a waypoint; Istio requires its HBONE listener on port 15008.
 */
import { ConfigErrorCode as C } from "../errors.js";
import {
  checkDns1123Label,
  checkDns1123Subdomain,
  checkDuration,
  parseDurationMs,
  portNumber,
} from "../formats.js";
import {
  anyValue,
  enumOf,
  int,
  list,
  type ObjectCheck,
  obj,
  type Parsed,
  problem,
  type Schema,
  str,
} from "../schema.js";
import { labelSelector, labels, stringMap } from "./common.js";

/** Gateway API hostnames: a DNS name with an optional `*.` prefix; no IPs, no ports. */
const hostname = (): Schema =>
  str({
    expect: "a hostname",
    check: (v) => {
      const name = v.startsWith("*.") ? v.slice(2) : v;
      return checkDns1123Subdomain(name) === undefined
        ? undefined
        : problem(
            C.NAME,
            `${JSON.stringify(v)} is not a hostname (a lowercase DNS name, optionally prefixed by "*.")`,
          );
    },
  });

const objectName = (): Schema => str({ check: checkDns1123Subdomain });
const namespaceName = (): Schema => str({ check: checkDns1123Label });

const parentRef = obj(
  {
    group: str(),
    kind: str(),
    namespace: namespaceName(),
    name: objectName(),
    sectionName: str(),
    port: portNumber(),
  },
  { required: ["name"] },
);

/** Gateway API listener protocols; Istio adds HBONE for waypoints. Domain-prefixed names are implementation specific. */
const LISTENER_PROTOCOLS = ["HTTP", "HTTPS", "TLS", "TCP", "UDP", "HBONE"];

const listener = obj(
  {
    name: str({ check: checkDns1123Subdomain }),
    hostname: hostname(),
    port: portNumber(),
    protocol: str({
      check: (v) =>
        LISTENER_PROTOCOLS.includes(v) || /^[a-z0-9.-]+\/[A-Za-z0-9_.-]+$/.test(v)
          ? undefined
          : problem(
              C.ENUM,
              `${JSON.stringify(v)} is not one of ${LISTENER_PROTOCOLS.join(", ")} (or a domain-prefixed protocol)`,
            ),
    }),
    tls: obj({
      mode: enumOf(["Terminate", "Passthrough"]),
      certificateRefs: list(
        obj(
          { group: str(), kind: str(), name: objectName(), namespace: namespaceName() },
          { required: ["name"] },
        ),
      ),
      options: stringMap(),
    }),
    allowedRoutes: obj({
      namespaces: obj(
        { from: enumOf(["All", "Same", "Selector"]), selector: labelSelector() },
        {
          checks: [
            (v, scope) => {
              if (v["from"] === "Selector" && v["selector"] === undefined) {
                scope.report(C.MISSING_FIELD, "selector", "from: Selector needs a selector");
              }
            },
          ],
        },
      ),
      kinds: list(obj({ group: str(), kind: str({ nonEmpty: true }) }, { required: ["kind"] })),
    }),
  },
  {
    required: ["name", "port", "protocol"],
    checks: [
      (v, scope) => {
        if ((v["protocol"] === "HTTPS" || v["protocol"] === "TLS") && v["tls"] === undefined) {
          scope.report(C.MISSING_FIELD, "tls", `protocol ${String(v["protocol"])} needs tls settings`);
        }
      },
    ],
  },
);

export const WAYPOINT_CLASS = "istio-waypoint";
export const HBONE_PORT = 15008;

const waypointListener: ObjectCheck = (v, scope) => {
  if (v["gatewayClassName"] !== WAYPOINT_CLASS) return;
  const listeners = v["listeners"] as { port: number; protocol: string }[];
  if (!listeners.some((l) => l.port === HBONE_PORT && l.protocol === "HBONE")) {
    scope.report(
      C.SEMANTIC,
      "listeners",
      `a Gateway of class ${WAYPOINT_CLASS} needs a listener with port ${HBONE_PORT} and protocol HBONE (e.g. name: mesh, port: 15008, protocol: HBONE)`,
    );
  }
};

export const gatewaySpec = obj(
  {
    gatewayClassName: objectName(),
    listeners: list(listener, {
      minItems: 1,
      uniqueBy: { key: (l: Parsed) => (l as { name?: string }).name, what: "listener name" },
    }),
    addresses: list(obj({ type: str(), value: str({ nonEmpty: true }) }, { required: ["value"] })),
    infrastructure: obj({
      labels: labels(),
      annotations: stringMap(),
      parametersRef: obj({ group: str(), kind: str(), name: str() }, { required: ["group", "kind", "name"] }),
    }),
  },
  { required: ["gatewayClassName", "listeners"], checks: [waypointListener] },
);

// ------------------------------------------------------------------ HTTPRoute

/** GEP-2257 durations; "0s" is allowed and means "no timeout". */
const duration = (): Schema => str({ expect: "a duration (e.g. 10s, 500ms)", check: checkDuration });

const durationMs = (v: string): number => parseDurationMs(v) ?? 0;

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

const headerName = (): Schema =>
  str({
    check: (v) =>
      /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(v)
        ? undefined
        : problem(C.FORMAT, `${JSON.stringify(v)} is not an HTTP header name`),
  });

const valueMatch = (): Schema =>
  obj(
    { type: enumOf(["Exact", "RegularExpression"]), name: headerName(), value: str() },
    {
      required: ["name", "value"],
      checks: [
        (v, scope) => {
          if (v["type"] === "RegularExpression") {
            try {
              new RegExp(String(v["value"]));
            } catch {
              scope.report(
                C.FORMAT,
                "value",
                `${JSON.stringify(v["value"])} is not a valid regular expression`,
              );
            }
          }
        },
      ],
    },
  );

const pathMatch = obj(
  { type: enumOf(["Exact", "PathPrefix", "RegularExpression"]), value: str() },
  {
    checks: [
      (v, scope) => {
        const type = v["type"] ?? "PathPrefix";
        const value = v["value"] as string | undefined;
        if (value === undefined) return;
        if (type !== "RegularExpression" && !value.startsWith("/")) {
          scope.report(C.FORMAT, "value", `path ${JSON.stringify(value)} must start with "/"`);
        }
        if (type === "RegularExpression") {
          try {
            new RegExp(value);
          } catch {
            scope.report(C.FORMAT, "value", `${JSON.stringify(value)} is not a valid regular expression`);
          }
        }
      },
    ],
  },
);

const headerModifier = (): Schema =>
  obj({
    set: list(obj({ name: headerName(), value: str() }, { required: ["name", "value"] })),
    add: list(obj({ name: headerName(), value: str() }, { required: ["name", "value"] })),
    remove: list(headerName()),
  });

const pathModifier = (): Schema =>
  obj(
    {
      type: enumOf(["ReplaceFullPath", "ReplacePrefixMatch"]),
      replaceFullPath: str(),
      replacePrefixMatch: str(),
    },
    {
      required: ["type"],
      checks: [
        (v, scope) => {
          const field = v["type"] === "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch";
          const other = field === "replaceFullPath" ? "replacePrefixMatch" : "replaceFullPath";
          if (v[field] === undefined)
            scope.report(C.MISSING_FIELD, field, `type ${String(v["type"])} needs ${field}`);
          if (v[other] !== undefined)
            scope.report(C.CONFLICT, other, `${other} is not allowed with type ${String(v["type"])}`);
        },
      ],
    },
  );

const backendObjectRef = {
  group: str(),
  kind: str(),
  name: objectName(),
  namespace: namespaceName(),
  port: portNumber(),
};

/** Gateway API: a Service backend (the default kind) needs a port. */
const servicePortRequired: ObjectCheck = (v, scope) => {
  const kind = v["kind"] ?? "Service";
  const group = v["group"] ?? "";
  if (kind === "Service" && group === "" && v["port"] === undefined) {
    scope.report(C.MISSING_FIELD, "port", "a Service backend needs port");
  }
};

const FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  RequestMirror: "requestMirror",
  ExtensionRef: "extensionRef",
  CORS: "cors",
};

const filter = (): Schema =>
  obj(
    {
      type: enumOf(Object.keys(FILTER_FIELDS)),
      requestHeaderModifier: headerModifier(),
      responseHeaderModifier: headerModifier(),
      requestRedirect: obj({
        scheme: enumOf(["http", "https"]),
        hostname: hostname(),
        path: pathModifier(),
        port: portNumber(),
        statusCode: int({ oneOf: [301, 302, 303, 307, 308] }),
      }),
      urlRewrite: obj({ hostname: hostname(), path: pathModifier() }),
      requestMirror: obj(
        {
          backendRef: obj(backendObjectRef, { required: ["name"], checks: [servicePortRequired] }),
          percent: int({ min: 0, max: 100 }),
          fraction: obj(
            { numerator: int({ min: 0 }), denominator: int({ min: 1 }) },
            { required: ["numerator"] },
          ),
        },
        { required: ["backendRef"] },
      ),
      extensionRef: obj({ group: str(), kind: str(), name: str() }, { required: ["group", "kind", "name"] }),
      cors: anyValue(),
    },
    {
      required: ["type"],
      checks: [
        (v, scope) => {
          const wanted = FILTER_FIELDS[String(v["type"])];
          for (const field of Object.values(FILTER_FIELDS)) {
            if (field !== wanted && v[field] !== undefined) {
              scope.report(
                C.CONFLICT,
                field,
                `${field} does not belong to a filter of type ${String(v["type"])} (set ${wanted ?? "nothing"})`,
              );
            }
          }
          if (wanted !== undefined && v[wanted] === undefined) {
            scope.report(C.MISSING_FIELD, wanted, `a filter of type ${String(v["type"])} needs ${wanted}`);
          }
        },
      ],
    },
  );

const filtersOnce: ObjectCheck = (v, scope) => {
  const filters = (v["filters"] as { type: string }[] | undefined) ?? [];
  const types = filters.map((f) => f.type);
  if (types.includes("RequestRedirect") && types.includes("URLRewrite")) {
    scope.report(C.CONFLICT, "filters", "RequestRedirect and URLRewrite filters cannot be used together");
  }
  for (const once of ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"]) {
    if (types.filter((t) => t === once).length > 1) {
      scope.report(C.DUPLICATE_ITEM, "filters", `filter ${once} may appear only once per rule`);
    }
  }
};

const rule = obj(
  {
    name: str({ check: checkDns1123Subdomain }),
    matches: list(
      obj({
        path: pathMatch,
        headers: list(valueMatch()),
        queryParams: list(valueMatch()),
        method: enumOf(HTTP_METHODS),
      }),
    ),
    filters: list(filter()),
    backendRefs: list(
      obj(
        { ...backendObjectRef, weight: int({ min: 0, max: 1000000 }), filters: list(filter()) },
        { required: ["name"], checks: [servicePortRequired] },
      ),
    ),
    timeouts: obj(
      { request: duration(), backendRequest: duration() },
      {
        checks: [
          (v, scope) => {
            const req = v["request"] as string | undefined;
            const be = v["backendRequest"] as string | undefined;
            if (
              req !== undefined &&
              be !== undefined &&
              durationMs(be) > durationMs(req) &&
              durationMs(req) > 0
            ) {
              scope.report(C.SEMANTIC, "backendRequest", "backendRequest must not be longer than request");
            }
          },
        ],
      },
    ),
    retry: obj({ codes: list(int({ min: 400, max: 599 })), attempts: int({ min: 0 }), backoff: duration() }),
    sessionPersistence: anyValue(),
  },
  { checks: [filtersOnce] },
);

export const httpRouteSpec = obj({
  parentRefs: list(parentRef),
  hostnames: list(hostname()),
  rules: list(rule),
});
