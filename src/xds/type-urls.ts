import type { DescMessage } from "@bufbuild/protobuf";

/** Workloads and services, keyed by workload uid or "namespace/hostname" (ztunnel's protocol). */
export const ADDRESS_TYPE_URL = "type.googleapis.com/istio.workload.Address";
/** L4 authorization policies, keyed by "namespace/name" (ztunnel's protocol). */
export const AUTHORIZATION_TYPE_URL = "type.googleapis.com/istio.security.Authorization";

export function typeUrlOf(schema: DescMessage): string {
  return `type.googleapis.com/${schema.typeName}`;
}
