/**
 * security.istio.io: AuthorizationPolicy, PeerAuthentication, RequestAuthentication, with the
 * validation rules Istio documents (istio.io reference pages and pkg/config/validation).
 */
import { ConfigErrorCode as C } from "../errors.js";
import { checkIpOrCidr, checkPortString, duration, istioMatchString, portString } from "../formats.js";
import { bool, enumOf, list, map, type ObjectCheck, obj, problem, type Schema, str } from "../schema.js";
import { policyTargetRef, workloadSelector } from "./common.js";

const ipList = (): Schema => list(str({ expect: "an IP address or CIDR block", check: checkIpOrCidr }));
const matchList = (): Schema => list(istioMatchString());

const nonEmpty =
  (what: string): ObjectCheck =>
  (v, scope) => {
    if (Object.keys(v).length === 0)
      scope.report(C.MISSING_FIELD, "", `${what} must not be empty (set at least one field)`);
  };

const source = obj(
  {
    principals: matchList(),
    notPrincipals: matchList(),
    requestPrincipals: matchList(),
    notRequestPrincipals: matchList(),
    namespaces: matchList(),
    notNamespaces: matchList(),
    serviceAccounts: list(str({ nonEmpty: true })),
    notServiceAccounts: list(str({ nonEmpty: true })),
    ipBlocks: ipList(),
    notIpBlocks: ipList(),
    remoteIpBlocks: ipList(),
    notRemoteIpBlocks: ipList(),
  },
  {
    checks: [
      nonEmpty("source"),
      (v, scope) => {
        // Istio: serviceAccounts already name a namespace, so they cannot be combined with (not)namespaces / principals.
        if ((v["serviceAccounts"] || v["notServiceAccounts"]) && (v["principals"] || v["namespaces"])) {
          scope.report(
            C.CONFLICT,
            "serviceAccounts",
            "serviceAccounts cannot be combined with principals or namespaces (a service account already names its namespace)",
          );
        }
      },
    ],
  },
);

const operation = obj(
  {
    hosts: matchList(),
    notHosts: matchList(),
    ports: list(portString()),
    notPorts: list(portString()),
    methods: list(str({ nonEmpty: true })),
    notMethods: list(str({ nonEmpty: true })),
    paths: matchList(),
    notPaths: matchList(),
  },
  { checks: [nonEmpty("operation")] },
);

/** Condition keys Istio documents for `when` (authorization-policy conditions page). */
const CONDITION_KEYS = [
  "request.headers[",
  "source.ip",
  "remote.ip",
  "source.namespace",
  "source.principal",
  "source.serviceAccount",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "request.auth.claims[",
  "destination.ip",
  "destination.port",
  "connection.sni",
  "experimental.envoy.filters.",
];

function checkConditionKey(key: string) {
  const ok = CONDITION_KEYS.some((k) => (k.endsWith("[") || k.endsWith(".") ? key.startsWith(k) : key === k));
  if (ok && (!key.includes("[") || key.endsWith("]"))) return undefined;
  return problem(
    C.ENUM,
    `${JSON.stringify(key)} is not a supported condition key (expected one of: request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[<name>], destination.ip, destination.port, connection.sni)`,
  );
}

const condition = obj(
  {
    key: str({ expect: "a condition key", check: checkConditionKey }),
    values: list(str()),
    notValues: list(str()),
  },
  {
    required: ["key"],
    checks: [
      (v, scope) => {
        const values = [...((v["values"] as string[]) ?? []), ...((v["notValues"] as string[]) ?? [])];
        if (values.length === 0)
          scope.report(C.MISSING_FIELD, "", "at least one of values or notValues must be set");
        if (v["key"] === "destination.port") {
          for (const [field, list] of [
            ["values", v["values"]],
            ["notValues", v["notValues"]],
          ] as const) {
            for (const [i, port] of ((list as string[] | undefined) ?? []).entries()) {
              const p = checkPortString(port);
              if (p) scope.report(p.code, `${field}[${i}]`, p.message);
            }
          }
        }
        if (v["key"] === "source.ip" || v["key"] === "remote.ip" || v["key"] === "destination.ip") {
          for (const field of ["values", "notValues"] as const) {
            for (const [i, ip] of ((v[field] as string[] | undefined) ?? []).entries()) {
              const p = checkIpOrCidr(ip);
              if (p) scope.report(p.code, `${field}[${i}]`, p.message);
            }
          }
        }
      },
    ],
  },
);

const rule = obj({
  from: list(obj({ source }, { required: ["source"] })),
  to: list(obj({ operation }, { required: ["operation"] })),
  when: list(condition),
});

/** Istio: `selector` and `targetRef(s)` choose the workloads two different ways; only one may be used. */
const exclusiveTargeting: ObjectCheck = (v, scope) => {
  if (v["selector"] !== undefined && (v["targetRef"] !== undefined || v["targetRefs"] !== undefined)) {
    scope.report(
      C.CONFLICT,
      v["targetRef"] !== undefined ? "targetRef" : "targetRefs",
      "selector and targetRef/targetRefs are mutually exclusive (use targetRefs to attach to a Service or waypoint Gateway, selector for workloads)",
    );
  }
  if (v["targetRef"] !== undefined && v["targetRefs"] !== undefined) {
    scope.report(
      C.CONFLICT,
      "targetRefs",
      "targetRef and targetRefs are mutually exclusive (use targetRefs)",
    );
  }
};

export const authorizationPolicySpec = obj(
  {
    selector: workloadSelector(),
    targetRef: policyTargetRef(),
    targetRefs: list(policyTargetRef()),
    rules: list(rule),
    action: enumOf(["ALLOW", "DENY", "AUDIT", "CUSTOM"]),
    provider: obj({ name: str({ nonEmpty: true }) }, { required: ["name"] }),
  },
  {
    checks: [
      exclusiveTargeting,
      (v, scope) => {
        const action = (v["action"] as string | undefined) ?? "ALLOW";
        if (action === "CUSTOM" && v["provider"] === undefined) {
          scope.report(
            C.MISSING_FIELD,
            "action",
            "action CUSTOM needs a provider (provider.name of an extension authorizer)",
          );
        }
        if (action !== "CUSTOM" && v["provider"] !== undefined) {
          scope.report(
            C.CONFLICT,
            "provider",
            `provider is only allowed with action CUSTOM (action is ${action})`,
          );
        }
      },
    ],
  },
);

const mtlsMode = enumOf(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]);

export const peerAuthenticationSpec = obj(
  {
    selector: workloadSelector(),
    mtls: obj({ mode: mtlsMode }),
    portLevelMtls: map(obj({ mode: mtlsMode }), { key: checkPortString, expectKey: "port number" }),
  },
  {
    checks: [
      (v, scope) => {
        // Istio: port-level settings only make sense for known workloads, whose ports are known.
        if (v["portLevelMtls"] !== undefined && v["selector"] === undefined) {
          scope.report(
            C.SEMANTIC,
            "portLevelMtls",
            "portLevelMtls requires a selector (port-level settings apply only to selected workloads)",
          );
        }
      },
    ],
  },
);

const jwtRule = obj(
  {
    issuer: str({ nonEmpty: true }),
    audiences: list(str()),
    jwksUri: str({
      check: (v) =>
        /^https?:\/\//.test(v) ? undefined : problem(C.FORMAT, `${JSON.stringify(v)} is not an http(s) URL`),
    }),
    jwks: str(),
    fromHeaders: list(obj({ name: str({ nonEmpty: true }), prefix: str() }, { required: ["name"] })),
    fromParams: list(str()),
    fromCookies: list(str()),
    outputPayloadToHeader: str(),
    forwardOriginalToken: bool(),
    outputClaimToHeaders: list(obj({ header: str(), claim: str() }, { required: ["header", "claim"] })),
    timeout: duration(),
  },
  {
    required: ["issuer"],
    checks: [
      (v, scope) => {
        if (v["jwks"] !== undefined && v["jwksUri"] !== undefined) {
          scope.report(C.CONFLICT, "jwks", "jwks and jwksUri are mutually exclusive");
        }
      },
    ],
  },
);

export const requestAuthenticationSpec = obj(
  {
    selector: workloadSelector(),
    targetRef: policyTargetRef(),
    targetRefs: list(policyTargetRef()),
    jwtRules: list(jwtRule),
  },
  { checks: [exclusiveTargeting] },
);
