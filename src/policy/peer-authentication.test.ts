import assert from "node:assert/strict";
import { test } from "node:test";
import type { MtlsMode, PeerAuthentication } from "../api/types.js";
import { compilePolicies } from "./compile.js";
import { effectiveMtlsMode } from "./peer-authentication.js";

function pa(
  namespace: string,
  name: string,
  mode: MtlsMode | undefined,
  selector?: Record<string, string>,
  ports?: Record<string, MtlsMode>,
): PeerAuthentication {
  const spec: NonNullable<PeerAuthentication["spec"]> = {};
  if (mode !== undefined) spec.mtls = { mode };
  if (selector !== undefined) spec.selector = { matchLabels: selector };
  if (ports !== undefined) {
    spec.portLevelMtls = Object.fromEntries(Object.entries(ports).map(([p, m]) => [p, { mode: m }]));
  }
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name, namespace },
    spec,
  };
}

const httpbin = { namespace: "foo", labels: { app: "httpbin" } };

// Precedence table: mesh → namespace → workload → port; UNSET inherits; default PERMISSIVE.
const table: {
  name: string;
  policies: PeerAuthentication[];
  port?: number;
  expect: [mode: string, policy: string | null, level: string];
}[] = [
  { name: "nothing set: PERMISSIVE default", policies: [], expect: ["PERMISSIVE", null, "default"] },
  {
    name: "mesh STRICT",
    policies: [pa("istio-system", "default", "STRICT")],
    expect: ["STRICT", "istio-system/default", "mesh"],
  },
  {
    name: "mesh UNSET stays at the default",
    policies: [pa("istio-system", "default", "UNSET")],
    expect: ["PERMISSIVE", null, "default"],
  },
  {
    name: "namespace overrides mesh",
    policies: [pa("istio-system", "default", "STRICT"), pa("foo", "ns", "PERMISSIVE")],
    expect: ["PERMISSIVE", "foo/ns", "namespace"],
  },
  {
    name: "namespace UNSET inherits mesh",
    policies: [pa("istio-system", "default", "STRICT"), pa("foo", "ns", undefined)],
    expect: ["STRICT", "istio-system/default", "mesh"],
  },
  {
    name: "another namespace's policy does not apply",
    policies: [pa("bar", "ns", "STRICT")],
    expect: ["PERMISSIVE", null, "default"],
  },
  {
    name: "workload overrides namespace",
    policies: [pa("foo", "ns", "PERMISSIVE"), pa("foo", "wl", "STRICT", { app: "httpbin" })],
    expect: ["STRICT", "foo/wl", "workload"],
  },
  {
    name: "workload selector that does not match is ignored",
    policies: [pa("foo", "ns", "PERMISSIVE"), pa("foo", "wl", "STRICT", { app: "other" })],
    expect: ["PERMISSIVE", "foo/ns", "namespace"],
  },
  {
    name: "port level overrides workload on that port",
    policies: [pa("foo", "wl", "STRICT", { app: "httpbin" }, { "8080": "PERMISSIVE" })],
    port: 8080,
    expect: ["PERMISSIVE", "foo/wl", "port"],
  },
  {
    name: "port level does not touch other ports",
    policies: [pa("foo", "wl", "STRICT", { app: "httpbin" }, { "8080": "PERMISSIVE" })],
    port: 9090,
    expect: ["STRICT", "foo/wl", "workload"],
  },
  {
    name: "workload UNSET + port STRICT under namespace PERMISSIVE",
    policies: [
      pa("foo", "ns", "PERMISSIVE"),
      pa("foo", "wl", "UNSET", { app: "httpbin" }, { "5432": "STRICT" }),
    ],
    port: 5432,
    expect: ["STRICT", "foo/wl", "port"],
  },
  {
    name: "several workload policies: first by name wins (stand-in for Istio's oldest)",
    policies: [
      pa("foo", "b-strict", "STRICT", { app: "httpbin" }),
      pa("foo", "a-permissive", "PERMISSIVE", { app: "httpbin" }),
    ],
    expect: ["PERMISSIVE", "foo/a-permissive", "workload"],
  },
  {
    name: "several namespace policies: first by name wins",
    policies: [pa("foo", "z", "STRICT"), pa("foo", "a", "DISABLE")],
    expect: ["DISABLE", "foo/a", "namespace"],
  },
  {
    name: "a selector policy in the root namespace is ignored in ambient mode",
    policies: [pa("istio-system", "wl", "STRICT", { app: "httpbin" })],
    expect: ["PERMISSIVE", null, "default"],
  },
];

for (const row of table) {
  test(`PeerAuthentication precedence: ${row.name}`, () => {
    const { set, errors } = compilePolicies(row.policies);
    assert.deepEqual(errors, []);
    const dest = row.port === undefined ? httpbin : { ...httpbin, port: row.port };
    const eff = effectiveMtlsMode(set, dest);
    assert.deepEqual([eff.mode, eff.policy, eff.level], row.expect);
  });
}

test("a root-namespace selector policy produces a warning", () => {
  const { warnings } = compilePolicies([pa("istio-system", "wl", "STRICT", { app: "httpbin" })]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.message ?? "", /ignored in ambient mode/);
});

test("invalid mode and port keys are rejected with POL_ERR_INVALID_POLICY", () => {
  const bad: PeerAuthentication = {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "x", namespace: "foo" },
    spec: { mtls: { mode: "LOOSE" as MtlsMode } },
  };
  const { errors } = compilePolicies([bad, pa("foo", "y", "STRICT", { app: "a" }, { http: "STRICT" })]);
  assert.deepEqual(
    errors.map((e) => [e.code, e.policy, e.path]),
    [
      ["POL_ERR_INVALID_POLICY", "foo/x", "spec.mtls.mode"],
      ["POL_ERR_INVALID_POLICY", "foo/y", "spec.portLevelMtls[http]"],
    ],
  );
});
