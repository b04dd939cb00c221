/**
 * A waypoint for the in-process waypoint tests, on the ztunnel test harness's fake control plane:
 * started with the test's L7 resources, its HBONE upstreams dialled to the right node's port, and its
 * own port registered as node "node-wp" so the ztunnels reach it.
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Resource } from "../../src/api/types.js";
import { createLogger, MemoryLogDestination } from "../../src/telemetry/logger.js";
import { createMeshMetrics } from "../../src/telemetry/metrics.js";
import { Waypoint } from "../../src/waypoint/waypoint.js";
import { CONTROL_PLANE_ID, type ControlPlane, type NodePorts } from "../ztunnel/harness.js";

export const WAYPOINT_IP = "127.0.0.20";

/** Dials an HBONE destination at the port of the node its address belongs to. */
export function connector(cp: ControlPlane, nodePorts: NodePorts) {
  return (d: { host: string; port: number }): Promise<Duplex> =>
    new Promise((resolve, reject) => {
      const port = nodePorts.get(cp.nodeOf(d.host) ?? "");
      if (port === undefined) return reject(new Error(`no node for ${d.host}`));
      const s = net.connect({ host: d.host, port, noDelay: true });
      s.once("connect", () => {
        s.removeListener("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
}

export async function startTestWaypoint(
  cp: ControlPlane,
  nodePorts: NodePorts,
  resources: Resource[],
  extra: { rand?: () => number; logs?: MemoryLogDestination } = {},
): Promise<Waypoint> {
  const wp = await Waypoint.start(
    {
      name: "waypoint",
      namespace: "default",
      control: {
        address: cp.address,
        tls: { rootsPem: cp.pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
        token: "waypoint",
        backoff: { initialMs: 20, maxMs: 200 },
      },
      bindAddress: WAYPOINT_IP,
      ports: { hbone: 0, metrics: 0, readiness: 0 },
      resources,
      hboneConnector: connector(cp, nodePorts),
      ...(extra.rand !== undefined ? { rand: extra.rand } : {}),
    },
    {
      logger: createLogger({
        name: "waypoint",
        level: "info",
        destination: extra.logs ?? new MemoryLogDestination(),
      }),
      metrics: createMeshMetrics(),
    },
  );
  nodePorts.set("node-wp", wp.addresses.hbone.port);
  return wp;
}
