/**
 * "What should run where", decided purely: the control plane's registry snapshot (the admin API's
 * `/v1/watch` events) → the pods of this cluster's nodes, and (pods running, pods wanted) → what
 * to create, restart, re-enroll or remove. cluster-agent.ts only executes the result.
 */
import type { Registry, RuntimeSpec, WorkloadInfo } from "../control/registry.js";
import type { NodeRecord } from "./cluster-plan.js";
import { type PodNames, podNames } from "./cluster-plan.js";
import type { Enrollment } from "./node-agent.js";
import type { DnsService } from "./pod-dns.js";

export interface DesiredPod {
  /** `<namespace>/<name>` */
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly node: NodeRecord;
  readonly ip: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly enrollment: Enrollment;
  readonly names: PodNames;
  readonly runtime: RuntimeSpec | undefined;
}

export interface PodChanges {
  readonly create: readonly DesiredPod[];
  /** Address, node or command changed: stop, remove, create again (a pod is immutable). */
  readonly recreate: readonly DesiredPod[];
  /** Only labels or enrollment changed: the capture rules follow, the process keeps running. */
  readonly update: readonly DesiredPod[];
  readonly remove: readonly DesiredPod[];
}

export function desiredPods(
  registry: Pick<Registry, "workloads">,
  nodes: readonly NodeRecord[],
  prefix: string,
): DesiredPod[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out: DesiredPod[] = [];
  for (const w of registry.workloads as readonly WorkloadInfo[]) {
    if (w.kind !== "Pod" || w.ip === undefined || w.node === undefined) continue;
    const node = byName.get(w.node);
    if (node === undefined) continue;
    out.push({
      id: `${w.namespace}/${w.name}`,
      name: w.name,
      namespace: w.namespace,
      node,
      ip: w.ip,
      serviceAccount: w.serviceAccount,
      labels: w.labels,
      enrollment: w.enrollment,
      names: podNames(prefix, w.namespace, w.name),
      runtime: w.runtime,
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

function identityOf(p: DesiredPod): string {
  return JSON.stringify([p.node.name, p.ip, p.serviceAccount, p.runtime ?? null]);
}

function attributesOf(p: DesiredPod): string {
  return JSON.stringify([p.enrollment, Object.entries(p.labels).sort()]);
}

export function diffPods(
  current: ReadonlyMap<string, DesiredPod>,
  desired: readonly DesiredPod[],
): PodChanges {
  const create: DesiredPod[] = [];
  const recreate: DesiredPod[] = [];
  const update: DesiredPod[] = [];
  const wanted = new Set<string>();
  for (const p of desired) {
    wanted.add(p.id);
    const have = current.get(p.id);
    if (have === undefined) create.push(p);
    else if (identityOf(have) !== identityOf(p)) recreate.push(p);
    else if (attributesOf(have) !== attributesOf(p)) update.push(p);
  }
  const remove = [...current.values()].filter((p) => !wanted.has(p.id));
  return { create, recreate, update, remove };
}

export function dnsServices(registry: Pick<Registry, "services">): DnsService[] {
  return registry.services
    .filter((s) => s.kind === "Service")
    .map((s) => ({ name: s.name, namespace: s.namespace, vip: s.vip }));
}

/** The argv a pod runs: Kubernetes' `command` + `args` (no image entrypoint exists locally). */
export function podArgv(runtime: RuntimeSpec | undefined): string[] | undefined {
  if (runtime === undefined || runtime.kind !== "process") return undefined;
  const argv = [...runtime.command, ...runtime.args];
  return argv.length > 0 ? argv : undefined;
}
