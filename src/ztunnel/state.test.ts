import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AddressSchema, ServiceSchema, WorkloadSchema } from "../xds/gen/istio/workload/workload_pb.js";
import { ZtunnelErrorCode } from "./errors.js";
import { addressFromProto, policyFromProto, ZtunnelState } from "./state.js";
import { authorization, workloadAddress } from "./testing.js";
import { ZTUNNEL_ADDRESS_TYPE } from "./xds-sync.js";

const wl = (fields: Record<string, unknown>) =>
  create(AddressSchema, { type: { case: "workload", value: create(WorkloadSchema, fields) } });

test("workloads convert with Istio defaults (trust domain, service account, identity)", () => {
  const e = addressFromProto(
    "w1",
    wl({ uid: "w1", name: "w1", namespace: "ns", addresses: [new Uint8Array([10, 0, 0, 1])], node: "n" }),
  );
  assert.equal(e.kind, "workload");
  if (e.kind === "workload") {
    assert.equal(e.workload.identity, "spiffe://cluster.local/ns/ns/sa/default");
    assert.deepEqual(e.workload.addresses, ["10.0.0.1"]);
    assert.equal(e.workload.tunnel, "none");
    assert.equal(e.workload.mode, "ambient");
  }
  const mon = addressFromProto(
    "m",
    workloadAddress({ uid: "m", ip: "10.0.0.2", node: "n", mode: "monitor" }),
  );
  assert.ok(mon.kind === "workload" && mon.workload.mode === "monitor");
});

test("malformed resources are rejected with ZT_ERR_BAD_RESOURCE naming the field", () => {
  const bad: [string, Parameters<typeof addressFromProto>[1], RegExp][] = [
    [
      "w",
      wl({ uid: "w", name: "w", namespace: "ns", addresses: [new Uint8Array([1, 2, 3])] }),
      /addresses\[0\]/,
    ],
    ["w", wl({ uid: "other", name: "w", namespace: "ns" }), /uid/],
    ["w", wl({ uid: "w", name: "w", namespace: "bad ns" }), /namespace/],
    ["w", wl({ uid: "w", name: "w", namespace: "ns", serviceAccount: "a/b" }), /service_account/],
    ["w", wl({ uid: "w", name: "w", namespace: "ns", services: { nokey: { ports: [] } } }), /services/],
    [
      "w",
      wl({
        uid: "w",
        name: "w",
        namespace: "ns",
        services: { "ns/h": { ports: [{ servicePort: 70000, targetPort: 1 }] } },
      }),
      /service_port/,
    ],
    [
      "ns/h",
      create(AddressSchema, {
        type: {
          case: "service",
          value: create(ServiceSchema, {
            namespace: "ns",
            hostname: "h",
            addresses: [{ address: new Uint8Array(5) }],
          }),
        },
      }),
      /addresses\[0\]/,
    ],
    ["x", create(AddressSchema, {}), /neither/],
  ];
  for (const [name, resource, field] of bad) {
    assert.throws(
      () => addressFromProto(name, resource),
      (e: { code?: string; message?: string }) =>
        e.code === ZtunnelErrorCode.BadResource && field.test(e.message ?? ""),
    );
    assert.notEqual(ZTUNNEL_ADDRESS_TYPE.validate(resource, name), null, `validator accepts ${field}`);
  }
  const pol = authorization({ name: "p", rules: [[[{ ports: [0] }]]] });
  assert.throws(() => policyFromProto("default/p", pol), { code: ZtunnelErrorCode.BadResource });
  assert.throws(() => policyFromProto("default/other", authorization({ name: "p", rules: [] })), {
    code: ZtunnelErrorCode.BadResource,
  });
});

test("state indexes follow upserts and removals", () => {
  const s = new ZtunnelState({ node: "n" });
  s.upsertAddress(
    "a",
    addressFromProto("a", workloadAddress({ uid: "a", ip: ["10.0.0.1", "fd00::1"], node: "n" })),
  );
  assert.equal(s.workloadByIp("fd00:0:0:0:0:0:0:1")?.uid, "a");
  assert.equal(s.workloadByIp("::ffff:10.0.0.1")?.uid, "a");
  assert.equal(s.localWorkloads().length, 1);
  s.upsertAddress("a", addressFromProto("a", workloadAddress({ uid: "a", ip: "10.0.0.9", node: "m" })));
  assert.equal(s.workloadByIp("10.0.0.1"), undefined);
  assert.equal(s.localWorkloads().length, 0);
  const v = s.version;
  s.removeAddress("a");
  assert.equal(s.workloadByUid("a"), undefined);
  assert.ok(s.version > v);
});
