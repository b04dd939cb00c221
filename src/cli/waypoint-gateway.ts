/**
 * The Gateway `ambit waypoint apply` writes, as `istioctl waypoint apply` generates it: class
 * istio-waypoint, one listener `mesh` on 15008 speaking HBONE, and `istio.io/waypoint-for` saying
 * which traffic it takes (service by default).
 */
export const WAYPOINT_FOR = ["service", "workload", "all", "none"] as const;
export type WaypointFor = (typeof WAYPOINT_FOR)[number];

export interface WaypointGatewaySpec {
  readonly namespace: string;
  readonly name: string;
  readonly for: WaypointFor;
}

export function waypointGatewayYaml(s: WaypointGatewaySpec): string {
  return [
    "apiVersion: gateway.networking.k8s.io/v1",
    "kind: Gateway",
    "metadata:",
    `  name: ${s.name}`,
    `  namespace: ${s.namespace}`,
    "  labels:",
    `    istio.io/waypoint-for: ${s.for}`,
    "spec:",
    "  gatewayClassName: istio-waypoint",
    "  listeners:",
    "    - name: mesh",
    "      port: 15008",
    "      protocol: HBONE",
    "",
  ].join("\n");
}

export function isWaypointFor(v: string): v is WaypointFor {
  return (WAYPOINT_FOR as readonly string[]).includes(v);
}
