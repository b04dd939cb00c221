/**
 * Turns xDS updates into ztunnel state. The resource types add ztunnel's own checks to the xDS
 * library's validators, so a resource the state could not use is NACKed (the client keeps the
 * last good config) instead of being half-applied.
 */
import type { Message } from "@bufbuild/protobuf";
import type { XdsChange } from "../xds/client.js";
import { type Authorization, AuthorizationSchema } from "../xds/gen/istio/security/authorization_pb.js";
import { type Address, AddressSchema } from "../xds/gen/istio/workload/workload_pb.js";
import { defineResourceType, type XdsResourceType } from "../xds/resource-types.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../xds/type-urls.js";
import { validateAddress, validateAuthorization } from "../xds/validate.js";
import { addressFromProto, policyFromProto, type ZtunnelState } from "./state.js";

function firstError(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export const ZTUNNEL_ADDRESS_TYPE: XdsResourceType = defineResourceType(
  AddressSchema,
  (a: Address, name: string) => validateAddress(a, name) ?? firstError(() => addressFromProto(name, a)),
);

export const ZTUNNEL_AUTHORIZATION_TYPE: XdsResourceType = defineResourceType(
  AuthorizationSchema,
  (a: Authorization, name: string) =>
    validateAuthorization(a, name) ?? firstError(() => policyFromProto(name, a)),
);

/** Applies one accepted xDS response. Resources were validated by the client already. */
export function applyChange(state: ZtunnelState, change: XdsChange): void {
  if (change.typeUrl === ADDRESS_TYPE_URL) {
    for (const name of change.removed) state.removeAddress(name);
    for (const [name, message] of change.upserted)
      state.upsertAddress(name, addressFromProto(name, message as Message as Address));
  } else if (change.typeUrl === AUTHORIZATION_TYPE_URL) {
    for (const name of change.removed) state.removePolicy(name);
    for (const [name, message] of change.upserted)
      state.upsertPolicy(policyFromProto(name, message as Message as Authorization));
  }
}

export { AddressSchema, AuthorizationSchema };
