/**
 * A throw-away cluster in network namespaces for end-to-end tests (root only): a fabric bridge,
 * N nodes, M pods per node, laid out by src/platform/topology-plan.ts exactly as `ambit up` does.
 * Every run gets its own prefix (`ab` + 4 random chars) and records its pid, so `sweepStale`
 * can remove what crashed runs left without touching runs still in progress.
 *
 *   const topo = await createTopology({ nodes: 2, podsPerNode: 2 });
 *   t.after(() => topo.destroy());
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { CommandOptions, CommandResult } from "../../src/platform/command.js";
import {
  IpTool,
  type NetnsProcess,
  type SpawnInNetnsOptions,
  spawnInNetns,
} from "../../src/platform/netns.js";
import { applyTopology, destroyTopology } from "../../src/platform/topology.js";
import {
  type PlannedNode,
  type PlannedPod,
  planTopology,
  type TopologyPlan,
} from "../../src/platform/topology-plan.js";

/** Every test run's prefix starts with this; `sweepStale()` looks for it. */
export const TEST_PREFIX_FAMILY = "ab";
const OWNERS_DIR = "/run/ambit-test-netns";

export interface TestTopologyOptions {
  readonly nodes?: number;
  readonly podsPerNode?: number;
}

export interface TestTopology {
  readonly prefix: string;
  readonly plan: TopologyPlan;
  /** `node1`, `node2`, … */
  readonly nodes: readonly PlannedNode[];
  /** `node1-pod1`, `node1-pod2`, `node2-pod1`, … */
  readonly pods: readonly PlannedPod[];
  node(name: string): PlannedNode;
  pod(name: string): PlannedPod;
  /** Runs a command to completion inside a netns of this topology. */
  exec(netns: string, argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Starts a long-lived process in a netns; `destroy()` stops any still running. */
  spawn(netns: string, argv: readonly string[], options?: SpawnInNetnsOptions): NetnsProcess;
  /** Stops the processes, deletes every netns by name (also after a partial failure). Idempotent. */
  destroy(): Promise<void>;
}

function newPrefix(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(4);
  let suffix = "";
  for (const b of bytes) suffix += alphabet[b % alphabet.length];
  return TEST_PREFIX_FAMILY + suffix;
}

export async function createTopology(options: TestTopologyOptions = {}): Promise<TestTopology> {
  const nodeCount = options.nodes ?? 2;
  const podsPerNode = options.podsPerNode ?? 2;
  const prefix = newPrefix();
  const plan = planTopology({
    prefix,
    nodes: Array.from({ length: nodeCount }, (_, i) => ({
      name: `node${i + 1}`,
      pods: Array.from({ length: podsPerNode }, (_, j) => `node${i + 1}-pod${j + 1}`),
    })),
  });
  // Written before anything is created, so a crash at any point leaves an owner to check.
  mkdirSync(OWNERS_DIR, { recursive: true });
  writeFileSync(`${OWNERS_DIR}/${prefix}`, String(process.pid));
  const ip = new IpTool();
  const processes = new Set<NetnsProcess>();
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      await Promise.all([...processes].map((p) => p.stop(500)));
      await destroyTopology(plan, ip);
      rmSync(`${OWNERS_DIR}/${prefix}`, { force: true });
    })();
    return destroyed;
  };
  try {
    await applyTopology(plan, ip);
  } catch (e) {
    await destroy().catch(() => undefined);
    throw e;
  }
  return {
    prefix,
    plan,
    nodes: plan.nodes,
    pods: plan.pods,
    node(name) {
      const n = plan.nodes.find((x) => x.name === name);
      if (n === undefined) throw new Error(`no node ${name} in topology ${prefix}`);
      return n;
    },
    pod(name) {
      const p = plan.pods.find((x) => x.name === name);
      if (p === undefined) throw new Error(`no pod ${name} in topology ${prefix}`);
      return p;
    },
    exec: (netns, argv, execOptions) => ip.exec(netns, argv, execOptions),
    spawn(netns, argv, spawnOptions) {
      const p = spawnInNetns(netns, argv, spawnOptions);
      processes.add(p);
      void p.exited.then(() => processes.delete(p));
      return p;
    },
    destroy,
  };
}

/** "dead" when the run recorded an owner that no longer runs; "alive"; or "unknown" (not ours). */
function ownerState(runPrefix: string): "alive" | "dead" | "unknown" {
  let pid: number;
  try {
    pid = Number(readFileSync(`${OWNERS_DIR}/${runPrefix}`, "utf8"));
  } catch {
    return "unknown";
  }
  if (!Number.isInteger(pid) || pid <= 0) return "dead";
  try {
    process.kill(pid, 0);
    return "alive";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" ? "alive" : "dead";
  }
}

/**
 * Deletes the namespaces of dead test runs whose prefix starts with `prefix` (default: every test
 * run's). Only runs that recorded an owner (createTopology does, before creating anything) and
 * whose owner process is gone are touched: a run in progress, or a namespace someone else named
 * alike, is left alone. /run is a tmpfs, so records and namespaces vanish together on reboot.
 * Returns the deleted netns names.
 */
export async function sweepStale(prefix: string = TEST_PREFIX_FAMILY): Promise<string[]> {
  const ip = new IpTool();
  const runOf = (ns: string): string => ns.slice(0, ns.indexOf("-"));
  const stale = (await ip.listNetns()).filter(
    (ns) => ns.startsWith(prefix) && ns.includes("-") && ownerState(runOf(ns)) === "dead",
  );
  await ip.deleteNetnsMany(stale);
  let owners: string[] = [];
  try {
    owners = readdirSync(OWNERS_DIR);
  } catch {
    // Nothing recorded yet.
  }
  for (const run of owners) {
    if (run.startsWith(prefix) && ownerState(run) === "dead") rmSync(`${OWNERS_DIR}/${run}`, { force: true });
  }
  return stale;
}
