import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { unknownEnumValue } from "./enum-check.js";
import { Action, AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema, LoadBalancing_Scope, TunnelProtocol } from "./gen/istio/workload/workload_pb.js";

test("unknownEnumValue: known values (and unset fields) pass; an unknown one is named by its path, at any depth", () => {
  const ok = create(AddressSchema, {
    type: { case: "workload", value: { uid: "u", tunnelProtocol: TunnelProtocol.HBONE } },
  });
  assert.equal(unknownEnumValue(AddressSchema, ok), null);
  assert.equal(unknownEnumValue(AddressSchema, create(AddressSchema, {})), null);
  const oneof = create(AddressSchema, {
    type: { case: "workload", value: { uid: "u", tunnelProtocol: 7 as TunnelProtocol } },
  });
  assert.equal(
    unknownEnumValue(AddressSchema, oneof),
    "workload.tunnel_protocol: unknown enum value 7 for istio.workload.TunnelProtocol (known: NONE=0, HBONE=1)",
  );
  const top = create(AuthorizationSchema, { name: "p", action: 5 as Action });
  assert.match(
    unknownEnumValue(AuthorizationSchema, top) ?? "",
    /^action: unknown enum value 5 for istio\.security\.Action/,
  );
  assert.equal(
    unknownEnumValue(AuthorizationSchema, create(AuthorizationSchema, { action: Action.DENY })),
    null,
  );
  const list = create(AddressSchema, {
    type: {
      case: "service",
      value: {
        hostname: "s",
        loadBalancing: { routingPreference: [LoadBalancing_Scope.REGION, 42 as LoadBalancing_Scope] },
      },
    },
  });
  assert.match(
    unknownEnumValue(AddressSchema, list) ?? "",
    /^service\.load_balancing\.routing_preference\[1\]: unknown enum value 42 for istio\.workload\.LoadBalancing\.Scope/,
  );
});
