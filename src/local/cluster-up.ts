/**
 * `ambit up`: builds a whole cluster in network namespaces and starts its daemons, step by step,
 * each step printed with its duration. All or nothing: the state file is written before anything
 * is created, and a failing step tears down everything made so far (clusterDown), so a failed
 * `ambit up` never leaves half a cluster.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { formatConfigError } from "../api/load.js";
import { AdminClient, AdminInvalidConfigError, readSources } from "../cli/admin-client.js";
import type { Registry } from "../control/registry.js";
import { runCommand } from "../platform/command.js";
import { nativeAvailable } from "../platform/native.js";
import { IpTool } from "../platform/netns.js";
import { acceptsConnection } from "../platform/netns-sockets.js";
import { applyTopology } from "../platform/topology.js";
import type { AgentStatus } from "./cluster-agent.js";
import { logsDir } from "./cluster-agent.js";
import { type ClusterConfig, cliEntry } from "./cluster-config.js";
import { clusterDown } from "./cluster-down.js";
import {
  AGENT_STATUS_FILE,
  type ClusterState,
  CONTROL_FABRIC_VETH,
  clusterTopology,
  nodeManifest,
  planCluster,
} from "./cluster-plan.js";
import { readClusterState, writeClusterState } from "./cluster-state.js";
import { LocalError, LocalErrorCode } from "./errors.js";
import { httpGetInNetns } from "./netns-http.js";
import { type DesiredPod, desiredPods, podArgv } from "./pod-plan.js";
import { planServiceNatBase } from "./service-nat-plan.js";

export type Progress = (line: string) => void;

export interface UpResult {
  readonly state: ClusterState;
  readonly pods: number;
}

/**
 * Builds the cluster step by step. When `signal` aborts (the CLI's Ctrl-C), the build stops at the
 * next step or wait, what was created is torn down, and it rejects with LOCAL_ERR_INTERRUPTED.
 */
export async function clusterUp(
  config: ClusterConfig,
  progress: Progress,
  signal?: AbortSignal,
): Promise<UpResult> {
  await preflight(config);
  const state = planCluster(config, new Date());
  await mkdir(logsDir(config.home), { recursive: true, mode: 0o700 });
  await writeClusterState(state);
  try {
    return await build(config, state, progress, signal);
  } catch (e) {
    progress(`✗ ${(e as Error).message}`);
    progress("  tearing down what was created…");
    await clusterDown({ home: config.home }, () => {}).catch(() => undefined);
    throw e;
  }
}

async function preflight(config: ClusterConfig): Promise<void> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    throw new LocalError(
      LocalErrorCode.PLATFORM,
      "a local cluster needs Linux and root (it creates network namespaces and iptables rules); run with sudo",
    );
  }
  if (!existsSync(cliEntry(config.repoRoot))) {
    throw new LocalError(
      LocalErrorCode.PLATFORM,
      `${cliEntry(config.repoRoot)} is missing; build first (scripts/setup.sh)`,
    );
  }
  if (!nativeAvailable()) {
    throw new LocalError(
      LocalErrorCode.PLATFORM,
      "the native addon is not built (ztunnel needs SO_ORIGINAL_DST); run scripts/setup.sh",
    );
  }
  const existing = await readClusterState(config.home);
  if (existing !== undefined) {
    throw new LocalError(
      LocalErrorCode.EXISTS,
      `a cluster "${existing.name}" is already recorded in ${config.home} (created ${existing.createdAt}); use it, or remove it with \`ambit down\` first`,
    );
  }
  const taken = (await new IpTool().listNetns()).filter((n) => n.startsWith(`${config.prefix}-`));
  if (taken.length > 0) {
    throw new LocalError(
      LocalErrorCode.EXISTS,
      `network namespaces of a cluster named "${config.name}" exist (${taken.slice(0, 3).join(", ")}…), made from another data directory; pick another --name or run \`ambit down --name ${config.name}\``,
    );
  }
}

function interruptedUp(): LocalError {
  return new LocalError(
    LocalErrorCode.INTERRUPTED,
    "interrupted before the cluster was up: what was created is torn down (`ambit up` again starts afresh)",
  );
}

/** Throws LOCAL_ERR_INTERRUPTED once `signal` has aborted (between steps and in every wait). */
function checkInterrupt(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw interruptedUp();
}

async function build(
  config: ClusterConfig,
  state: ClusterState,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<UpResult> {
  // A step runs to its end (what it creates is recorded for the tear-down); the build stops before
  // the next one, and the waits inside a step stop on their own.
  const step = async <T>(title: string, fn: () => Promise<T>): Promise<T> => {
    checkInterrupt(signal);
    const t0 = performance.now();
    const r = await fn();
    progress(`✓ ${title} (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    checkInterrupt(signal);
    return r;
  };
  const ip = new IpTool();
  await step(
    `network: fabric, control plane and ${state.nodes.length} node namespaces (${config.prefix}-*)`,
    async () => {
      await applyTopology(clusterTopology(config), ip);
      await buildControlNetns(state, ip);
      for (const node of state.nodes) {
        await installLocalHboneRedirect(state, node.netns, node.podCidr);
        await runCommand(["ip", "netns", "exec", node.netns, "iptables-restore", "-w", "--noflush"], {
          input: planServiceNatBase(state.prefix),
        });
      }
    },
  );
  await step(`control plane in ${state.control.netns} (xDS ${state.control.xdsAddress})`, async () => {
    await startControlPlane(state, signal);
  });
  const admin = await AdminClient.connect({ home: config.home });
  await step(
    `nodes ${state.nodes.map((n) => n.name).join(", ")} registered, node tokens issued`,
    async () => {
      await admin.post("/v1/apply", {
        sources: [{ filename: "<ambit up: nodes>", yaml: nodeManifest(state) }],
      });
      for (const n of state.nodes) await admin.post("/v1/tokens", { kind: "node", node: n.name });
    },
  );
  await step("node agent and one ztunnel per node started", async () => {
    state.agent.pid = spawnDetached(
      [process.execPath, cliEntry(config.repoRoot), "node-agent", "--home", config.home],
      join(logsDir(config.home), "agent.log"),
    );
    await writeClusterState(state);
    await waitForZtunnels(state, 30_000, signal);
  });
  if (config.files.length > 0) {
    await step(`applied ${config.files.join(", ")}`, async () => {
      const sources = await readSources(config.files);
      try {
        await admin.post("/v1/apply", { sources });
      } catch (e) {
        if (e instanceof AdminInvalidConfigError) {
          throw new LocalError(
            LocalErrorCode.BAD_OPTIONS,
            `the manifests are invalid, nothing was applied:\n${e.errors.map((x) => `  ${formatConfigError(x)}`).join("\n")}`,
          );
        }
        throw e;
      }
    });
  }
  const pods = await step(
    "every pod's network, capture and process up and serving; ztunnels ready",
    async () => {
      const n = await waitForPods(state, admin, 60_000, signal);
      await waitForZtunnels(state, 30_000, signal);
      return n;
    },
  );
  return { state, pods };
}

/** Starts `ambit control` in the control netns (also to restart it), records its pid, waits for the admin API. */
export async function startControlPlane(state: ClusterState, signal?: AbortSignal): Promise<void> {
  state.control.pid = spawnDetached(
    [
      "ip",
      "netns",
      "exec",
      state.control.netns,
      process.execPath,
      cliEntry(state.repoRoot),
      "control",
      "--home",
      state.home,
      "--xds-address",
      "0.0.0.0:15012",
    ],
    join(logsDir(state.home), "control.log"),
  );
  await writeClusterState(state);
  await waitForControlPlane(state.home, state.control.pid, signal);
}

async function buildControlNetns(state: ClusterState, ip: IpTool): Promise<void> {
  const ns = state.control.netns;
  await ip.ip(["netns", "add", ns]);
  await ip.in(state.fabric.netns, ["-batch", "-"], {
    input: [
      `link add ${CONTROL_FABRIC_VETH} type veth peer name eth0 netns ${ns}`,
      `link set ${CONTROL_FABRIC_VETH} master br0`,
      `link set ${CONTROL_FABRIC_VETH} up`,
      "",
    ].join("\n"),
  });
  await ip.in(ns, ["-batch", "-"], {
    input: ["link set lo up", `addr add ${state.control.ip}/24 dev eth0`, "link set eth0 up", ""].join("\n"),
  });
}

/**
 * HBONE between two pods of the same node: ztunnel dials `<pod-ip>:15008` from the node netns,
 * which passes OUTPUT, never PREROUTING where the capture rules live. This one rule per node sends
 * it back to the node's own ztunnel (15008), with the pod address as the original destination, so
 * the inbound side serves that pod's certificate exactly as for a connection from another node.
 */
export async function installLocalHboneRedirect(
  state: Pick<ClusterState, "prefix">,
  netns: string,
  podCidr: string,
): Promise<void> {
  await runCommand(["ip", "netns", "exec", netns, "iptables-restore", "-w", "--noflush"], {
    input: [
      "*nat",
      `-A OUTPUT -d ${podCidr} -p tcp --dport 15008 -m comment --comment ${state.prefix}/node/local-hbone -j REDIRECT --to-ports 15008`,
      "COMMIT",
      "",
    ].join("\n"),
  });
}

function spawnDetached(argv: readonly string[], logFile: string): number {
  const [file, ...args] = argv;
  const log = openSync(logFile, "a");
  try {
    const child = spawn(file as string, args, { detached: true, stdio: ["ignore", log, log] });
    child.on("error", () => {});
    child.unref();
    if (child.pid === undefined)
      throw new LocalError(LocalErrorCode.START, `could not start ${argv.join(" ")}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

async function tail(file: string, lines = 8): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitForControlPlane(home: string, pid: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    checkInterrupt(signal);
    if (!processAlive(pid)) {
      throw new LocalError(
        LocalErrorCode.START,
        `the control plane exited; its log says:\n${await tail(join(logsDir(home), "control.log"))}`,
      );
    }
    try {
      const admin = await AdminClient.connect({ home });
      await admin.get("/v1/status");
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new LocalError(
    LocalErrorCode.START,
    `the control plane did not answer within 30 s; see ${join(logsDir(home), "control.log")}`,
  );
}

/** Every node's ztunnel answers 200 on /healthz/ready (first xDS config and local certificates in). */
export async function waitForZtunnels(
  state: ClusterState,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const node of state.nodes) {
    let last = "no answer";
    for (;;) {
      checkInterrupt(signal);
      try {
        const r = await httpGetInNetns(
          node.netns,
          { host: node.ip, port: 15021, path: "/healthz/ready" },
          1000,
        );
        if (r.status === 200) break;
        last = `${r.status} ${r.body.trim().slice(0, 200)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) {
        throw new LocalError(
          LocalErrorCode.START,
          `ztunnel on ${node.name} not ready after ${timeoutMs / 1000} s (${last}); see ${join(logsDir(state.home), `ztunnel.${node.name}.log`)}`,
        );
      }
      await sleep(100);
    }
  }
}

export async function readAgentStatus(home: string): Promise<AgentStatus | undefined> {
  try {
    return JSON.parse(await readFile(join(home, AGENT_STATUS_FILE), "utf8")) as AgentStatus;
  } catch {
    return undefined;
  }
}

/** Every pod the registry schedules on this cluster's nodes has its network and a running process. */
export async function waitForPods(
  state: ClusterState,
  admin: AdminClient,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const serving = new Set<string>(); // probed once they answer, not again every round
  for (;;) {
    checkInterrupt(signal);
    const reg = await admin.get<Registry & { version?: number }>("/v1/registry");
    const wanted = desiredPods(reg, state.nodes, state.prefix);
    const status = await readAgentStatus(state.home);
    const missing = wanted.filter((p) => {
      const s = status?.pods[p.id];
      if (s === undefined) return true;
      return runsProcess(p) && s.state !== "running";
    });
    // Running is not serving: like a kubelet probe, each pod must be able to answer (notServing), or
    // the first request through the mesh finds nobody to answer it (an empty reply).
    const deaf: string[] = [];
    if (missing.length === 0) {
      for (const p of wanted) {
        if (serving.has(p.id)) continue;
        const why = await notServing(p);
        if (why === undefined) serving.add(p.id);
        else deaf.push(`${p.id} (${why})`);
      }
      if (deaf.length === 0) return wanted.length;
    }
    if (Date.now() > deadline) {
      throw new LocalError(
        LocalErrorCode.START,
        missing.length > 0
          ? `pods not running after ${timeoutMs / 1000} s: ${missing.map((p) => p.id).join(", ")}; see ${logsDir(state.home)}/agent.log and the pods' logs`
          : `pods running but not serving after ${timeoutMs / 1000} s: ${deaf.join(", ")}; see the pods' logs in ${logsDir(state.home)}`,
      );
    }
    await sleep(150);
  }
}

/** Whether the agent runs a process for this pod: a waypoint, or a container with a command. */
function runsProcess(p: DesiredPod): boolean {
  return p.runtime?.kind === "waypoint" || podArgv(p.runtime) !== undefined;
}

/** A waypoint pod's readiness endpoint (`ambit waypoint`'s default port, bound to the pod IP). */
const WAYPOINT_READINESS_PORT = 15021;

/**
 * Why a running pod cannot serve yet, or undefined when it can (or runs no process). A waypoint
 * must answer 200 on /healthz/ready — listening is not enough, it refuses TLS until its
 * certificate and config are in; any other pod's declared ports must each accept a TCP
 * connection, tried from inside the pod's network namespace at its own IP, as a kubelet probe
 * reaches it.
 */
async function notServing(p: DesiredPod): Promise<string | undefined> {
  if (p.runtime === undefined || !runsProcess(p)) return undefined;
  if (p.runtime.kind === "waypoint") {
    try {
      const r = await httpGetInNetns(
        p.names.netns,
        { host: p.ip, port: WAYPOINT_READINESS_PORT, path: "/healthz/ready" },
        1000,
      );
      return r.status === 200 ? undefined : `not ready: ${r.status} ${r.body.trim().slice(0, 120)}`;
    } catch (e) {
      return `not ready: ${(e as Error).message}`;
    }
  }
  for (const port of p.runtime.ports) {
    if (!(await acceptsConnection(p.names.netns, p.ip, port))) return `nothing listening on port ${port}`;
  }
  return undefined;
}
