/**
 * `ambit down`: removes everything `ambit up` made — processes, namespaces (with their links,
 * bridges and rules), `/etc/netns/<prefix>-*`, the cluster's state files — by name and prefix, so
 * it also cleans up after a crash or a half-finished `ambit up`. Running it twice is harmless.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { IpTool } from "../platform/netns.js";
import { deleteNetnsByPrefix } from "../platform/topology.js";
import { checkClusterName, resolveLocalHome } from "./cluster-config.js";
import { AGENT_STATUS_FILE } from "./cluster-plan.js";
import { pidRunning, processAlive, readClusterState, statePath } from "./cluster-state.js";
import { LocalError, LocalErrorCode } from "./errors.js";
import { ETC_NETNS } from "./pod-network.js";

export interface DownOptions {
  home?: string;
  /** Cluster name (= prefix), for a cluster whose state file is gone. */
  name?: string;
}

export interface DownResult {
  readonly prefix: string;
  readonly namespaces: readonly string[];
  readonly killed: readonly number[];
}

/** What the control plane and agent kept in the data directory for this cluster (the CA and admin token stay). */
const CLUSTER_FILES = ["resources", "state", "nodes", "waypoints", "bin", "admin.sock", AGENT_STATUS_FILE];

export async function clusterDown(o: DownOptions, progress: (line: string) => void): Promise<DownResult> {
  const home = resolveLocalHome(o.home);
  const state = await readClusterState(home);
  const prefix = o.name !== undefined ? checkClusterName(o.name) : state?.prefix;
  if (prefix === undefined) {
    throw new LocalError(
      LocalErrorCode.NO_CLUSTER,
      `no cluster recorded in ${home}; pass --home of the cluster, or --name to remove a cluster's namespaces by name`,
    );
  }
  const killed: number[] = [];
  // The agent first: it would otherwise restart what is being stopped.
  if (state !== undefined && state.prefix === prefix) {
    for (const pid of [state.agent.pid, state.control.pid]) {
      if (pid !== null && (await processAlive(pid, home))) {
        await stopPid(pid);
        killed.push(pid);
      }
    }
  }
  const namespaces = await deleteNetnsByPrefix(prefix, new IpTool());
  progress(`✓ deleted ${namespaces.length} network namespaces (${prefix}-*) and the processes inside`);
  let etc: string[] = [];
  try {
    etc = (await readdir(ETC_NETNS)).filter((d) => d.startsWith(`${prefix}-`));
  } catch {
    // No /etc/netns at all.
  }
  for (const d of etc) await rm(join(ETC_NETNS, d), { recursive: true, force: true });
  if (etc.length > 0) progress(`✓ removed ${etc.length} ${ETC_NETNS}/${prefix}-* directories`);
  if (state !== undefined && state.prefix === prefix) {
    for (const f of CLUSTER_FILES) await rm(join(home, f), { recursive: true, force: true });
    await rm(statePath(home), { force: true });
    progress(`✓ removed the cluster's state from ${home} (kept: ca/, admin-token, logs/)`);
  }
  return { prefix, namespaces, killed };
}

async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await pidRunning(pid))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone.
  }
}
