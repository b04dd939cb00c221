import type { DescMessage, Message, MessageShape } from "@bufbuild/protobuf";
import { AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema } from "./gen/istio/workload/workload_pb.js";
import { typeUrlOf } from "./type-urls.js";
import { type ResourceValidator, validateAddress, validateAuthorization } from "./validate.js";

/**
 * A resource type the xDS client can decode and check: its type URL, its schema and its
 * validator. ambit's own waypoint L7 types will be defined the same way when they exist.
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
    validate: (resource, name) => (validate ? validate(resource as MessageShape<S>, name) : null),
  };
}

export const ADDRESS_TYPE: XdsResourceType = defineResourceType(AddressSchema, validateAddress);
export const AUTHORIZATION_TYPE: XdsResourceType = defineResourceType(
  AuthorizationSchema,
  validateAuthorization,
);
