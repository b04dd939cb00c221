/**
 * Whether the waypoint parses a Service port as MySQL: `appProtocol: mysql`, or Istio's port-name
 * convention (`mysql`, `mysql-<suffix>`) when no appProtocol is set, as Istio's protocol selection reads it.
 */
export interface ServicePortInfo {
  readonly name?: string;
  readonly appProtocol?: string;
}

export function isMysqlPort(port: ServicePortInfo): boolean {
  if (port.appProtocol !== undefined && port.appProtocol !== "")
    return port.appProtocol.toLowerCase() === "mysql";
  const name = (port.name ?? "").toLowerCase();
  return name === "mysql" || name.startsWith("mysql-");
}
