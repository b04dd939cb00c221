import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema, type WorkloadSchema } from "./gen/istio/workload/workload_pb.js";
import {
  addressResourceName,
  authorizationResourceName,
  validateAddress,
  validateAuthorization,
  XDS_LIMITS,
} from "./validate.js";

type WorkloadInit = MessageInitShape<typeof WorkloadSchema>;

function wl(init: WorkloadInit) {
  return create(AddressSchema, {
    type: { case: "workload", value: { uid: "u1", addresses: [new Uint8Array([10, 0, 0, 1])], ...init } },
  });
}

const gw = (address: number[], port: number) => ({
  destination: { case: "address" as const, value: { network: "", address: new Uint8Array(address) } },
  hboneMtlsPort: port,
});

test("workload validation: each defect is reported with its path", () => {
  const cases: [string, ReturnType<typeof wl>, string | null][] = [
    ["valid v4", wl({}), null],
    ["valid v6 + hostname", wl({ addresses: [new Uint8Array(16)], hostname: "h.example" }), null],
    ["hostname only", wl({ addresses: [], hostname: "db.example.com" }), null],
    [
      "3-byte address",
      wl({ addresses: [new Uint8Array(3)] }),
      "workload[uid=u1].addresses[0]: 3 bytes, expected 4 or 16",
    ],
    [
      "second address bad",
      wl({ addresses: [new Uint8Array(4), new Uint8Array(5)] }),
      "workload[uid=u1].addresses[1]: 5 bytes, expected 4 or 16",
    ],
    [
      "no address, no hostname",
      wl({ addresses: [] }),
      "workload[uid=u1]: no addresses and no hostname, expected at least one",
    ],
    [
      "too many addresses",
      wl({ addresses: Array.from({ length: 17 }, () => new Uint8Array(4)) }),
      "workload[uid=u1].addresses: 17 entries, at most 16 allowed",
    ],
    ["empty uid", wl({ uid: "" }), "workload[uid=].uid: empty, expected a unique workload id"],
    [
      "long namespace",
      wl({ namespace: "n".repeat(254) }),
      "workload[uid=u1].namespace: 254 characters, at most 253 allowed",
    ],
    [
      "waypoint port 0",
      wl({ waypoint: gw([10, 0, 0, 9], 0) }),
      "workload[uid=u1].waypoint.hbone_mtls_port: 0, expected 1-65535",
    ],
    ["waypoint ok", wl({ waypoint: gw([10, 0, 0, 9], 15008) }), null],
    [
      "waypoint bad ip",
      wl({ waypoint: gw([10, 0], 15008) }),
      "workload[uid=u1].waypoint.address.address: 2 bytes, expected 4 or 16",
    ],
    [
      "waypoint without destination",
      wl({ waypoint: { hboneMtlsPort: 15008 } }),
      "workload[uid=u1].waypoint.destination: unset, expected hostname or address",
    ],
    [
      "service port 0",
      wl({
        services: {
          "default/s.default.svc.cluster.local": { ports: [{ servicePort: 0, targetPort: 8080 }] },
        },
      }),
      "workload[uid=u1].services[default/s.default.svc.cluster.local].ports[0].service_port: 0, expected 1-65535",
    ],
    [
      "target port too big",
      wl({ services: { "default/s": { ports: [{ servicePort: 80, targetPort: 70000 }] } } }),
      "workload[uid=u1].services[default/s].ports[0].target_port: 70000, expected 0-65535",
    ],
    [
      "target port 0 allowed",
      wl({ services: { "default/s": { ports: [{ servicePort: 80, targetPort: 0 }] } } }),
      null,
    ],
  ];
  for (const [name, address, want] of cases) {
    assert.equal(validateAddress(address, addressResourceName(address) || "u1"), want, name);
  }
});

test("the resource name must be Istio's key: uid for workloads, namespace/hostname for services", () => {
  assert.match(validateAddress(wl({}), "other") ?? "", /differs from uid/);
  const svc = create(AddressSchema, {
    type: {
      case: "service",
      value: { name: "s", namespace: "default", hostname: "s.default.svc.cluster.local" },
    },
  });
  assert.equal(addressResourceName(svc), "default/s.default.svc.cluster.local");
  assert.equal(validateAddress(svc, "default/s.default.svc.cluster.local"), null);
  assert.match(validateAddress(svc, "s") ?? "", /expected "namespace\/hostname"/);
  assert.equal(
    validateAddress(create(AddressSchema, {}), "x"),
    "address[x].type: unset, expected workload or service",
  );
});

test("service validation", () => {
  const svc = (init: Record<string, unknown>) =>
    create(AddressSchema, {
      type: { case: "service", value: { name: "s", namespace: "ns", hostname: "s.ns.svc", ...init } },
    });
  const cases: [string, ReturnType<typeof svc>, string | null][] = [
    [
      "valid",
      svc({
        addresses: [{ network: "", address: new Uint8Array(4) }],
        ports: [{ servicePort: 80, targetPort: 8080 }],
      }),
      null,
    ],
    [
      "bad vip",
      svc({ addresses: [{ network: "", address: new Uint8Array(8) }] }),
      "service[ns/s.ns.svc].addresses[0].address: 8 bytes, expected 4 or 16",
    ],
    [
      "bad port",
      svc({ ports: [{ servicePort: 65536 }] }),
      "service[ns/s.ns.svc].ports[0].service_port: 65536, expected 1-65535",
    ],
    ["empty hostname", svc({ hostname: "" }), "service[ns/].hostname: empty, expected the service FQDN"],
  ];
  for (const [name, address, want] of cases)
    assert.equal(validateAddress(address, addressResourceName(address)), want, name);
});

test("authorization validation", () => {
  const pol = (matches: Record<string, unknown>[]) =>
    create(AuthorizationSchema, { name: "p", namespace: "ns", rules: [{ clauses: [{ matches }] }] });
  const cases: [string, ReturnType<typeof pol>, string | null][] = [
    [
      "valid",
      pol([
        {
          destinationPorts: [80],
          principals: [{ matchType: { case: "exact", value: "cluster.local/ns/a/sa/b" } }],
        },
      ]),
      null,
    ],
    [
      "port 0",
      pol([{ destinationPorts: [80, 0] }]),
      "authorization[ns/p].rules[0].clauses[0].matches[0].destination_ports[1]: 0, expected 1-65535",
    ],
    [
      "cidr too long",
      pol([{ sourceIps: [{ address: new Uint8Array(4), length: 33 }] }]),
      "authorization[ns/p].rules[0].clauses[0].matches[0].source_ips[0].length: 33, expected 0-32",
    ],
    [
      "cidr bad bytes",
      pol([{ notDestinationIps: [{ address: new Uint8Array(5), length: 8 }] }]),
      "authorization[ns/p].rules[0].clauses[0].matches[0].not_destination_ips[0].address: 5 bytes, expected 4 or 16",
    ],
    [
      "string match unset",
      pol([{ namespaces: [{}] }]),
      "authorization[ns/p].rules[0].clauses[0].matches[0].namespaces[0].match_type: unset, expected exact, prefix, suffix or presence",
    ],
    [
      "too many values",
      pol([{ destinationPorts: Array.from({ length: XDS_LIMITS.valuesPerMatchField + 1 }, () => 80) }]),
      "authorization[ns/p].rules[0].clauses[0].matches[0].destination_ports: 1025 entries, at most 1024 allowed",
    ],
  ];
  for (const [name, p, want] of cases)
    assert.equal(validateAuthorization(p, authorizationResourceName(p)), want, name);
  assert.match(validateAuthorization(pol([]), "p") ?? "", /expected "namespace\/name"/);
});

test("hostile bytes: whatever decodes is either accepted or rejected with a message, never a throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 40 }), (bytes, name) => {
      for (const [schema, validate] of [
        [AddressSchema, validateAddress],
        [AuthorizationSchema, validateAuthorization],
      ] as const) {
        let message: Parameters<typeof validate>[0];
        try {
          message = fromBinary(schema, bytes) as Parameters<typeof validate>[0];
        } catch {
          continue; // undecodable: the client NACKs before validation
        }
        const out = (validate as (m: unknown, n: string) => string | null)(message, name);
        assert.ok(out === null || (typeof out === "string" && out.length > 0));
      }
    }),
    { numRuns: 2000 },
  );
});
