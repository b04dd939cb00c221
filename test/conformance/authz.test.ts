/**
 * Conformance of ambit's authorization engine with Istio's documented semantics. Every row cites the
 * documentation (or istiod source) it was written from. Rows are data; one loop runs them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthorizationPolicy, PeerAuthentication } from "../../src/api/types.js";
import { type AuthzRequest, compilePolicies, evaluate } from "../../src/policy/index.js";
import { ap, DOC, pa, SLEEP, wp, zt } from "./authz-fixtures.js";

interface Expect {
  decision: "allow" | "deny";
  policy?: string | null;
  rule?: number | null;
  reasonCode?: string;
  /** A substring that one of the decision's warnings must contain. */
  warning?: string;
  dryRunDecision?: "allow" | "deny";
  audit?: string[];
}

interface Row {
  name: string;
  cite: string;
  resources: (AuthorizationPolicy | PeerAuthentication)[];
  request: AuthzRequest;
  expect: Expect;
}

const allowNothing = (ns: string, name = "allow-nothing") => ap(ns, name, {});

/** The example policy at the top of the AuthorizationPolicy reference. */
const httpbinExample = ap("foo", "httpbin", {
  action: "ALLOW",
  rules: [
    {
      from: [
        { source: { principals: ["cluster.local/ns/default/sa/sleep"] } },
        { source: { namespaces: ["test"] } },
      ],
      to: [
        { operation: { methods: ["GET"], paths: ["/info*"] } },
        { operation: { methods: ["POST"], paths: ["/data"] } },
      ],
      when: [{ key: "request.auth.claims[iss]", values: ["https://accounts.google.com"] }],
    },
  ],
  targetRefs: [{ kind: "Service", group: "", name: "httpbin" }],
});
const google = {
  principal: "https://accounts.google.com/alice",
  claims: { iss: "https://accounts.google.com" },
};

const sourceAnd = ap("foo", "source-and", {
  rules: [
    {
      from: [
        {
          source: {
            principals: ["cluster.local/ns/prod/sa/admin", "cluster.local/ns/test/sa/dev"],
            namespaces: ["prod", "test"],
            notIpBlocks: ["203.0.113.4"],
          },
        },
      ],
    },
  ],
});

const operationAnd = ap("foo", "operation-and", {
  targetRefs: [{ kind: "Service", group: "", name: "httpbin" }],
  rules: [
    { to: [{ operation: { hosts: ["*.example.com"], methods: ["GET", "HEAD"], notPaths: ["/admin*"] } }] },
  ],
});

const svcTarget = [{ kind: "Service", group: "", name: "httpbin" }];
const wpAllow = (name: string, rule: NonNullable<AuthorizationPolicy["spec"]>["rules"]) =>
  ap("foo", name, { targetRefs: svcTarget, rules: rule ?? [] });

const rows: Row[] = [
  // ---------------------------------------------------------------- evaluation order and defaults
  {
    name: "no policy at all: allowed",
    cite: `${DOC.AP} (evaluation rule 3: no ALLOW policies for the workload → allow)`,
    resources: [],
    request: zt(),
    expect: { decision: "allow", policy: null, rule: null, reasonCode: "no-policy" },
  },
  {
    name: "a matching DENY wins over a matching ALLOW",
    cite: `${DOC.AP} (rule 2: any DENY policy that matches denies, before ALLOW)`,
    resources: [
      ap("foo", "allow-sleep", { rules: [{ from: [{ source: { principals: [SLEEP] } }] }] }),
      ap("foo", "deny-sleep", { action: "DENY", rules: [{ from: [{ source: { principals: [SLEEP] } }] }] }),
    ],
    request: zt(),
    expect: { decision: "deny", policy: "foo/deny-sleep", rule: 0, reasonCode: "deny-matched" },
  },
  {
    name: "a DENY that does not match and no ALLOW policy: allowed",
    cite: `${DOC.AP} (rules 2-3)`,
    resources: [
      ap("foo", "deny-dev", { action: "DENY", rules: [{ from: [{ source: { namespaces: ["dev"] } }] }] }),
    ],
    request: zt(),
    expect: { decision: "allow", policy: null, reasonCode: "no-policy" },
  },
  {
    name: "an ALLOW policy that matches: allowed, policy and rule reported",
    cite: `${DOC.AP} (rule 4: any ALLOW policy matches → allow)`,
    resources: [ap("foo", "allow-sleep", { rules: [{ from: [{ source: { principals: [SLEEP] } }] }] })],
    request: zt(),
    expect: { decision: "allow", policy: "foo/allow-sleep", rule: 0, reasonCode: "allow-matched" },
  },
  {
    name: "ALLOW policies apply but none matches: denied",
    cite: `${DOC.AP} (rule 5: deny the request)`,
    resources: [
      ap("foo", "allow-other", {
        rules: [{ from: [{ source: { principals: ["cluster.local/ns/foo/sa/other"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "deny", policy: null, rule: null, reasonCode: "no-allow-matched" },
  },
  {
    name: "allow-nothing (spec: {}) denies every workload of the namespace",
    cite: `${DOC.AP} (example allow-nothing in namespace foo)`,
    resources: [allowNothing("foo")],
    request: zt(),
    expect: { decision: "deny", reasonCode: "no-allow-matched" },
  },
  {
    name: "allow-all (rules: [{}]) allows everything",
    cite: `${DOC.AP} (example allow-all: an empty rule is always matched)`,
    resources: [ap("foo", "allow-all", { rules: [{}] })],
    request: zt({ principal: null }),
    expect: { decision: "allow", policy: "foo/allow-all", rule: 0 },
  },
  {
    name: "allow-nothing with a selector denies the selected workloads",
    cite: `${DOC.AP} (example allow-nothing for app: httpbin in namespace bar)`,
    resources: [ap("bar", "allow-nothing", { selector: { matchLabels: { app: "httpbin" } } })],
    request: zt({ namespace: "bar" }),
    expect: { decision: "deny" },
  },
  {
    name: "allow-nothing with a selector leaves other workloads of the namespace alone",
    cite: DOC.AP_SELECTOR,
    resources: [ap("bar", "allow-nothing", { selector: { matchLabels: { app: "httpbin" } } })],
    request: zt({ namespace: "bar", labels: { app: "ratings" } }),
    expect: { decision: "allow", reasonCode: "no-policy" },
  },
  {
    name: "a DENY policy without rules never matches",
    cite: `${DOC.AP} (rules: "If not set, the match will never occur")`,
    resources: [ap("foo", "deny-empty", { action: "DENY" })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "deny-all: DENY with an empty rule denies everything",
    cite: DOC.CONCEPT_ALLOW_NOTHING,
    resources: [ap("foo", "deny-all", { action: "DENY", rules: [{}] })],
    request: zt(),
    expect: { decision: "deny", policy: "foo/deny-all", rule: 0 },
  },
  {
    name: "a root-namespace policy without selector applies mesh-wide",
    cite: `${DOC.AP} (metadata/namespace: the root namespace applies to all namespaces)`,
    resources: [allowNothing("istio-system")],
    request: zt(),
    expect: { decision: "deny" },
  },
  {
    name: "a root-namespace selector matches workloads in every namespace",
    cite: `${DOC.AP} (example: version: v1 in all namespaces when in istio-system)`,
    resources: [ap("istio-system", "allow-nothing", { selector: { matchLabels: { version: "v1" } } })],
    request: zt(),
    expect: { decision: "deny" },
  },
  {
    name: "a root-namespace selector does not match other labels",
    cite: DOC.AP_SELECTOR,
    resources: [ap("istio-system", "allow-nothing", { selector: { matchLabels: { version: "v2" } } })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "a policy in another (non-root) namespace does not apply",
    cite: `${DOC.AP_SELECTOR} ("The selector will match with workloads in the same namespace")`,
    resources: [allowNothing("bar")],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "a selector needs every label to match",
    cite: "https://istio.io/latest/docs/reference/config/type/workload-selector/",
    resources: [ap("foo", "allow-nothing", { selector: { matchLabels: { app: "httpbin", version: "v2" } } })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "AUDIT never changes the decision and is reported",
    cite: `${DOC.AP} (AUDIT policies do not affect whether requests are allowed or denied)`,
    resources: [
      ap("foo", "audit-get", {
        action: "AUDIT",
        targetRefs: svcTarget,
        rules: [{ to: [{ operation: { methods: ["GET"] } }] }],
      }),
    ],
    request: wp(),
    expect: { decision: "allow", reasonCode: "no-policy", audit: ["foo/audit-get"] },
  },
  {
    name: "AUDIT is ignored by ztunnel, with a warning",
    cite: `${DOC.ISTIOD_AMBIENT} ("ztunnel does not support the AUDIT action")`,
    resources: [ap("foo", "audit-all", { action: "AUDIT", rules: [{}] })],
    request: zt(),
    expect: { decision: "allow", warning: "ignored by ztunnel" },
  },

  // ---------------------------------------------------------------- the reference's example policy
  {
    name: "reference example: sleep GET /info/x with a google JWT is allowed",
    cite: `${DOC.AP} (first example: httpbin)`,
    resources: [httpbinExample],
    request: wp({ principal: "cluster.local/ns/default/sa/sleep", path: "/info/x", auth: google }),
    expect: { decision: "allow", policy: "foo/httpbin", rule: 0 },
  },
  {
    name: "reference example: POST /info is not one of the operations",
    cite: `${DOC.AP} (first example: httpbin)`,
    resources: [httpbinExample],
    request: wp({
      principal: "cluster.local/ns/default/sa/sleep",
      method: "POST",
      path: "/info",
      auth: google,
    }),
    expect: { decision: "deny" },
  },
  {
    name: "reference example: any workload of namespace test may POST /data",
    cite: `${DOC.AP} (first example: from namespace "test")`,
    resources: [httpbinExample],
    request: wp({ principal: "cluster.local/ns/test/sa/any", method: "POST", path: "/data", auth: google }),
    expect: { decision: "allow", policy: "foo/httpbin" },
  },
  {
    name: "reference example: without the JWT condition the request is denied",
    cite: `${DOC.AP} (first example: when request.auth.claims[iss])`,
    resources: [httpbinExample],
    request: wp({ principal: "cluster.local/ns/default/sa/sleep", path: "/info" }),
    expect: { decision: "deny" },
  },

  // ---------------------------------------------------------------- Source / Operation field logic
  {
    name: "source fields are AND'd: notIpBlocks excludes the listed address",
    cite: `${DOC.AP_SOURCE} (principals and namespaces and not ip 203.0.113.4)`,
    resources: [sourceAnd],
    request: zt({ principal: "cluster.local/ns/prod/sa/admin", sourceIp: "203.0.113.4" }),
    expect: { decision: "deny" },
  },
  {
    name: "source fields are AND'd: all hold",
    cite: DOC.AP_SOURCE,
    resources: [sourceAnd],
    request: zt({ principal: "cluster.local/ns/prod/sa/admin", sourceIp: "203.0.113.5" }),
    expect: { decision: "allow", policy: "foo/source-and" },
  },
  {
    name: "source fields are AND'd: principal listed but namespace not",
    cite: DOC.AP_SOURCE,
    resources: [
      ap("foo", "p-and-ns", {
        rules: [
          { from: [{ source: { principals: ["cluster.local/ns/prod/sa/admin"], namespaces: ["test"] } }] },
        ],
      }),
    ],
    request: zt({ principal: "cluster.local/ns/prod/sa/admin" }),
    expect: { decision: "deny" },
  },
  {
    name: "operation fields are AND'd: host suffix, method and not-path hold",
    cite: `${DOC.AP_OPERATION} (hosts *.example.com, methods GET/HEAD, notPaths /admin*)`,
    resources: [operationAnd],
    request: wp({ host: "api.example.com", method: "HEAD", path: "/public" }),
    expect: { decision: "allow", policy: "foo/operation-and" },
  },
  {
    name: "operation fields are AND'd: a path under /admin is excluded",
    cite: DOC.AP_OPERATION,
    resources: [operationAnd],
    request: wp({ host: "api.example.com", path: "/admin/users" }),
    expect: { decision: "deny" },
  },
  {
    name: "hosts match case-insensitively",
    cite: `${DOC.AP_OPERATION} (hosts: "The match is case-insensitive")`,
    resources: [operationAnd],
    request: wp({ host: "API.Example.COM", path: "/public" }),
    expect: { decision: "allow" },
  },
  {
    name: "a host with a port does not match the bare host (write host:* as well)",
    cite: DOC.HOSTS,
    resources: [wpAllow("hosts", [{ to: [{ operation: { hosts: ["httpbin.foo"] } }] }])],
    request: wp({ host: "httpbin.foo:8000" }),
    expect: { decision: "deny" },
  },
  {
    name: "hosts host:* matches the host with any port",
    cite: DOC.HOSTS,
    resources: [wpAllow("hosts", [{ to: [{ operation: { hosts: ["httpbin.foo", "httpbin.foo:*"] } }] }])],
    request: wp({ host: "httpbin.foo:8000" }),
    expect: { decision: "allow" },
  },
  {
    name: "methods compare case-sensitively",
    cite: `${DOC.AP_OPERATION} (methods as specified in the HTTP request; exact match)`,
    resources: [wpAllow("get-only", [{ to: [{ operation: { methods: ["GET"] } }] }])],
    request: wp({ method: "get" }),
    expect: { decision: "deny" },
  },
  {
    name: "exact path match does not match a longer path",
    cite: `${DOC.AP_RULE} (Exact match: "abc" will match on value "abc")`,
    resources: [wpAllow("data", [{ to: [{ operation: { paths: ["/data"] } }] }])],
    request: wp({ path: "/data/x" }),
    expect: { decision: "deny" },
  },
  {
    name: "prefix match abc* matches abc itself",
    cite: `${DOC.AP_RULE} (Prefix match: "abc*" will match on value "abc" and "abcd")`,
    resources: [wpAllow("prefix", [{ to: [{ operation: { paths: ["/abc*"] } }] }])],
    request: wp({ path: "/abc" }),
    expect: { decision: "allow" },
  },
  {
    name: "suffix match *abc matches xabc",
    cite: `${DOC.AP_RULE} (Suffix match: "*abc" will match on value "abc" and "xabc")`,
    resources: [wpAllow("suffix", [{ to: [{ operation: { paths: ["*.png"] } }] }])],
    request: wp({ path: "/img/logo.png" }),
    expect: { decision: "allow" },
  },
  {
    name: "paths ignore the query string",
    cite: `${DOC.AP_OPERATION} (paths; see Authorization Policy Normalization)`,
    resources: [wpAllow("data", [{ to: [{ operation: { paths: ["/data"] } }] }])],
    request: wp({ path: "/data?x=1" }),
    expect: { decision: "allow" },
  },
  {
    name: "principals [*] matches any authenticated (mTLS) source",
    cite: `${DOC.CONCEPT_AUTHN_ID} (principals: ["*"] for authenticated workloads)`,
    resources: [ap("foo", "authn-only", { rules: [{ from: [{ source: { principals: ["*"] } }] }] })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "principals [*] does not match a plaintext source",
    cite: `${DOC.AP_RULE} (Presence match: "*" will match when value is not empty)`,
    resources: [ap("foo", "authn-only", { rules: [{ from: [{ source: { principals: ["*"] } }] }] })],
    request: zt({ principal: null }),
    expect: { decision: "deny" },
  },
  {
    name: "DENY notPrincipals [*] denies plaintext sources",
    cite: DOC.CONCEPT_EXCLUSION,
    resources: [
      ap("foo", "require-mtls", {
        action: "DENY",
        rules: [{ from: [{ source: { notPrincipals: ["*"] } }] }],
      }),
    ],
    request: zt({ principal: null }),
    expect: { decision: "deny", policy: "foo/require-mtls" },
  },
  {
    name: "DENY notPrincipals [*] lets authenticated sources through",
    cite: DOC.CONCEPT_EXCLUSION,
    resources: [
      ap("foo", "require-mtls", {
        action: "DENY",
        rules: [{ from: [{ source: { notPrincipals: ["*"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "namespaces need mTLS: plaintext has no namespace",
    cite: `${DOC.AP_SOURCE} (namespaces: "requires mTLS enabled")`,
    resources: [ap("foo", "from-foo", { rules: [{ from: [{ source: { namespaces: ["foo"] } }] }] })],
    request: zt({ principal: null }),
    expect: { decision: "deny" },
  },
  {
    name: "DENY notRequestPrincipals [*] denies requests without a JWT",
    cite: `${DOC.JWT} (requestPrincipals / notRequestPrincipals ["*"])`,
    resources: [
      ap("foo", "require-jwt", {
        action: "DENY",
        targetRefs: svcTarget,
        rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }],
      }),
    ],
    request: wp(),
    expect: { decision: "deny", policy: "foo/require-jwt" },
  },
  {
    name: "DENY notRequestPrincipals [*] lets requests with a JWT through",
    cite: DOC.JWT,
    resources: [
      ap("foo", "require-jwt", {
        action: "DENY",
        targetRefs: svcTarget,
        rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }],
      }),
    ],
    request: wp({ auth: { principal: "issuer.example.com/alice" } }),
    expect: { decision: "allow" },
  },
  {
    name: "ipBlocks CIDR contains the source address",
    cite: `${DOC.AP_SOURCE} (ipBlocks: single IP and CIDR supported)`,
    resources: [ap("foo", "from-pods", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/16"] } }] }] })],
    request: zt({ sourceIp: "10.0.200.7" }),
    expect: { decision: "allow" },
  },
  {
    name: "ipBlocks IPv6 CIDR contains an IPv6 source",
    cite: DOC.AP_SOURCE,
    resources: [ap("foo", "v6", { rules: [{ from: [{ source: { ipBlocks: ["2001:db8::/32"] } }] }] })],
    request: zt({ sourceIp: "2001:db8:1::7" }),
    expect: { decision: "allow" },
  },
  {
    name: "ipBlocks IPv6 CIDR does not contain another prefix",
    cite: DOC.AP_SOURCE,
    resources: [ap("foo", "v6", { rules: [{ from: [{ source: { ipBlocks: ["2001:db8::/32"] } }] }] })],
    request: zt({ sourceIp: "2001:db9::7" }),
    expect: { decision: "deny" },
  },
  {
    name: "ports: a different destination port does not match",
    cite: `${DOC.AP_OPERATION} (ports: as specified in the connection)`,
    resources: [ap("foo", "port-9000", { rules: [{ to: [{ operation: { ports: ["9000"] } }] }] })],
    request: zt({ port: 9090 }),
    expect: { decision: "deny" },
  },
  {
    name: "notPorts excludes the port",
    cite: DOC.AP_OPERATION,
    resources: [ap("foo", "not-admin-port", { rules: [{ to: [{ operation: { notPorts: ["15000"] } }] }] })],
    request: zt({ port: 8080 }),
    expect: { decision: "allow" },
  },
  {
    name: "rules are OR'd: the second rule's index is reported",
    cite: `${DOC.AP} (rules: a match occurs when at least one rule matches)`,
    resources: [
      ap("foo", "two-rules", {
        rules: [
          { from: [{ source: { namespaces: ["dev"] } }] },
          { from: [{ source: { namespaces: ["foo"] } }] },
        ],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", policy: "foo/two-rules", rule: 1 },
  },
  {
    name: "from entries are OR'd: the second source matches",
    cite: `${DOC.AP_RULE} ("A match occurs when at least one source, one operation and all conditions matches")`,
    resources: [
      ap("foo", "two-sources", {
        rules: [{ from: [{ source: { namespaces: ["dev"] } }, { source: { principals: [SLEEP] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", rule: 0 },
  },
  {
    name: "when conditions are AND'd: one failing condition fails the rule",
    cite: DOC.AP_RULE,
    resources: [
      ap("foo", "two-conds", {
        rules: [
          {
            when: [
              { key: "source.namespace", values: ["foo"] },
              { key: "destination.port", values: ["9000"] },
            ],
          },
        ],
      }),
    ],
    request: zt(),
    expect: { decision: "deny" },
  },

  // ---------------------------------------------------------------- conditions
  {
    name: "when source.ip with a CIDR",
    cite: `${DOC.COND} (source.ip: single IP or CIDR, HTTP and TCP)`,
    resources: [ap("foo", "c", { rules: [{ when: [{ key: "source.ip", values: ["10.0.0.0/24"] }] }] })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "when destination.port",
    cite: `${DOC.COND} (destination.port)`,
    resources: [ap("foo", "c", { rules: [{ when: [{ key: "destination.port", values: ["80", "8080"] }] }] })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "when destination.ip",
    cite: `${DOC.COND} (destination.ip)`,
    resources: [ap("foo", "c", { rules: [{ when: [{ key: "destination.ip", values: ["10.0.2.0/24"] }] }] })],
    request: zt(),
    expect: { decision: "deny" },
  },
  {
    name: "when source.principal",
    cite: `${DOC.COND} (source.principal)`,
    resources: [
      ap("foo", "c", {
        rules: [{ when: [{ key: "source.principal", values: ["cluster.local/ns/foo/*"] }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "when source.namespace with notValues",
    cite: `${DOC.COND} (source.namespace) + ${DOC.CONCEPT_EXCLUSION}`,
    resources: [ap("foo", "c", { rules: [{ when: [{ key: "source.namespace", notValues: ["foo"] }] }] })],
    request: zt(),
    expect: { decision: "deny" },
  },
  {
    name: "when request.headers[User-Agent]: header names are case-insensitive, values use prefix match",
    cite: `${DOC.COND} (request.headers[User-Agent] values ["Mozilla/*"])`,
    resources: [
      ap("foo", "ua", {
        targetRefs: svcTarget,
        rules: [{ when: [{ key: "request.headers[User-Agent]", values: ["Mozilla/*"] }] }],
      }),
    ],
    request: wp({ headers: { "user-agent": "Mozilla/5.0" } }),
    expect: { decision: "allow" },
  },
  {
    name: "when request.headers notValues: an absent header is not excluded",
    cite: `${DOC.COND} + ${DOC.CONCEPT_EXCLUSION}`,
    resources: [
      ap("foo", "no-curl", {
        targetRefs: svcTarget,
        rules: [{ when: [{ key: "request.headers[User-Agent]", notValues: ["curl/*"] }] }],
      }),
    ],
    request: wp(),
    expect: { decision: "allow" },
  },
  {
    name: "when request.auth.audiences",
    cite: `${DOC.COND} (request.auth.audiences)`,
    resources: [
      ap("foo", "aud", {
        targetRefs: svcTarget,
        rules: [{ when: [{ key: "request.auth.audiences", values: ["my-svc.com"] }] }],
      }),
    ],
    request: wp({ auth: { principal: "a/b", audiences: ["other", "my-svc.com"] } }),
    expect: { decision: "allow" },
  },
  {
    name: "when connection.sni at the waypoint",
    cite: `${DOC.COND} (connection.sni: HTTP and TCP)`,
    resources: [
      ap("foo", "sni", {
        targetRefs: svcTarget,
        rules: [{ when: [{ key: "connection.sni", values: ["*.example.com"] }] }],
      }),
    ],
    request: wp({ sni: "www.example.com", tcp: true }),
    expect: { decision: "allow" },
  },

  // ---------------------------------------------------------------- ztunnel (L4) enforcement
  {
    name: "ztunnel: an ALLOW rule with methods never matches (with a warning)",
    cite: `${DOC.L4} (Layer 7 authorization policies without waypoints installed) + ${DOC.ISTIOD_AMBIENT}`,
    resources: [
      ap("foo", "allow-get", {
        selector: { matchLabels: { app: "httpbin" } },
        rules: [{ from: [{ source: { principals: [SLEEP] } }], to: [{ operation: { methods: ["GET"] } }] }],
      }),
    ],
    request: zt(),
    expect: {
      decision: "deny",
      reasonCode: "no-allow-matched",
      warning: "uses methods, which ztunnel cannot enforce",
    },
  },
  {
    name: "ztunnel: an ALLOW rule with only L4 fields is enforced",
    cite: `${DOC.L4_ATTRS} (principals, namespaces, ipBlocks, ports are L4)`,
    resources: [
      ap("foo", "allow-port", {
        rules: [{ from: [{ source: { principals: [SLEEP] } }], to: [{ operation: { ports: ["8080"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", policy: "foo/allow-port" },
  },
  {
    name: "ztunnel: one L7 rule is dropped, an L4 rule of the same policy still allows",
    cite: `${DOC.ISTIOD_AMBIENT} ("Within an ALLOW policy, rules matching HTTP attributes are omitted")`,
    resources: [
      ap("foo", "mixed", {
        rules: [{ to: [{ operation: { paths: ["/x"] } }] }, { from: [{ source: { namespaces: ["foo"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", policy: "foo/mixed", rule: 1 },
  },
  {
    name: "ztunnel: a DENY rule whose only field is methods has no effect (with a warning)",
    cite: `${DOC.ISTIO_61126} + ${DOC.ZTUNNEL_RBAC}`,
    resources: [
      ap("foo", "deny-post", { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] }),
    ],
    request: zt(),
    expect: { decision: "allow", warning: "has no effect at ztunnel" },
  },
  {
    name: "ztunnel: DENY notRequestPrincipals [*] (L7 only) has no effect",
    cite: DOC.ISTIO_61126,
    resources: [
      ap("foo", "deny-no-jwt", {
        action: "DENY",
        selector: { matchLabels: { app: "httpbin" } },
        rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", warning: "notRequestPrincipals" },
  },
  {
    name: "ztunnel: in a DENY, a source made only of L7 fields is ignored, the L4 source still counts",
    cite: `${DOC.ZTUNNEL_RBAC} + ${DOC.ISTIOD_AMBIENT} (handleRule: one match per source)`,
    resources: [
      ap("foo", "deny-mixed-sources", {
        action: "DENY",
        rules: [{ from: [{ source: { namespaces: ["dev"] } }, { source: { requestPrincipals: ["*"] } }] }],
      }),
    ],
    request: zt({ principal: "cluster.local/ns/dev/sa/x" }),
    expect: { decision: "deny", policy: "foo/deny-mixed-sources", warning: "enforced on its L4 fields only" },
  },
  {
    name: "ztunnel: in a DENY, the L7-only source does not match a source the L4 one excludes",
    cite: `${DOC.ZTUNNEL_RBAC} + ${DOC.ISTIOD_AMBIENT}`,
    resources: [
      ap("foo", "deny-mixed-sources", {
        action: "DENY",
        rules: [{ from: [{ source: { namespaces: ["dev"] } }, { source: { requestPrincipals: ["*"] } }] }],
      }),
    ],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "waypoint on an opaque TCP connection: a DENY rule with only methods denies all traffic",
    cite: `${DOC.AP} ("For a DENY rule, missing attributes are treated as matches … all TCP traffic would be denied") + ${DOC.TCP}`,
    resources: [
      ap("foo", "deny-post", {
        action: "DENY",
        targetRefs: svcTarget,
        rules: [{ to: [{ operation: { methods: ["POST"] } }] }],
      }),
    ],
    request: wp({ tcp: true }),
    expect: { decision: "deny", policy: "foo/deny-post", warning: "denies more than written" },
  },
  {
    name: "ztunnel: DENY methods+ports denies TCP on that port (the L4 part is kept)",
    cite: `${DOC.AP} (DENY POST on port 8080: "all TCP traffic on port 8080 would be denied") + ${DOC.ISTIOD_AMBIENT}`,
    resources: [
      ap("foo", "deny-post-8080", {
        action: "DENY",
        rules: [{ to: [{ operation: { methods: ["POST"], ports: ["8080"] } }] }],
      }),
    ],
    request: zt({ port: 8080 }),
    expect: { decision: "deny", policy: "foo/deny-post-8080" },
  },
  {
    name: "ztunnel: DENY methods+ports leaves other ports alone",
    cite: DOC.AP,
    resources: [
      ap("foo", "deny-post-8080", {
        action: "DENY",
        rules: [{ to: [{ operation: { methods: ["POST"], ports: ["8080"] } }] }],
      }),
    ],
    request: zt({ port: 9000 }),
    expect: { decision: "allow" },
  },
  {
    name: "ztunnel: a DENY rule with an HTTP when condition never fires",
    cite: `${DOC.ISTIOD_AMBIENT} (handleRule: one clause per condition; an L7 key leaves it empty) + ${DOC.ZTUNNEL_RBAC}`,
    resources: [
      ap("foo", "deny-hdr", {
        action: "DENY",
        rules: [
          {
            from: [{ source: { namespaces: ["foo"] } }],
            when: [{ key: "request.headers[x-debug]", values: ["1"] }],
          },
        ],
      }),
    ],
    request: zt(),
    expect: { decision: "allow", warning: "has no effect at ztunnel" },
  },
  {
    name: "waypoint: the same DENY with an HTTP when condition applies to HTTP requests that carry the header",
    cite: DOC.COND,
    resources: [
      ap("foo", "deny-hdr", {
        action: "DENY",
        targetRefs: svcTarget,
        rules: [
          {
            from: [{ source: { namespaces: ["foo"] } }],
            when: [{ key: "request.headers[x-debug]", values: ["1"] }],
          },
        ],
      }),
    ],
    request: wp({ headers: { "X-Debug": "1" } }),
    expect: { decision: "deny", policy: "foo/deny-hdr" },
  },
  {
    name: "ztunnel: connection.sni is not an L4 attribute, the ALLOW rule never matches",
    cite: `${DOC.ISTIOD_AMBIENT} (l4WhenAttributes: source.ip/namespace/principal, destination.ip/port)`,
    resources: [ap("foo", "sni", { rules: [{ when: [{ key: "connection.sni", values: ["*"] }] }] })],
    request: zt({ sni: "x" }),
    expect: { decision: "deny", warning: "connection.sni" },
  },
  {
    name: "ztunnel: remoteIpBlocks cannot be enforced, the ALLOW rule never matches",
    cite: `${DOC.ISTIOD_AMBIENT} (remoteIpBlocks is unsupported by ztunnel)`,
    resources: [ap("foo", "remote", { rules: [{ from: [{ source: { remoteIpBlocks: ["0.0.0.0/0"] } }] }] })],
    request: zt(),
    expect: { decision: "deny", warning: "remoteIpBlocks" },
  },
  {
    name: "ztunnel ignores targetRef policies",
    cite: `${DOC.L4_ATTACH} (targetRefs → enforced by the waypoint) + ${DOC.ISTIOD_AMBIENT} ("TargetRef is not intended for ztunnel")`,
    resources: [ap("foo", "wp-nothing", { targetRefs: svcTarget })],
    request: zt(),
    expect: { decision: "allow", reasonCode: "no-policy" },
  },

  // ---------------------------------------------------------------- waypoint enforcement and attachment
  {
    name: "waypoint ignores selector policies",
    cite: `${DOC.L4_ATTACH} (Selector → destination ztunnel) + ${DOC.ISTIOD_ATTACH} ("waypoints never use selector")`,
    resources: [ap("foo", "allow-nothing", { selector: { matchLabels: { app: "httpbin" } } })],
    request: wp(),
    expect: { decision: "allow", reasonCode: "no-policy" },
  },
  {
    name: "waypoint ignores namespace-wide policies",
    cite: `${DOC.L4_ATTACH} (empty → Namespace scope, enforced by destination ztunnel)`,
    resources: [allowNothing("foo")],
    request: wp(),
    expect: { decision: "allow" },
  },
  {
    name: "a Service targetRef applies at the waypoint for that service",
    cite: `${DOC.AP_TARGETREFS} (kind Service, group "" — only for waypoints) + ${DOC.L4_ATTACH}`,
    resources: [ap("foo", "wp-nothing", { targetRefs: svcTarget })],
    request: wp(),
    expect: { decision: "deny", reasonCode: "no-allow-matched" },
  },
  {
    name: "a Service targetRef does not apply to another service",
    cite: DOC.AP_TARGETREFS,
    resources: [ap("foo", "wp-nothing", { targetRefs: svcTarget })],
    request: wp({ service: "ratings" }),
    expect: { decision: "allow" },
  },
  {
    name: "a Gateway targetRef (the waypoint) applies to everything through it",
    cite: `${DOC.AP_TARGETREFS} (kind Gateway, group gateway.networking.k8s.io, same namespace)`,
    resources: [
      ap("foo", "wp-deny-delete", {
        action: "DENY",
        targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
        rules: [{ to: [{ operation: { methods: ["DELETE"] } }] }],
      }),
    ],
    request: wp({ service: "ratings", method: "DELETE" }),
    expect: { decision: "deny", policy: "foo/wp-deny-delete", rule: 0 },
  },
  {
    name: "GatewayClass istio-waypoint from the root namespace applies at every waypoint",
    cite: `${DOC.AP_TARGETREFS} (kind GatewayClass in the root namespace)`,
    resources: [
      ap("istio-system", "all-waypoints", {
        action: "DENY",
        targetRefs: [{ kind: "GatewayClass", group: "gateway.networking.k8s.io", name: "istio-waypoint" }],
        rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }],
      }),
    ],
    request: wp({ namespace: "bar", waypoint: "bar-waypoint", path: "/admin/x" }),
    expect: { decision: "deny", policy: "istio-system/all-waypoints" },
  },
  {
    name: "a ServiceEntry targetRef applies at the waypoint for that ServiceEntry",
    cite: `${DOC.AP_TARGETREFS} (kind ServiceEntry, group networking.istio.io)`,
    resources: [
      ap("foo", "egress", {
        targetRefs: [{ kind: "ServiceEntry", group: "networking.istio.io", name: "httpbin-ext" }],
        rules: [{ to: [{ operation: { methods: ["GET"] } }] }],
      }),
    ],
    request: wp({ service: "httpbin-ext", serviceKind: "ServiceEntry", method: "POST" }),
    expect: { decision: "deny" },
  },
  {
    name: "waypoint on an opaque TCP connection: an ALLOW rule with methods never matches",
    cite: `${DOC.TCP} (HTTP-only fields on TCP traffic) + ${DOC.AP}`,
    resources: [wpAllow("get", [{ to: [{ operation: { methods: ["GET"] } }] }])],
    request: wp({ tcp: true }),
    expect: { decision: "deny", warning: "does not parse as HTTP" },
  },
  {
    name: "waypoint with HTTP: an ALLOW rule with methods matches",
    cite: `${DOC.L4} (L7 policies need a waypoint)`,
    resources: [wpAllow("get", [{ to: [{ operation: { methods: ["GET"] } }] }])],
    request: wp(),
    expect: { decision: "allow", policy: "foo/get" },
  },

  // ---------------------------------------------------------------- dry-run
  {
    name: "dry-run DENY that matches: not enforced, reported as would-deny",
    cite: `${DOC.AP} (istio.io/dry-run annotation) + ${DOC.DRY_RUN}`,
    resources: [
      ap(
        "foo",
        "dry-run-example",
        { targetRefs: svcTarget, action: "DENY", rules: [{ to: [{ operation: { paths: ["/headers"] } }] }] },
        { "istio.io/dry-run": "true" },
      ),
    ],
    request: wp({ path: "/headers" }),
    expect: { decision: "allow", dryRunDecision: "deny" },
  },
  {
    name: "dry-run ALLOW that does not match: would deny, allowed now",
    cite: DOC.DRY_RUN,
    resources: [
      ap(
        "foo",
        "dry-allow",
        { rules: [{ from: [{ source: { namespaces: ["dev"] } }] }] },
        { "istio.io/dry-run": "true" },
      ),
    ],
    request: zt(),
    expect: { decision: "allow", reasonCode: "no-policy", dryRunDecision: "deny" },
  },

  // ---------------------------------------------------------------- PeerAuthentication
  {
    name: "mesh-wide STRICT rejects plaintext",
    cite: `${DOC.PA} (mesh level: root namespace, no selector) + ${DOC.L4_PEERAUTH}`,
    resources: [pa("istio-system", "default", { mtls: { mode: "STRICT" } })],
    request: zt({ principal: null }),
    expect: { decision: "deny", policy: "istio-system/default", reasonCode: "mtls-strict" },
  },
  {
    name: "mesh STRICT, namespace PERMISSIVE: plaintext accepted",
    cite: `${DOC.PA} (namespace-wide policy overrides the mesh-wide one)`,
    resources: [
      pa("istio-system", "default", { mtls: { mode: "STRICT" } }),
      pa("foo", "default", { mtls: { mode: "PERMISSIVE" } }),
    ],
    request: zt({ principal: null }),
    expect: { decision: "allow" },
  },
  {
    name: "namespace STRICT, workload PERMISSIVE: plaintext accepted",
    cite: `${DOC.PA} (workload-specific policy overrides namespace-wide)`,
    resources: [
      pa("foo", "default", { mtls: { mode: "STRICT" } }),
      pa("foo", "httpbin", { selector: { matchLabels: { app: "httpbin" } }, mtls: { mode: "PERMISSIVE" } }),
    ],
    request: zt({ principal: null }),
    expect: { decision: "allow" },
  },
  {
    name: "workload UNSET inherits namespace STRICT",
    cite: `${DOC.PA} (UNSET: inherit from parent)`,
    resources: [
      pa("foo", "default", { mtls: { mode: "STRICT" } }),
      pa("foo", "httpbin", { selector: { matchLabels: { app: "httpbin" } }, mtls: { mode: "UNSET" } }),
    ],
    request: zt({ principal: null }),
    expect: { decision: "deny", policy: "foo/default", reasonCode: "mtls-strict" },
  },
  {
    name: "port-level PERMISSIVE under workload STRICT accepts plaintext on that port",
    cite: `${DOC.PA} (portLevelMtls)`,
    resources: [
      pa("foo", "httpbin", {
        selector: { matchLabels: { app: "httpbin" } },
        mtls: { mode: "STRICT" },
        portLevelMtls: { "8080": { mode: "PERMISSIVE" } },
      }),
    ],
    request: zt({ principal: null, port: 8080 }),
    expect: { decision: "allow" },
  },
  {
    name: "port-level PERMISSIVE leaves the other ports STRICT",
    cite: `${DOC.PA} (portLevelMtls)`,
    resources: [
      pa("foo", "httpbin", {
        selector: { matchLabels: { app: "httpbin" } },
        mtls: { mode: "STRICT" },
        portLevelMtls: { "8080": { mode: "PERMISSIVE" } },
      }),
    ],
    request: zt({ principal: null, port: 9000 }),
    expect: { decision: "deny", policy: "foo/httpbin", reasonCode: "mtls-strict" },
  },
  {
    name: "DISABLE is treated as non-strict in ambient mode: plaintext accepted",
    cite: `${DOC.L4_PEERAUTH} (DISABLE is not possible with ztunnel) + ${DOC.ISTIOD_AMBIENT}`,
    resources: [
      pa("istio-system", "default", { mtls: { mode: "STRICT" } }),
      pa("foo", "default", { mtls: { mode: "DISABLE" } }),
    ],
    request: zt({ principal: null }),
    expect: { decision: "allow" },
  },
  {
    name: "STRICT accepts mTLS traffic",
    cite: DOC.PA,
    resources: [pa("istio-system", "default", { mtls: { mode: "STRICT" } })],
    request: zt(),
    expect: { decision: "allow" },
  },
  {
    name: "no PeerAuthentication: PERMISSIVE by default, plaintext accepted",
    cite: `${DOC.PA} (default PERMISSIVE)`,
    resources: [],
    request: zt({ principal: null }),
    expect: { decision: "allow" },
  },

  // ---------------------------------------------------------------- ambit extension: MySQL statements
  {
    name: "MySQL: methods [SELECT] allows a SELECT statement at the waypoint",
    cite: `${DOC.AMBIT_MYSQL} + ${DOC.AP_OPERATION}`,
    resources: [
      wpAllow("db-read", [
        {
          from: [{ source: { principals: [SLEEP] } }],
          to: [{ operation: { methods: ["SELECT"], ports: ["3306"] } }],
        },
      ]),
    ],
    request: wp({ port: 3306, method: "SELECT", path: "", host: "" }),
    expect: { decision: "allow", policy: "foo/db-read" },
  },
  {
    name: "MySQL: methods compare case-sensitively (select ≠ SELECT)",
    cite: DOC.AMBIT_MYSQL,
    resources: [wpAllow("db-read", [{ to: [{ operation: { methods: ["SELECT"] } }] }])],
    request: wp({ port: 3306, method: "select" }),
    expect: { decision: "deny" },
  },
];

describe("authorization conformance (Istio documentation tables)", () => {
  test("has at least 60 rows", () => {
    assert.ok(rows.length >= 60, `only ${rows.length} rows`);
  });
  for (const row of rows) {
    test(`${row.name} — ${row.cite}`, () => {
      const { set, errors } = compilePolicies(row.resources);
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
      );
      const d = evaluate(set, row.request);
      assert.equal(d.decision, row.expect.decision, d.reason);
      if (row.expect.policy !== undefined) assert.equal(d.policy, row.expect.policy);
      if (row.expect.rule !== undefined) assert.equal(d.rule, row.expect.rule);
      if (row.expect.reasonCode !== undefined) assert.equal(d.reasonCode, row.expect.reasonCode);
      if (row.expect.warning !== undefined) {
        const w = row.expect.warning;
        assert.ok(
          d.warnings.some((x) => x.includes(w)),
          `no warning containing ${JSON.stringify(w)} in ${JSON.stringify(d.warnings)}`,
        );
      }
      if (row.expect.dryRunDecision !== undefined) assert.equal(d.dryRunDecision, row.expect.dryRunDecision);
      if (row.expect.audit !== undefined) {
        assert.deepEqual(
          (d.audit ?? []).map((a) => a.policy),
          row.expect.audit,
        );
      }
    });
  }
});

interface ErrorRow {
  name: string;
  cite: string;
  resource: AuthorizationPolicy | PeerAuthentication;
  code: string;
  path: string;
}

const errorRows: ErrorRow[] = [
  {
    name: "CUSTOM action is rejected",
    cite: `${DOC.AP} (CUSTOM delegates to an extension provider; ambit has none)`,
    resource: ap("foo", "ext-authz", {
      action: "CUSTOM",
      provider: { name: "my-custom-authz" },
      rules: [{}],
    }),
    code: "POL_ERR_CUSTOM_UNSUPPORTED",
    path: "spec.action",
  },
  {
    name: "an unknown condition key is rejected",
    cite: DOC.COND,
    resource: ap("foo", "bad-key", { rules: [{ when: [{ key: "source.color", values: ["blue"] }] }] }),
    code: "POL_ERR_UNKNOWN_CONDITION",
    path: "spec.rules[0].when[0].key",
  },
  {
    name: "a condition without values or notValues is rejected",
    cite: `${DOC.AP} (Condition: at least one of values or not_values must be set)`,
    resource: ap("foo", "no-values", { rules: [{ when: [{ key: "source.ip" }] }] }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.rules[0].when[0]",
  },
  {
    name: "selector and targetRefs together are rejected",
    cite: `${DOC.AP_SELECTOR} ("At most one of the selector and targetRef can be set")`,
    resource: ap("foo", "both", { selector: { matchLabels: { app: "x" } }, targetRefs: svcTarget }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.selector",
  },
  {
    name: "a non-numeric port is rejected",
    cite: DOC.AP_OPERATION,
    resource: ap("foo", "bad-port", { rules: [{ to: [{ operation: { ports: ["http"] } }] }] }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.rules[0].to[0].operation.ports[0]",
  },
  {
    name: "a malformed CIDR is rejected",
    cite: DOC.AP_SOURCE,
    resource: ap("foo", "bad-cidr", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }] }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.rules[0].from[0].source.ipBlocks[0]",
  },
  {
    name: "an unsupported targetRef kind is rejected",
    cite: DOC.AP_TARGETREFS,
    resource: ap("foo", "route", {
      targetRefs: [{ kind: "HTTPRoute", group: "gateway.networking.k8s.io", name: "r" }],
    }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.targetRefs[0]",
  },
  {
    name: "portLevelMtls without a selector is rejected",
    cite: `${DOC.PA} (portLevelMtls only applies with a workload selector)`,
    resource: pa("foo", "ports", {
      mtls: { mode: "STRICT" },
      portLevelMtls: { "8080": { mode: "DISABLE" } },
    }),
    code: "POL_ERR_INVALID_POLICY",
    path: "spec.portLevelMtls",
  },
];

describe("authorization conformance: rejected policies", () => {
  for (const row of errorRows) {
    test(`${row.name} — ${row.cite}`, () => {
      const { set, errors } = compilePolicies([row.resource]);
      assert.equal(errors.length, 1, errors.map((e) => e.message).join("\n"));
      assert.equal(errors[0]?.code, row.code);
      assert.equal(errors[0]?.path, row.path);
      assert.equal(
        set.policies.length + set.peerAuthentications.length,
        0,
        "a rejected policy must not be in the set",
      );
    });
  }
});
