/**
 * Hostile xDS responses for the real `XdsClient` with the resource types a ztunnel and a waypoint
 * subscribe to. Each is NACKed with the exact error detail (and nothing of it applied, the last
 * good config kept) or, when valid however odd, ACKed and applied.
 */
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { TrustBundleSchema } from "../../../src/xds/gen/ambit/security/trust_bundle_pb.js";
import { L7ResourceSchema } from "../../../src/xds/gen/ambit/waypoint/l7_pb.js";
import {
  type Resource,
  ResourceSchema,
} from "../../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { Action, AuthorizationSchema, Scope } from "../../../src/xds/gen/istio/security/authorization_pb.js";
import {
  AddressSchema,
  TunnelProtocol,
  type WorkloadSchema,
} from "../../../src/xds/gen/istio/workload/workload_pb.js";
import { TRUST_BUNDLE_TYPE_URL } from "../../../src/xds/trust-bundle.js";
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  L7_RESOURCE_TYPE_URL,
} from "../../../src/xds/type-urls.js";
import { seededBytes } from "./types.js";

export type XdsOutcome =
  /** NACKed: the error detail's message, exactly (a RegExp where it quotes a decoder's own words). */
  | { readonly nack: string | RegExp }
  /** ACKed and applied: these names are now in the client's cache for the type. */
  | { readonly applied: readonly string[] };

export interface XdsCase {
  readonly name: string;
  readonly target: "xds-client";
  /** The response's type_url. */
  readonly typeUrl: string;
  readonly resources: (ctx: XdsContext) => Resource[];
  readonly removed?: readonly string[];
  readonly expect: XdsOutcome;
}

/** What cases may need from the run: the mesh root (a valid trust bundle needs one). */
export interface XdsContext {
  readonly rootPem: string;
  readonly leafPem: string;
}

function packed<S extends DescMessage>(schema: S, init: MessageInitShape<S>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

export function resource(name: string, typeUrl: string, value: Uint8Array): Resource {
  return create(ResourceSchema, { name, version: "v", resource: create(AnySchema, { typeUrl, value }) });
}

type WorkloadInit = MessageInitShape<typeof WorkloadSchema>;

export function workloadBytes(uid: string, extra: WorkloadInit = {}): Uint8Array {
  return packed(AddressSchema, {
    type: {
      case: "workload",
      value: {
        uid,
        name: "w",
        namespace: "default",
        addresses: [new Uint8Array([10, 0, 0, 1])],
        node: "node-a",
        serviceAccount: "w",
        trustDomain: "cluster.local",
        tunnelProtocol: TunnelProtocol.HBONE,
        ...extra,
      },
    },
  });
}

const workload = (uid: string, extra: WorkloadInit = {}): Resource =>
  resource(uid, ADDRESS_TYPE_URL, workloadBytes(uid, extra));

function serviceBytes(ns: string, host: string, ports: Array<[number, number]>): Uint8Array {
  return packed(AddressSchema, {
    type: {
      case: "service",
      value: {
        name: host.split(".")[0] ?? host,
        namespace: ns,
        hostname: host,
        addresses: [{ network: "", address: new Uint8Array([10, 96, 0, 1]) }],
        ports: ports.map(([servicePort, targetPort]) => ({ servicePort, targetPort })),
      },
    },
  });
}

type AuthzInit = MessageInitShape<typeof AuthorizationSchema>;

export function policyBytes(name: string, extra: AuthzInit = {}): Uint8Array {
  return packed(AuthorizationSchema, {
    name,
    namespace: "default",
    scope: Scope.WORKLOAD_SELECTOR,
    action: Action.ALLOW,
    rules: [
      {
        clauses: [
          {
            matches: [
              { principals: [{ matchType: { case: "exact", value: "cluster.local/ns/default/sa/a" } }] },
            ],
          },
        ],
      },
    ],
    ...extra,
  });
}

const policy = (name: string, extra: AuthzInit = {}): Resource =>
  resource(`default/${name}`, AUTHORIZATION_TYPE_URL, policyBytes(name, extra));

export function bundle(init: MessageInitShape<typeof TrustBundleSchema>, name = "mesh"): Resource {
  return resource(name, TRUST_BUNDLE_TYPE_URL, packed(TrustBundleSchema, init));
}

export function l7(name: string, json: unknown, kind = "HTTPRoute"): Resource {
  return resource(
    `${kind}/default/${name}`,
    L7_RESOURCE_TYPE_URL,
    packed(L7ResourceSchema, {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind,
      namespace: "default",
      name,
      json: typeof json === "string" ? json : JSON.stringify(json),
    }),
  );
}

export function httpRoute(
  name: string,
  rules: unknown[] = [{ backendRefs: [{ name: "svc", port: 80 }] }],
): unknown {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: "default" },
    spec: { parentRefs: [{ group: "", kind: "Service", name: "svc" }], rules },
  };
}

const A = ADDRESS_TYPE_URL;
const Z = AUTHORIZATION_TYPE_URL;
const T = TRUST_BUNDLE_TYPE_URL;
const L = L7_RESOURCE_TYPE_URL;

const ADDRESSES: XdsCase[] = [
  {
    name: "random bytes as an Address",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("bad", A, seededBytes(21, 64))],
    expect: {
      nack: "resources[0][bad]: undecodable istio.workload.Address: illegal tag: field no 2 wire type 7",
    },
  },
  {
    name: "a workload truncated in the middle of a field",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("bad", A, workloadBytes("bad").subarray(0, 9))],
    expect: { nack: "resources[0][bad]: undecodable istio.workload.Address: premature EOF" },
  },
  {
    name: "an Authorization inside an Address response (wrong Any type_url)",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("default/p", Z, policyBytes("p"))],
    expect: { nack: `resources[0][default/p].resource.type_url: ${Z}, expected ${A}` },
  },
  {
    name: "a response type_url nobody subscribed to",
    target: "xds-client",
    typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    resources: () => [],
    expect: { nack: "type_url type.googleapis.com/envoy.config.cluster.v3.Cluster: not subscribed" },
  },
  {
    name: "an empty resource name",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("", A, workloadBytes(""))],
    expect: { nack: "resources[0].name: 0 characters, expected 1-1024" },
  },
  {
    name: "a 2000-character resource name",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("u".repeat(2000))],
    expect: { nack: "resources[0].name: 2000 characters, expected 1-1024" },
  },
  {
    name: "NUL in a resource name",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("bad\u0000uid")],
    expect: { nack: "resources[0].name: control character 0x00 at position 3" },
  },
  {
    name: "CR LF in a resource name (log forging)",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("x\r\nlevel=info msg=forged")],
    expect: { nack: "resources[0].name: control character 0x0d at position 1" },
  },
  {
    name: "the same name twice in one response",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("dup"), workload("dup", { addresses: [new Uint8Array([10, 0, 0, 2])] })],
    expect: { nack: "resources[1][dup]: duplicate name in one response" },
  },
  {
    name: "a name both updated and removed in one response",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("both")],
    removed: ["both"],
    expect: { nack: "resources[0][both]: both updated and removed in one response" },
  },
  {
    name: "a resource without a body",
    target: "xds-client",
    typeUrl: A,
    resources: () => [create(ResourceSchema, { name: "empty", version: "v" })],
    expect: { nack: "resources[0][empty].resource: missing" },
  },
  {
    name: "an Address with neither workload nor service",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("none", A, new Uint8Array())],
    expect: { nack: "address[none].type: unset, expected workload or service" },
  },
  {
    name: "a workload whose uid differs from its resource name",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("name", A, workloadBytes("uid"))],
    expect: { nack: 'workload[uid=uid]: resource name "name" differs from uid, expected the uid' },
  },
  {
    name: "a 5-byte IP address",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("ip5", { addresses: [new Uint8Array([10, 0, 0, 1, 9])] })],
    expect: { nack: "workload[uid=ip5].addresses[0]: 5 bytes, expected 4 or 16" },
  },
  {
    name: "an empty IP address",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("ip0", { addresses: [new Uint8Array()] })],
    expect: { nack: "workload[uid=ip0].addresses[0]: 0 bytes, expected 4 or 16" },
  },
  {
    name: "a workload with no address and no hostname",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("nowhere", { addresses: [] })],
    expect: { nack: "workload[uid=nowhere]: no addresses and no hostname, expected at least one" },
  },
  {
    name: "17 addresses on one workload",
    target: "xds-client",
    typeUrl: A,
    resources: () => [
      workload("many", { addresses: Array.from({ length: 17 }, (_, i) => new Uint8Array([10, 0, 1, i])) }),
    ],
    expect: { nack: "workload[uid=many].addresses: 17 entries, at most 16 allowed" },
  },
  {
    name: "an unknown tunnel_protocol (99): never read as plaintext",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("tp", { tunnelProtocol: 99 as TunnelProtocol })],
    expect: {
      nack: "workload.tunnel_protocol: unknown enum value 99 for istio.workload.TunnelProtocol (known: NONE=0, HBONE=1)",
    },
  },
  {
    name: "1 MiB in a workload's canonical_name",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("big", { canonicalName: "x".repeat(1024 * 1024) })],
    expect: { nack: "workload[uid=big].canonical_name: 1048576 characters, at most 253 allowed" },
  },
  {
    name: "service port 0",
    target: "xds-client",
    typeUrl: A,
    resources: () => [
      resource("default/s.default.svc", A, serviceBytes("default", "s.default.svc", [[0, 8080]])),
    ],
    expect: { nack: "service[default/s.default.svc].ports[0].service_port: 0, expected 1-65535" },
  },
  {
    name: "target port 70000",
    target: "xds-client",
    typeUrl: A,
    resources: () => [
      resource("default/s.default.svc", A, serviceBytes("default", "s.default.svc", [[80, 70000]])),
    ],
    expect: { nack: "service[default/s.default.svc].ports[0].target_port: 70000, expected 0-65535" },
  },
  {
    name: "a service with an empty hostname",
    target: "xds-client",
    typeUrl: A,
    resources: () => [resource("default/", A, serviceBytes("default", "", [[80, 80]]))],
    expect: { nack: "service[default/].hostname: empty, expected the service FQDN" },
  },
  {
    name: "a waypoint reference with no destination",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("wp", { waypoint: { hboneMtlsPort: 15008 } })],
    expect: { nack: "workload[uid=wp].waypoint.destination: unset, expected hostname or address" },
  },
  {
    name: "one bad workload among good ones: nothing of the response applied",
    target: "xds-client",
    typeUrl: A,
    resources: () => [
      workload("fine-1"),
      workload("bad-ip", { addresses: [new Uint8Array([1])] }),
      workload("fine-2"),
    ],
    expect: { nack: "workload[uid=bad-ip].addresses[0]: 1 bytes, expected 4 or 16" },
  },
  {
    name: "10,000 workloads in one response (valid: applied)",
    target: "xds-client",
    typeUrl: A,
    resources: () =>
      Array.from({ length: 10_000 }, (_, i) =>
        workload(`bulk-${i}`, { addresses: [new Uint8Array([10, 1 + (i >> 16), (i >> 8) & 255, i & 255])] }),
      ),
    expect: { applied: ["bulk-0", "bulk-9999"] },
  },
  {
    name: "a workload naming policies that do not exist (valid: applied, they match nothing)",
    target: "xds-client",
    typeUrl: A,
    resources: () => [workload("refs", { authorizationPolicies: ["default/missing", "other/ghost"] })],
    expect: { applied: ["refs"] },
  },
  {
    name: "removing names never sent (valid: ACKed, nothing changes)",
    target: "xds-client",
    typeUrl: A,
    resources: () => [],
    removed: ["never-sent", "also-never"],
    expect: { applied: [] },
  },
];

const AUTHORIZATIONS: XdsCase[] = [
  {
    name: "an unknown action (99): never read as ALLOW",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [policy("act", { action: 99 as Action })],
    expect: {
      nack: "action: unknown enum value 99 for istio.security.Action (known: ALLOW=0, DENY=1)",
    },
  },
  {
    name: "an unknown scope (7)",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [policy("scope", { scope: 7 as Scope })],
    expect: {
      nack: "scope: unknown enum value 7 for istio.security.Scope (known: GLOBAL=0, NAMESPACE=1, WORKLOAD_SELECTOR=2)",
    },
  },
  {
    name: "destination port 70000 in a match",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [
      policy("port", { rules: [{ clauses: [{ matches: [{ destinationPorts: [70000] }] }] }] }),
    ],
    expect: {
      nack: "authorization[default/port].rules[0].clauses[0].matches[0].destination_ports[0]: 70000, expected 1-65535",
    },
  },
  {
    name: "an IPv4 CIDR /33",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [
      policy("cidr", {
        rules: [
          {
            clauses: [{ matches: [{ sourceIps: [{ address: new Uint8Array([10, 0, 0, 0]), length: 33 }] }] }],
          },
        ],
      }),
    ],
    expect: {
      nack: "authorization[default/cidr].rules[0].clauses[0].matches[0].source_ips[0].length: 33, expected 0-32",
    },
  },
  {
    name: "a string match with no match type",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [policy("sm", { rules: [{ clauses: [{ matches: [{ principals: [{}] }] }] }] })],
    expect: {
      nack: "authorization[default/sm].rules[0].clauses[0].matches[0].principals[0].match_type: unset, expected exact, prefix, suffix or presence",
    },
  },
  {
    name: "1025 rules in one policy",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [policy("rules", { rules: Array.from({ length: 1025 }, () => ({ clauses: [] })) })],
    expect: { nack: "authorization[default/rules].rules: 1025 entries, at most 1024 allowed" },
  },
  {
    name: "a policy whose resource name is not namespace/name",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [resource("p", Z, policyBytes("p"))],
    expect: { nack: 'authorization[default/p]: resource name "p" differs, expected "namespace/name"' },
  },
  {
    name: "a policy with no rules (valid: applied; an ALLOW with no rule matches nothing)",
    target: "xds-client",
    typeUrl: Z,
    resources: () => [policy("empty-rules", { rules: [] })],
    expect: { applied: ["default/empty-rules"] },
  },
];

const TRUST_BUNDLES: XdsCase[] = [
  {
    name: "a trust bundle without roots",
    target: "xds-client",
    typeUrl: T,
    resources: () => [bundle({ rootsPem: [] })],
    expect: { nack: "roots_pem: empty; a bundle needs at least one root" },
  },
  {
    name: "a leaf certificate as a trust root",
    target: "xds-client",
    typeUrl: T,
    resources: (c) => [bundle({ rootsPem: [c.leafPem] })],
    expect: { nack: /^roots_pem\[0\]: ".*" is not a CA certificate$/ },
  },
  {
    name: "garbage as a root PEM",
    target: "xds-client",
    typeUrl: T,
    resources: () => [
      bundle({ rootsPem: ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] }),
    ],
    expect: { nack: "roots_pem[0]: not a PEM certificate" },
  },
  {
    name: "17 roots",
    target: "xds-client",
    typeUrl: T,
    resources: (c) => [bundle({ rootsPem: Array.from({ length: 17 }, () => c.rootPem) })],
    expect: { nack: "roots_pem: 17 roots, at most 16" },
  },
  {
    name: "a revoked serial that is not hex",
    target: "xds-client",
    typeUrl: T,
    resources: (c) => [bundle({ rootsPem: [c.rootPem], revokedSerials: ["AB", "../etc/passwd"] })],
    expect: {
      nack: 'revoked_serials[1]: "../etc/passwd" is not a certificate serial (hex, at most 20 octets)',
    },
  },
  {
    name: "a trust bundle under another name than mesh",
    target: "xds-client",
    typeUrl: T,
    resources: (c) => [bundle({ rootsPem: [c.rootPem] }, "other")],
    expect: { nack: 'name: "other", expected "mesh"' },
  },
];

/** 100,000 nested arrays: deeper than any parser should recurse. */
const DEEP_JSON = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;

const L7: XdsCase[] = [
  {
    name: "L7 json that is not JSON",
    target: "xds-client",
    typeUrl: L,
    resources: () => [l7("r", "{not json")],
    expect: {
      nack: "l7[HTTPRoute/default/r].json: not JSON (Expected property name or '}' in JSON at position 1)",
    },
  },
  {
    name: "L7 json nested 100,000 levels deep",
    target: "xds-client",
    typeUrl: L,
    resources: () => [l7("deep", DEEP_JSON)],
    // V8's JSON.parse does not recurse on the native stack: it parses, and the envelope refuses the array.
    expect: { nack: "l7[HTTPRoute/default/deep].json: expected a JSON object (one resource)" },
  },
  {
    name: "L7 json that is an array",
    target: "xds-client",
    typeUrl: L,
    resources: () => [l7("arr", "[]")],
    expect: { nack: "l7[HTTPRoute/default/arr].json: expected a JSON object (one resource)" },
  },
  {
    name: "L7 json whose kind differs from the envelope",
    target: "xds-client",
    typeUrl: L,
    resources: () => [l7("k", { ...(httpRoute("k") as object), kind: "AuthorizationPolicy" })],
    expect: {
      nack: "l7[HTTPRoute/default/k].json: kind / metadata.name / metadata.namespace differ from the resource's fields",
    },
  },
  {
    name: "2 MiB of L7 json",
    target: "xds-client",
    typeUrl: L,
    resources: () => [
      l7("huge", JSON.stringify({ ...(httpRoute("huge") as object), pad: "x".repeat(2 * 1024 * 1024) })),
    ],
    expect: { nack: /^l7\[HTTPRoute\/default\/huge\]\.json: \d+ characters, at most 1048576 allowed$/ },
  },
  {
    name: "an HTTPRoute whose routes nest filters 10,000 deep",
    target: "xds-client",
    typeUrl: L,
    resources: () => {
      // Built as text: the test itself must not recurse 10,000 deep to write it.
      const open = '{"type":"RequestHeaderModifier","requestHeaderModifier":{"set":['.repeat(10_000);
      const close = "]}}".repeat(10_000);
      const route = JSON.stringify(
        httpRoute("nested", [{ filters: ["FILTER"], backendRefs: [{ name: "svc", port: 80 }] }]),
      );
      return [l7("nested", route.replace('"FILTER"', `${open}{"type":"RequestHeaderModifier"}${close}`))];
    },
    expect: {
      nack: "HTTPRoute/default/nested: xds:HTTPRoute/default/nested:1:2250: nested more than 100 levels deep",
    },
  },
  {
    name: "an HTTPRoute with a backend port 70000",
    target: "xds-client",
    typeUrl: L,
    resources: () => [l7("port", httpRoute("port", [{ backendRefs: [{ name: "svc", port: 70000 }] }]))],
    expect: {
      nack: "HTTPRoute/default/port: xds:HTTPRoute/default/port:1:226 spec.rules[0].backendRefs[0].port: 70000 is not a port number (1-65535)",
    },
  },
  {
    name: "an HTTPRoute referencing a backend that does not exist (valid: applied)",
    target: "xds-client",
    typeUrl: L,
    resources: () => [
      l7("ghost", httpRoute("ghost", [{ backendRefs: [{ name: "no-such-service", port: 80 }] }])),
    ],
    expect: { applied: ["HTTPRoute/default/ghost"] },
  },
];

export const XDS_CASES: readonly XdsCase[] = [...ADDRESSES, ...AUTHORIZATIONS, ...TRUST_BUNDLES, ...L7];
