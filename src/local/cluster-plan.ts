/**
 * The local cluster's shape as pure planning: node names, zones and addresses (the layout of
 * platform/topology-plan.ts), the control plane's namespace on the fabric, the names every pod
 * gets (netns, host veth, capture key), and the state file that records all of it so
 * `ambit down` can remove everything by name, also after a crash.
 */
import { createHash } from "node:crypto";
import { planTopology, type TopologyPlan } from "../platform/topology-plan.js";
import type { CaptureMode, ClusterConfig } from "./cluster-config.js";

export const CONTROL_IP = "10.200.0.2";
export const CONTROL_XDS_PORT = 15012;
/** The control plane's link in the fabric netns (its peer is `eth0` in the control netns). */
export const CONTROL_FABRIC_VETH = "ctl0";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const STATE_FILE = "cluster.json";
export const AGENT_STATUS_FILE = "agent-status.json";

export interface NodeRecord {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  readonly podCidr: string;
  readonly gateway: string;
  readonly zone: string;
}

/** `$AMBIT_HOME/cluster.json`. */
export interface ClusterState {
  readonly version: 1;
  readonly name: string;
  readonly prefix: string;
  readonly home: string;
  readonly repoRoot: string;
  readonly createdAt: string;
  readonly fabric: { readonly netns: string };
  readonly control: {
    readonly netns: string;
    readonly ip: string;
    readonly xdsAddress: string;
    pid: number | null;
  };
  readonly nodes: readonly NodeRecord[];
  agent: { pid: number | null };
  readonly restartBackoffMs: number;
  /** Where pods' traffic is captured; absent in state files written before in-pod mode, which were "node". */
  readonly capture?: CaptureMode;
}

export function captureMode(state: Pick<ClusterState, "capture">): CaptureMode {
  return state.capture ?? "node";
}

export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${i + 1}`);
}

/** Two zones, alternating, so cross-zone traffic exists and shows in the health model. */
export function zoneOf(index: number): string {
  return `zone-${String.fromCharCode(97 + (index % 2))}`;
}

export function clusterTopology(config: Pick<ClusterConfig, "prefix" | "nodes">): TopologyPlan {
  return planTopology({
    prefix: config.prefix,
    nodes: nodeNames(config.nodes).map((name) => ({ name, pods: [] })),
  });
}

export function planCluster(config: ClusterConfig, now: Date): ClusterState {
  const topo = clusterTopology(config);
  return {
    version: 1,
    name: config.name,
    prefix: config.prefix,
    home: config.home,
    repoRoot: config.repoRoot,
    createdAt: now.toISOString(),
    fabric: { netns: topo.fabric.netns },
    control: {
      netns: `${config.prefix}-control`,
      ip: CONTROL_IP,
      xdsAddress: `${CONTROL_IP}:${CONTROL_XDS_PORT}`,
      pid: null,
    },
    nodes: topo.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      ip: n.ip,
      podCidr: n.podCidr,
      gateway: n.gateway,
      zone: zoneOf(n.index),
    })),
    agent: { pid: null },
    restartBackoffMs: config.restartBackoffMs,
    capture: config.capture,
  };
}

/** The `Node` objects the control plane schedules on; their pod CIDRs match the routes built. */
export function nodeManifest(state: Pick<ClusterState, "nodes">): string {
  return state.nodes
    .map((n) =>
      [
        "apiVersion: v1",
        "kind: Node",
        "metadata:",
        `  name: ${n.name}`,
        "  labels:",
        `    ${ZONE_LABEL}: ${n.zone}`,
        "spec:",
        `  podCIDR: ${n.podCidr}`,
        "",
      ].join("\n"),
    )
    .join("---\n");
}

function shortHash(text: string, hexChars: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, hexChars);
}

export interface PodNames {
  /** `<prefix>-<pod>.<namespace>`, or `<prefix>-p<hash>` when that exceeds the 63-character limit. */
  readonly netns: string;
  /** The pod's veth end in its node's netns (≤ 15 characters, stable per pod). */
  readonly hostVeth: string;
  /** Key of its capture rules (rule comments): `<pod>.<namespace>`. */
  readonly captureName: string;
}

export function podNames(prefix: string, namespace: string, name: string): PodNames {
  // Pod and namespace names are DNS labels (no dots), so `<pod>.<namespace>` is unambiguous.
  const key = `${name}.${namespace}`;
  const netns = `${prefix}-${key}`.length <= 63 ? `${prefix}-${key}` : `${prefix}-p${shortHash(key, 16)}`;
  return { netns, hostVeth: `ve${shortHash(`${namespace}/${name}`, 10)}`, captureName: key };
}
