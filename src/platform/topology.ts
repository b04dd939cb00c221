/**
 * Builds and tears down a planned topology (topology-plan.ts) with `ip`. Shared by the netns test
 * helper and `ambit up`. Teardown works by name from the plan alone, so it also cleans up after a
 * build that failed half-way.
 */
import { checkPrefix } from "./capture-plan.js";
import { checkNetnsName } from "./linux-names.js";
import { IpTool } from "./netns.js";
import {
  allNetns,
  type PlannedNode,
  type PlannedPod,
  podSteps,
  type TopologyPlan,
  type TopologyStep,
  topologySteps,
} from "./topology-plan.js";

/**
 * Builds the plan. Consecutive steps of one kind and namespace go to one `ip -batch` (spawning
 * `ip` costs ~50 ms on a small VM; a 2×2 cluster takes ~10 calls instead of ~70). On failure
 * removes what it created, then rethrows.
 */
export async function applyTopology(plan: TopologyPlan, ip: IpTool = new IpTool()): Promise<void> {
  try {
    await applySteps(topologySteps(plan), ip);
  } catch (e) {
    await destroyTopology(plan, ip).catch(() => undefined);
    throw e;
  }
}

/** Adds one pod (from planPodOn) to a running node; on failure deletes the pod's netns again. */
export async function addPod(node: PlannedNode, pod: PlannedPod, ip: IpTool = new IpTool()): Promise<void> {
  try {
    await applySteps(podSteps(node, pod), ip);
  } catch (e) {
    await ip.deleteNetns(pod.netns).catch(() => undefined);
    throw e;
  }
}

/** Removes one pod from its node: the veth pair (and with it the gateway address and the node's route), then its netns. */
export function removePod(node: PlannedNode, pod: PlannedPod, ip: IpTool = new IpTool()): Promise<void> {
  return ip.deletePodNetwork({ netns: pod.netns, hostVeth: pod.hostVeth, nodeNetns: node.netns });
}

async function applySteps(steps: readonly TopologyStep[], ip: IpTool): Promise<void> {
  for (const group of batches(steps)) {
    const first = group[0];
    if (first === undefined) continue;
    if (first.kind === "netns") {
      await ip.ip(["-batch", "-"], { input: batchInput(group.map((s) => ["netns", "add", netnsName(s)])) });
    } else if (first.kind === "ip") {
      await ip.in(first.netns, ["-batch", "-"], { input: batchInput(group.map(ipArgs)) });
    } else {
      for (const s of group) if (s.kind === "sysctl") await ip.setSysctl(s.netns, s.key, s.value);
    }
  }
}

function netnsName(s: TopologyStep): string {
  return s.kind === "netns" ? checkNetnsName(s.name) : "";
}

function ipArgs(s: TopologyStep): readonly string[] {
  return s.kind === "ip" ? s.args : [];
}

function batchInput(lines: readonly (readonly string[])[]): string {
  // Every argument comes from the plan (validated names, addresses): no spaces or quotes to escape.
  return `${lines.map((l) => l.join(" ")).join("\n")}\n`;
}

function batches(steps: readonly TopologyStep[]): TopologyStep[][] {
  const out: TopologyStep[][] = [];
  const key = (s: TopologyStep): string => (s.kind === "netns" ? "netns" : `${s.kind}:${s.netns}`);
  for (const s of steps) {
    const last = out[out.length - 1];
    const head = last?.[0];
    if (last !== undefined && head !== undefined && key(head) === key(s)) last.push(s);
    else out.push([s]);
  }
  return out;
}

/**
 * Deletes every netns of the plan (pods, nodes, fabric), killing processes left inside; links,
 * bridges, routes and iptables rules go with their namespace. Works by name, so it also cleans up
 * after a build that failed half-way.
 */
export async function destroyTopology(plan: TopologyPlan, ip: IpTool = new IpTool()): Promise<void> {
  await ip.deleteNetnsMany(allNetns(plan).reverse());
}

/** Deletes every netns whose name starts with `<prefix>-`, e.g. what a crashed run left behind. */
export async function deleteNetnsByPrefix(prefix: string, ip: IpTool = new IpTool()): Promise<string[]> {
  checkPrefix(prefix);
  const doomed = (await ip.listNetns()).filter((n) => n.startsWith(`${prefix}-`));
  await ip.deleteNetnsMany(doomed);
  return doomed;
}
