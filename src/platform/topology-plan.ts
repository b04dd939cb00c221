/**
 * The layout of a local cluster in network namespaces, as pure planning: node and pod names in,
 * every netns, link, address, route and sysctl out, as an ordered list of `ip` steps. The netns
 * test helper (test/netns/topology.ts) and `ambit up` apply the same plan, so tests exercise the
 * layout users get.
 *
 *   <prefix>-fabric netns: bridge `br0` (layer 2 only, no address)
 *     └─ veth nd<hash> ⇄ eth0 in <prefix>-<node>   node i (0-based): 10.200.0.(11+i)/24
 *          ip_forward=1; routes 10.244.(k+1).0/24 via 10.200.0.(11+k) for every other node k
 *          └─ veth ve<hash> ⇄ eth0 in <prefix>-<pod>  pod j of node i: 10.244.(i+1).(j+2)/32
 *               node side: 10.244.(i+1).1/32 on every pod veth (the pods' gateway),
 *                          route <pod>/32 dev ve<hash>
 *               pod side:  route 10.244.(i+1).1 dev eth0 scope link; default via 10.244.(i+1).1
 *
 * Routed, not bridged, inside a node (one /32 per pod, like Calico): every pod's traffic enters
 * the node netns on its own veth, which is what per-pod capture rules match on.
 */
import { createHash } from "node:crypto";
import { checkPrefix } from "./capture-plan.js";
import { invalid } from "./errors.js";
import { checkNetnsName } from "./linux-names.js";

export interface TopologyOptions {
  /** Cluster-unique name prefix (2-16 of a-z 0-9); every netns is `<prefix>-<name>`. */
  readonly prefix: string;
  /** At most 200 nodes, at most 253 pods each; node and pod names unique together. */
  readonly nodes: readonly { readonly name: string; readonly pods: readonly string[] }[];
}

export interface PlannedNode {
  readonly name: string;
  readonly netns: string;
  readonly index: number;
  /** Address on the fabric (`eth0` in the node netns). */
  readonly ip: string;
  readonly fabricCidr: string;
  /** This node's pod range; pods get /32s from it. */
  readonly podCidr: string;
  /** The pods' gateway: put on every pod veth in the node netns. */
  readonly gateway: string;
  /** The node's link in the fabric netns (enslaved to the bridge). */
  readonly fabricVeth: string;
  readonly uplink: string;
}

export interface PlannedPod {
  readonly name: string;
  readonly netns: string;
  readonly node: string;
  readonly ip: string;
  readonly gateway: string;
  /** The pod's veth end in its node's netns: what capture rules match with `-i`. */
  readonly hostVeth: string;
  /** The interface inside the pod. */
  readonly ifname: string;
}

export interface TopologyPlan {
  readonly prefix: string;
  readonly fabric: { readonly netns: string; readonly bridge: string };
  readonly nodes: readonly PlannedNode[];
  readonly pods: readonly PlannedPod[];
}

export type TopologyStep =
  | { readonly kind: "netns"; readonly name: string }
  | { readonly kind: "ip"; readonly netns: string; readonly args: readonly string[] }
  | { readonly kind: "sysctl"; readonly netns: string; readonly key: string; readonly value: string };

export const FABRIC_SUBNET = "10.200.0.0/24";
export const POD_SUPERNET = "10.244.0.0/16";
const MAX_NODES = 200;
const MAX_PODS_PER_NODE = 253;
const NAME = /^[a-z0-9]([a-z0-9.-]{0,38}[a-z0-9])?$/;

/** Stable per name (not per position), so adding a pod later never renames another's veth. */
function linkName(tag: string, name: string): string {
  return tag + createHash("sha256").update(name).digest("hex").slice(0, 10);
}

export function planTopology(options: TopologyOptions): TopologyPlan {
  const prefix = checkPrefix(options.prefix);
  if (options.nodes.length === 0 || options.nodes.length > MAX_NODES) {
    throw invalid(`a topology needs 1-${MAX_NODES} nodes, got ${options.nodes.length}`);
  }
  const seen = new Set<string>(["fabric"]);
  const claim = (name: string, what: string): string => {
    checkName(name, what);
    if (seen.has(name)) throw invalid(`${what} name "${name}" is used twice (or is reserved: "fabric")`);
    seen.add(name);
    return checkNetnsName(`${prefix}-${name}`);
  };
  const nodes: PlannedNode[] = [];
  const pods: PlannedPod[] = [];
  options.nodes.forEach((n, i) => {
    const node: PlannedNode = {
      name: n.name,
      netns: claim(n.name, "node"),
      index: i,
      ip: `10.200.0.${11 + i}`,
      fabricCidr: `10.200.0.${11 + i}/24`,
      podCidr: `10.244.${i + 1}.0/24`,
      gateway: `10.244.${i + 1}.1`,
      fabricVeth: linkName("nd", n.name),
      uplink: "eth0",
    };
    nodes.push(node);
    if (n.pods.length > MAX_PODS_PER_NODE) {
      throw invalid(`node ${n.name} has ${n.pods.length} pods; at most ${MAX_PODS_PER_NODE} fit its /24`);
    }
    n.pods.forEach((p, j) => {
      claim(p, "pod");
      pods.push(planPodOn(prefix, node, p, j));
    });
  });
  return { prefix, fabric: { netns: `${prefix}-fabric`, bridge: "br0" }, nodes, pods };
}

function checkName(name: string, what: string): void {
  if (!NAME.test(name)) throw invalid(`${what} name "${name}" must be 1-40 of a-z 0-9 . - (DNS label style)`);
}

/**
 * One pod on a node, at `slot` (0-252 → 10.244.(i+1).(slot+2)): what planTopology uses, and what a
 * running cluster uses to add a pod later (the caller keeps names and slots unique).
 */
export function planPodOn(prefix: string, node: PlannedNode, name: string, slot: number): PlannedPod {
  checkPrefix(prefix);
  checkName(name, "pod");
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_PODS_PER_NODE) {
    throw invalid(`pod slot ${slot} is outside 0-${MAX_PODS_PER_NODE - 1}`);
  }
  return {
    name,
    netns: checkNetnsName(`${prefix}-${name}`),
    node: node.name,
    ip: `10.244.${node.index + 1}.${slot + 2}`,
    gateway: node.gateway,
    hostVeth: linkName("ve", name),
    ifname: "eth0",
  };
}

/** Node side of one pod: the veth pair (its peer created inside the pod netns), gateway, /32 route. */
function podNodeSteps(node: PlannedNode, pod: PlannedPod): TopologyStep[] {
  const ip = (...args: string[]): TopologyStep => ({ kind: "ip", netns: node.netns, args });
  return [
    ip("link", "add", pod.hostVeth, "type", "veth", "peer", "name", pod.ifname, "netns", pod.netns),
    ip("addr", "add", `${pod.gateway}/32`, "dev", pod.hostVeth),
    ip("link", "set", pod.hostVeth, "up"),
    ip("route", "add", `${pod.ip}/32`, "dev", pod.hostVeth, "scope", "link"),
  ];
}

/** Pod side: its /32, an on-link route to the gateway, default via the gateway. */
function podOwnSteps(pod: PlannedPod): TopologyStep[] {
  const ip = (...args: string[]): TopologyStep => ({ kind: "ip", netns: pod.netns, args });
  return [
    ip("link", "set", "lo", "up"),
    ip("addr", "add", `${pod.ip}/32`, "dev", pod.ifname),
    ip("link", "set", pod.ifname, "up"),
    ip("route", "add", pod.gateway, "dev", pod.ifname, "scope", "link"),
    ip("route", "add", "default", "via", pod.gateway, "dev", pod.ifname),
  ];
}

/** Every step that adds one pod to a node that already exists. */
export function podSteps(node: PlannedNode, pod: PlannedPod): TopologyStep[] {
  if (pod.node !== node.name) throw invalid(`pod ${pod.name} is planned on ${pod.node}, not on ${node.name}`);
  return [{ kind: "netns", name: pod.netns }, ...podNodeSteps(node, pod), ...podOwnSteps(pod)];
}

/**
 * The steps that build the plan, in an order that works from an empty machine and keeps each
 * namespace's `ip` commands together (the applier sends each run as one `ip -batch`).
 */
export function topologySteps(plan: TopologyPlan): TopologyStep[] {
  const steps: TopologyStep[] = [];
  const ip = (netns: string, ...args: string[]): void => {
    steps.push({ kind: "ip", netns, args });
  };
  const fabric = plan.fabric.netns;
  for (const ns of allNetns(plan)) steps.push({ kind: "netns", name: ns });
  ip(fabric, "link", "set", "lo", "up");
  ip(fabric, "link", "add", plan.fabric.bridge, "type", "bridge");
  ip(fabric, "link", "set", plan.fabric.bridge, "up");
  for (const node of plan.nodes) {
    ip(
      fabric,
      "link",
      "add",
      node.fabricVeth,
      "type",
      "veth",
      "peer",
      "name",
      node.uplink,
      "netns",
      node.netns,
    );
    ip(fabric, "link", "set", node.fabricVeth, "master", plan.fabric.bridge);
    ip(fabric, "link", "set", node.fabricVeth, "up");
  }
  for (const node of plan.nodes) {
    steps.push({ kind: "sysctl", netns: node.netns, key: "net.ipv4.ip_forward", value: "1" });
    ip(node.netns, "link", "set", "lo", "up");
    ip(node.netns, "addr", "add", node.fabricCidr, "dev", node.uplink);
    ip(node.netns, "link", "set", node.uplink, "up");
    for (const other of plan.nodes) {
      if (other !== node) ip(node.netns, "route", "add", other.podCidr, "via", other.ip, "dev", node.uplink);
    }
    for (const pod of plan.pods.filter((p) => p.node === node.name)) steps.push(...podNodeSteps(node, pod));
  }
  for (const pod of plan.pods) {
    if (!plan.nodes.some((n) => n.name === pod.node))
      throw invalid(`pod ${pod.name} names an unknown node ${pod.node}`);
    steps.push(...podOwnSteps(pod));
  }
  return steps;
}

/** Every netns of the plan, fabric first; delete in reverse. */
export function allNetns(plan: TopologyPlan): string[] {
  return [plan.fabric.netns, ...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)];
}
