import assert from "node:assert/strict";
import { test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { parseDocuments } from "../api/load.js";
import type { AuthorizationPolicy } from "../api/types.js";
import { AuthorizationSchema } from "../xds/gen/istio/security/authorization_pb.js";
import { convertAuthorizationPolicy } from "./authz-convert.js";

function policy(spec: string, namespace = "shop"): AuthorizationPolicy {
  const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: ${namespace}}
spec:
${spec.replace(/^/gm, "  ")}`;
  const { resources, errors } = parseDocuments(yaml, "p.yaml");
  assert.deepEqual(errors, []);
  return resources[0] as AuthorizationPolicy;
}

function convert(spec: string, namespace = "shop"): { json: unknown; warnings: string[] } {
  const r = convertAuthorizationPolicy("istio-system", policy(spec, namespace));
  return {
    json: r.authorization ? toJson(AuthorizationSchema, r.authorization) : undefined,
    warnings: r.warnings,
  };
}

const rows: { name: string; spec: string; namespace?: string; want: unknown; warns?: boolean }[] = [
  {
    name: "selector policy: WORKLOAD_SELECTOR scope, principals with Istio's wildcard forms, ports",
    spec: `selector: {matchLabels: {app: web}}
action: ALLOW
rules:
- from: [{source: {principals: ["cluster.local/ns/shop/sa/front", "*", "*/sa/x", "cluster.local/*"]}}]
  to: [{operation: {ports: ["8080"]}}]`,
    want: {
      name: "p",
      namespace: "shop",
      scope: "WORKLOAD_SELECTOR",
      rules: [
        {
          clauses: [
            { matches: [{ destinationPorts: [8080] }] },
            {
              matches: [
                {
                  principals: [
                    { exact: "cluster.local/ns/shop/sa/front" },
                    { presence: {} },
                    { suffix: "/sa/x" },
                    { prefix: "cluster.local/" },
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  {
    name: "no selector in the root namespace: GLOBAL scope; an empty ALLOW has no rules (denies all)",
    spec: `{}`,
    namespace: "istio-system",
    // GLOBAL is the enum's zero value, so JSON omits it.
    want: { name: "p", namespace: "istio-system" },
  },
  {
    name: "ALLOW rule with an HTTP attribute is dropped entirely (never matches at L4)",
    spec: `rules:
- to: [{operation: {methods: [GET], ports: ["80"]}}]
- from: [{source: {namespaces: [shop]}}]`,
    want: {
      name: "p",
      namespace: "shop",
      scope: "NAMESPACE",
      rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: "shop" }] }] }] }],
    },
    warns: true,
  },
  {
    name: "DENY rule keeps only its L4 parts; an L7 when becomes an empty (always-matching) match",
    spec: `action: DENY
rules:
- to: [{operation: {paths: ["/admin"], ports: ["80"]}}]
  when: [{key: "request.headers[x-foo]", values: [bar]}, {key: source.ip, values: [10.0.0.0/8], notValues: [10.1.2.3]}]`,
    want: {
      name: "p",
      namespace: "shop",
      scope: "NAMESPACE",
      action: "DENY",
      rules: [
        {
          clauses: [
            { matches: [{ destinationPorts: [80] }] },
            { matches: [{}] },
            {
              matches: [
                {
                  sourceIps: [{ address: "CgAAAA==", length: 8 }],
                  notSourceIps: [{ address: "CgECAw==", length: 32 }],
                },
              ],
            },
          ],
        },
      ],
    },
    warns: true,
  },
  { name: "AUDIT is not for ztunnel", spec: `action: AUDIT\nrules: [{}]`, want: undefined, warns: true },
  {
    name: "targetRef policies belong to waypoints",
    spec: `targetRefs: [{kind: Service, group: "", name: web}]\nrules: [{}]`,
    want: undefined,
  },
  {
    name: "a rule with no clauses matches everything",
    spec: `rules: [{}]`,
    want: { name: "p", namespace: "shop", scope: "NAMESPACE", rules: [{}] },
  },
];

for (const row of rows) {
  test(`authz convert: ${row.name}`, () => {
    const got = convert(row.spec, row.namespace);
    assert.deepEqual(got.json, row.want);
    assert.equal(got.warnings.length > 0, row.warns === true);
  });
}
