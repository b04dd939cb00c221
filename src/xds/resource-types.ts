import type { DescMessage, Message, MessageShape } from "@bufbuild/protobuf";
import { unknownEnumValue } from "./enum-check.js";
import { L7ResourceSchema } from "./gen/ambit/waypoint/l7_pb.js";
import { AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema } from "./gen/istio/workload/workload_pb.js";
import { typeUrlOf } from "./type-urls.js";
import {
  type ResourceValidator,
  validateAddress,
  validateAuthorization,
  validateL7Resource,
} from "./validate.js";

/**
 * A resource type the xDS client can decode and check: its type URL, its schema and its
 * validator. ambit's own waypoint L7 type is defined the same way (L7_RESOURCE_TYPE).
 */
export interface XdsResourceType {
  readonly typeUrl: string;
  readonly schema: DescMessage;
  /** null when acceptable; otherwise a path-like error that goes back to the server as a NACK. */
  readonly validate: (resource: Message, name: string) => string | null;
}

export function defineResourceType<S extends DescMessage>(
  schema: S,
  validate?: ResourceValidator<MessageShape<S>>,
): XdsResourceType {
  return {
    typeUrl: typeUrlOf(schema),
    schema,
    // The client decodes every resource of this type with `schema`, so the message is a
    // MessageShape<S>; the generic is erased only to keep a list of mixed types.
    validate: (resource, name) =>
      unknownEnumValue(schema, resource) ?? (validate ? validate(resource as MessageShape<S>, name) : null),
  };
}

export const ADDRESS_TYPE: XdsResourceType = defineResourceType(AddressSchema, validateAddress);
export const AUTHORIZATION_TYPE: XdsResourceType = defineResourceType(
  AuthorizationSchema,
  validateAuthorization,
);
/** Only the envelope is checked here; the waypoint adds its compile check (src/waypoint/l7-config.ts). */
export const L7_RESOURCE_TYPE: XdsResourceType = defineResourceType(L7ResourceSchema, validateL7Resource);
