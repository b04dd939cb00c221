import type { DescMessage } from "@bufbuild/protobuf";

/** Workloads and services, keyed by workload uid or "namespace/hostname" (ztunnel's protocol). */
export const ADDRESS_TYPE_URL = "type.googleapis.com/istio.workload.Address";
/** L4 authorization policies, keyed by "namespace/name" (ztunnel's protocol). */
export const AUTHORIZATION_TYPE_URL = "type.googleapis.com/istio.security.Authorization";

/** ambit's waypoint L7 configuration, keyed by "kind/namespace/name" (docs/xds.md). */
export const L7_RESOURCE_TYPE_URL = "type.googleapis.com/ambit.waypoint.L7Resource";

/** google.rpc.BadRequest in a NACK's error_detail.details: one field violation per rejected resource name. */
export const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

export function typeUrlOf(schema: DescMessage): string {
  return `type.googleapis.com/${schema.typeName}`;
}
