/**
 * The local cluster's node agent (one process for every node of the cluster, started detached by
 * `ambit up`): a small kubelet + CNI agent. It keeps one ztunnel per node running inside the
 * node's netns, watches the control plane's registry (admin API `/v1/watch`) and makes each
 * scheduled pod real — netns, veth, address, routes, hosts/resolv.conf, capture rules (through
 * NodeAgent, the CNI-shaped core) and the first container's command, restarted with backoff.
 *
 * Static stability: when the control plane goes away the agent keeps every pod and ztunnel as
 * they are and reconnects with backoff; a new registry snapshot is reconciled when it returns.
 */
import type { ChildProcess } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AdminClient } from "../cli/admin-client.js";
import type { Registry } from "../control/registry.js";
import type { CommandRunner } from "../platform/command.js";
import { runCommand } from "../platform/command.js";
import { iptablesInNetns } from "../platform/linux-names.js";
import { createLogger, type Logger } from "../telemetry/logger.js";
import { type HandoverMessage, isHandoverMessage } from "../ztunnel/handover.js";
import {
  type AgentControl,
  agentSocketPath,
  serveAgentControl,
  type ZtunnelRestartResult,
} from "./agent-control.js";
import { cliEntry, inheritedPath } from "./cluster-config.js";
import { AGENT_STATUS_FILE, type ClusterState, captureMode, type NodeRecord } from "./cluster-plan.js";
import { writeJsonAtomic } from "./cluster-state.js";
import { LocalError, LocalErrorCode } from "./errors.js";
import { InPodAgent } from "./inpod-agent.js";
import { NodeAgent } from "./node-agent.js";
import type { DnsService } from "./pod-dns.js";
import { PodNetworks } from "./pod-network.js";
import { type DesiredPod, desiredPods, diffPods, dnsServices, podArgv } from "./pod-plan.js";
import { planServiceNat } from "./service-nat-plan.js";
import { SupervisedProcess } from "./supervised-process.js";

export interface AgentStatus {
  pid: number;
  updatedAt: string;
  registryVersion: number | null;
  controlPlane: "connected" | "disconnected";
  /** Where pods' traffic is captured (`ambit up --capture`). */
  capture: "node" | "inpod";
  ztunnels: Record<string, { pid: number | null; state: string; restarts: number }>;
  pods: Record<
    string,
    {
      node: string;
      ip: string;
      netns: string;
      enrollment: string;
      pid: number | null;
      state: string;
      restarts: number;
      command: string[] | null;
    }
  >;
}

interface RunningPod {
  readonly spec: DesiredPod;
  readonly process: SupervisedProcess | undefined;
}

const RESYNC_MS = 5000;

export function logsDir(home: string): string {
  return join(home, "logs");
}

export function ztunnelArgv(state: ClusterState, node: NodeRecord): string[] {
  return [
    process.execPath,
    ...ztunnelNodeArgs(),
    cliEntry(state.repoRoot),
    "ztunnel",
    "--node",
    node.name,
    "--control",
    state.control.xdsAddress,
    "--ca-roots",
    join(state.home, "ca", "root-cert.pem"),
    "--token-file",
    join(state.home, "nodes", `${node.name}.token`),
    // Every node ztunnel shares its ports with a successor: `ambit ztunnel restart` hands over.
    "--reuse-port",
    ...(captureMode(state) === "inpod" ? ["--inpod"] : []),
    ...ztunnelHboneWrites(),
  ];
}

/**
 * `AMBIT_ZTUNNEL_HBONE_WRITES` (unblocked or kernel) in the environment of `ambit up` becomes the
 * ztunnels' `--hbone-writes`; unset, they keep their default. The ztunnel validates the value.
 */
export function ztunnelHboneWrites(): string[] {
  const mode = process.env["AMBIT_ZTUNNEL_HBONE_WRITES"]?.trim();
  return mode === undefined || mode === "" ? [] : ["--hbone-writes", mode];
}

/** The node-netns exception that lets HBONE reach a waypoint pod itself (`-I` adds, `-D` removes). */
function waypointHboneRule(state: ClusterState, p: DesiredPod, op: "-I" | "-D" | "-C"): string[] {
  return iptablesInNetns(p.node.netns, [
    "-t",
    "nat",
    op,
    "OUTPUT",
    "-d",
    `${p.ip}/32`,
    "-p",
    "tcp",
    "--dport",
    "15008",
    "-m",
    "comment",
    "--comment",
    `${state.prefix}/waypoint/${p.namespace}/${p.name}`,
    "-j",
    "RETURN",
  ]);
}

export class ClusterAgent {
  readonly state: ClusterState;
  readonly #log: Logger;
  readonly #run: CommandRunner;
  readonly #networks = new PodNetworks();
  readonly #nodeAgents = new Map<string, NodeAgent>();
  readonly #ztunnels = new Map<string, SupervisedProcess>();
  readonly #pods = new Map<string, RunningPod>();
  readonly #abort = new AbortController();
  #latest: (Registry & { version?: number }) | undefined;
  #services: DnsService[] = [];
  #serviceNat = "";
  #connected = false;
  #reconciling: Promise<void> | undefined;
  #dirty = false;
  #failed = false;
  #stopping = false;
  #resync: NodeJS.Timeout | undefined;
  #watching: Promise<void> = Promise.resolve();
  #statusTimer: NodeJS.Timeout | undefined;
  #control: AgentControl | undefined;

  private constructor(state: ClusterState, log: Logger, run: CommandRunner) {
    this.state = state;
    this.#log = log;
    this.#run = run;
  }

  static async start(
    state: ClusterState,
    o: { log?: Logger; run?: CommandRunner } = {},
  ): Promise<ClusterAgent> {
    const log = o.log ?? createLogger({ name: "node-agent", base: { cluster: state.name } });
    const agent = new ClusterAgent(state, log, o.run ?? runCommand);
    await agent.#init();
    return agent;
  }

  async #init(): Promise<void> {
    const { state } = this;
    await mkdir(logsDir(state.home), { recursive: true });
    await this.#writeShim();
    for (const node of state.nodes) {
      const inPod =
        captureMode(state) === "inpod" ? new InPodAgent({ node: node.name, log: this.#log }) : undefined;
      this.#nodeAgents.set(
        node.name,
        new NodeAgent({
          netns: node.netns,
          prefix: state.prefix,
          podCidrs: [node.podCidr],
          run: this.#run,
          log: (msg, fields) => this.#log.info({ node: node.name, ...fields }, msg),
          ...(inPod !== undefined ? { inPod } : {}),
        }),
      );
      this.#ztunnels.set(
        node.name,
        new SupervisedProcess({
          netns: node.netns,
          argv: ztunnelArgv(state, node),
          env: { PATH: inheritedPath(), AMBIT_HOME: state.home },
          logFile: join(logsDir(state.home), `ztunnel.${node.name}.log`),
          backoffMs: Math.min(state.restartBackoffMs, 200),
          maxBackoffMs: 2000,
          onChange: () => this.#statusSoon(),
          ipc: true,
          ...(inPod !== undefined ? { onSpawn: (child: ChildProcess) => inPod.attach(child) } : {}),
        }),
      );
    }
    this.#control = await serveAgentControl(agentSocketPath(state.home), {
      restartZtunnel: (node, drainDeadlineMs) => this.restartZtunnel(node, drainDeadlineMs),
    });
    this.#watching = this.#watchLoop();
    this.#resync = setInterval(() => {
      if (this.#failed) this.#kick();
    }, RESYNC_MS);
    this.#log.info(
      { nodes: state.nodes.map((n) => n.name), capture: captureMode(state) },
      "node agent started",
    );
  }

  /**
   * `ambit` for pod commands. It runs the compiled CLI directly rather than `bin/ambit`, whose
   * rebuild-when-sources-changed check would make every pod (re)start a build in a dev tree.
   */
  async #writeShim(): Promise<void> {
    const dir = join(this.state.home, "bin");
    await mkdir(dir, { recursive: true });
    const shim = join(dir, "ambit");
    await writeFile(
      shim,
      `#!/bin/sh\nexec "${process.execPath}" --enable-source-maps "${cliEntry(this.state.repoRoot)}" "$@"\n`,
    );
    await chmod(shim, 0o755);
  }

  async #watchLoop(): Promise<void> {
    let delay = 200;
    while (!this.#stopping) {
      try {
        const client = await AdminClient.connect({ home: this.state.home });
        await client.watch((data) => {
          if (!this.#connected) this.#log.info("watching the control plane's registry");
          this.#connected = true;
          delay = 200;
          this.#latest = data as Registry & { version?: number };
          this.#kick();
        }, this.#abort.signal);
      } catch (e) {
        if (this.#connected)
          this.#log.warn({ err: (e as Error).message }, "control plane unreachable; pods keep running");
      }
      if (this.#connected) this.#statusSoon();
      this.#connected = false;
      if (this.#stopping) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  #kick(): void {
    if (this.#stopping) return;
    if (this.#reconciling) {
      this.#dirty = true;
      return;
    }
    this.#reconciling = (async () => {
      do {
        this.#dirty = false;
        const reg = this.#latest;
        if (reg !== undefined) await this.#reconcile(reg);
      } while (this.#dirty && !this.#stopping);
    })()
      .catch((e: unknown) => this.#log.error({ err: e }, "reconcile failed"))
      .finally(() => {
        this.#reconciling = undefined;
      });
  }

  async #reconcile(reg: Registry & { version?: number }): Promise<void> {
    this.#failed = false;
    const desired = desiredPods(reg, this.state.nodes, this.state.prefix);
    this.#services = dnsServices(reg);
    const current = new Map([...this.#pods].map(([id, p]) => [id, p.spec]));
    const changes = diffPods(current, desired);
    for (const p of [...changes.remove, ...changes.recreate]) await this.#guard(p, () => this.#removePod(p));
    const creating = [...changes.recreate, ...changes.create];
    // Waypoint exemptions first: a client pod created earlier in this pass may dial a waypoint at once.
    for (const p of creating)
      if (p.runtime?.kind === "waypoint") await this.#guard(p, () => this.#exemptWaypoint(p));
    for (const p of creating) await this.#guard(p, () => this.#createPod(p));
    for (const p of changes.update) {
      await this.#guard(p, async () => {
        await this.#nodeAgent(p).handle({ type: "updated", pod: agentPod(p) });
        const running = this.#pods.get(p.id);
        this.#pods.set(p.id, { spec: p, process: running?.process });
      });
    }
    for (const p of this.#pods.values()) {
      await this.#guard(p.spec, () => this.#networks.writeDns(networkSpec(p.spec), this.#services));
    }
    const nat = planServiceNat(reg, this.state.prefix);
    if (nat !== this.#serviceNat) {
      try {
        for (const node of this.state.nodes) {
          await this.#run(["ip", "netns", "exec", node.netns, "iptables-restore", "-w", "--noflush"], {
            input: nat,
          });
        }
        this.#serviceNat = nat;
      } catch (e) {
        this.#failed = true;
        this.#log.error(
          { err: (e as Error).message },
          "service VIP rules not applied; retrying at the next resync",
        );
      }
    }
    await this.#writeStatus(reg.version ?? null);
  }

  async #guard(p: DesiredPod, op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (e) {
      this.#failed = true;
      this.#log.error(
        { pod: p.id, err: (e as Error).message },
        "pod change failed; retrying at the next resync",
      );
    }
  }

  #nodeAgent(p: DesiredPod): NodeAgent {
    const a = this.#nodeAgents.get(p.node.name);
    if (a === undefined) throw new Error(`no node agent for ${p.node.name}`);
    return a;
  }

  async #createPod(p: DesiredPod): Promise<void> {
    // Before the pod's network exists: no ztunnel may reach its IP:15008 through the node rule first
    // (a session made then would stay pooled, pointing at the wrong server).
    const waypointArgv = p.runtime?.kind === "waypoint" ? await this.#waypointArgv(p) : undefined;
    await this.#networks.create(networkSpec(p), this.#services);
    // Capture before the process starts, so its very first connection is already in the mesh.
    await this.#nodeAgent(p).handle({ type: "added", pod: agentPod(p) });
    const argv = waypointArgv ?? podArgv(p.runtime);
    let proc: SupervisedProcess | undefined;
    if (argv !== undefined) {
      proc = new SupervisedProcess({
        netns: p.names.netns,
        argv,
        env: this.#podEnv(p),
        logFile: join(logsDir(this.state.home), `${p.namespace}.${p.name}.log`),
        backoffMs: this.state.restartBackoffMs,
        onChange: () => this.#statusSoon(),
      });
    } else {
      this.#log.warn(
        { pod: p.id, runtime: p.runtime?.kind ?? null },
        "pod has no command: network made, nothing to run (the image is not pulled locally)",
      );
    }
    this.#pods.set(p.id, { spec: p, process: proc });
    this.#log.info(
      { pod: p.id, node: p.node.name, ip: p.ip, enrollment: p.enrollment, pid: proc?.pid ?? null },
      "pod started",
    );
  }

  /**
   * A waypoint pod runs `ambit waypoint` in its netns: its Gateway name is its service account
   * (the registry makes it so); its token is issued through the admin API like the nodes'; its L7
   * resources come over xDS like its addresses.
   */
  async #waypointArgv(p: DesiredPod): Promise<string[]> {
    const client = await AdminClient.connect({ home: this.state.home });
    await client.post("/v1/tokens", { kind: "waypoint", namespace: p.namespace, name: p.serviceAccount });
    // The control plane's netns knows only the fabric subnet (ztunnels talk to it from node netns);
    // a waypoint talks to it from its pod: route the replies to that pod through its node.
    await this.#run([
      "ip",
      "-n",
      this.state.control.netns,
      "route",
      "replace",
      `${p.ip}/32`,
      "via",
      p.node.ip,
    ]);
    await this.#exemptWaypoint(p);
    return [
      process.execPath,
      ...nodeArgs("AMBIT_WAYPOINT_NODE_ARGS"),
      cliEntry(this.state.repoRoot),
      "waypoint",
      "--name",
      p.serviceAccount,
      "--namespace",
      p.namespace,
      "--control",
      this.state.control.xdsAddress,
      "--ca-roots",
      join(this.state.home, "ca", "root-cert.pem"),
      "--token-file",
      join(this.state.home, "waypoints", `${p.namespace}.${p.serviceAccount}.token`),
      "--bind-address",
      p.ip,
    ];
  }

  /**
   * The node's `local-hbone` rule sends every pod's :15008 to the node ztunnel; a waypoint serves
   * its own 15008, so ztunnel's dials to it must go straight to the pod. Idempotent (checked with
   * `-C` first). It must exist before anything can dial the waypoint: a CONNECT redirected to the
   * node ztunnel instead fails the request (the e2e flake of issue 4), so #reconcile installs it
   * for every new waypoint pod before creating any pod, and the waypoint process (whose xDS ACK
   * makes `ambit status` report it ready) starts only after it.
   */
  async #exemptWaypoint(p: DesiredPod): Promise<void> {
    const present = await this.#run([...waypointHboneRule(this.state, p, "-C")]).then(
      () => true,
      () => false,
    );
    if (!present) await this.#run([...waypointHboneRule(this.state, p, "-I")]);
  }

  async #removePod(p: DesiredPod): Promise<void> {
    const running = this.#pods.get(p.id);
    this.#pods.delete(p.id);
    await running?.process?.stop();
    if (p.runtime?.kind === "waypoint")
      await this.#run([...waypointHboneRule(this.state, p, "-D")]).catch(() => {});
    await this.#nodeAgent(p).handle({
      type: "removed",
      pod: { key: p.names.captureName, ip: p.ip, netns: p.names.netns },
    });
    await this.#networks.delete(networkSpec(p));
    this.#log.info({ pod: p.id }, "pod removed");
  }

  #podEnv(p: DesiredPod): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: `${join(this.state.home, "bin")}:${join(this.state.repoRoot, "bin")}:${inheritedPath()}`,
      HOME: "/root",
      AMBIT_HOME: this.state.home,
      POD_NAME: p.name,
      POD_NAMESPACE: p.namespace,
      POD_IP: p.ip,
      NODE_NAME: p.node.name,
      SERVICE_ACCOUNT: p.serviceAccount,
    };
    for (const e of p.runtime?.env ?? []) env[e.name] = e.value;
    return env;
  }

  #statusSoon(): void {
    if (this.#statusTimer !== undefined || this.#stopping) return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.#writeStatus((this.#latest as { version?: number } | undefined)?.version ?? null).catch(() => {});
    }, 50);
  }

  status(registryVersion: number | null): AgentStatus {
    const ztunnels: AgentStatus["ztunnels"] = {};
    for (const [node, z] of this.#ztunnels)
      ztunnels[node] = { pid: z.pid ?? null, state: z.state.state, restarts: z.restarts };
    const pods: AgentStatus["pods"] = {};
    for (const [id, p] of this.#pods) {
      pods[id] = {
        node: p.spec.node.name,
        ip: p.spec.ip,
        netns: p.spec.names.netns,
        enrollment: p.spec.enrollment,
        pid: p.process?.pid ?? null,
        state: p.process?.state.state ?? "no-command",
        restarts: p.process?.restarts ?? 0,
        command: podArgv(p.spec.runtime) ?? null,
      };
    }
    return {
      pid: process.pid,
      updatedAt: new Date().toISOString(),
      registryVersion,
      controlPlane: this.#connected ? "connected" : "disconnected",
      capture: captureMode(this.state),
      ztunnels,
      pods,
    };
  }

  async #writeStatus(version: number | null): Promise<void> {
    await writeJsonAtomic(join(this.state.home, AGENT_STATUS_FILE), this.status(version));
  }

  /**
   * `ambit ztunnel restart`: a new ztunnel binds beside the old one (SO_REUSEPORT), and once it
   * is ready the old one closes its listeners and drains (src/ztunnel/handover.ts).
   */
  async restartZtunnel(node: string, drainDeadlineMs: number): Promise<ZtunnelRestartResult> {
    const z = this.#ztunnels.get(node);
    if (z === undefined) {
      throw new LocalError(
        LocalErrorCode.NOT_FOUND,
        `cluster "${this.state.name}" has no node ${JSON.stringify(node)}; nodes: ${[...this.#ztunnels.keys()].join(", ")}`,
      );
    }
    const started = Date.now();
    this.#log.info({ node, drainDeadlineMs }, "ztunnel hand-over started");
    const r = await z.handOver({
      ready: (child) => awaitHandover(child, "ready", 60_000).then(() => {}),
      retire: (child) => {
        const drained = awaitHandover(child, "drained", drainDeadlineMs + 30_000);
        child.send({ type: "drain", deadlineMs: drainDeadlineMs } satisfies HandoverMessage);
        return drained;
      },
      exitGraceMs: 5000,
    });
    const drained = r.retired as Partial<Extract<HandoverMessage, { type: "drained" }>>;
    const result: ZtunnelRestartResult = {
      node,
      oldPid: r.oldPid,
      newPid: r.newPid,
      liveAtHandover: drained.liveAtStart ?? null,
      cutAtDeadline: drained.cutAtDeadline ?? null,
      durationMs: Date.now() - started,
    };
    this.#log.info(result, "ztunnel hand-over done");
    this.#statusSoon();
    return result;
  }

  /** Stops every pod process and ztunnel (the netns stay: `ambit down` deletes them). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#control?.close();
    this.#abort.abort();
    if (this.#resync !== undefined) clearInterval(this.#resync);
    if (this.#statusTimer !== undefined) clearTimeout(this.#statusTimer);
    await this.#reconciling;
    await Promise.all([...this.#pods.values()].map((p) => p.process?.stop(1000)));
    await Promise.all([...this.#ztunnels.values()].map((z) => z.stop(1000)));
    await this.#watching;
    this.#log.info("node agent stopped");
  }
}

/** The next hand-over message of `type` from `child`; rejects on exit or after `timeoutMs`. */
function awaitHandover(
  child: ChildProcess,
  type: HandoverMessage["type"],
  timeoutMs: number,
): Promise<HandoverMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (!isHandoverMessage(m) || m.type !== type) return;
      done();
      resolve(m);
    };
    const onExit = (): void => {
      done();
      reject(new LocalError(LocalErrorCode.HANDOVER, `ztunnel pid ${child.pid} exited before "${type}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new LocalError(
          LocalErrorCode.HANDOVER,
          `ztunnel pid ${child.pid} sent no "${type}" within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function networkSpec(p: DesiredPod) {
  return {
    name: p.name,
    namespace: p.namespace,
    netns: p.names.netns,
    ip: p.ip,
    hostVeth: p.names.hostVeth,
    node: { netns: p.node.netns, gateway: p.node.gateway },
  };
}

function agentPod(p: DesiredPod) {
  return {
    key: p.names.captureName,
    name: p.name,
    namespace: p.namespace,
    netns: p.names.netns,
    ip: p.ip,
    hostVeth: p.names.hostVeth,
    nodeAddress: p.node.gateway,
    labels: p.labels,
    enrollment: p.enrollment,
  };
}

/**
 * Node.js flags for the ztunnels (`AMBIT_ZTUNNEL_NODE_ARGS`) or the waypoints
 * (`AMBIT_WAYPOINT_NODE_ARGS`) from the environment of `ambit up`, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the data path (docs/performance.md); such flags
 * are refused in NODE_OPTIONS, so they go on the command line.
 */
function nodeArgs(variable: "AMBIT_ZTUNNEL_NODE_ARGS" | "AMBIT_WAYPOINT_NODE_ARGS"): string[] {
  return (process.env[variable] ?? "").split(/\s+/).filter((a) => a !== "");
}

/**
 * V8's young generation for a ztunnel, in MiB per semi-space. A ztunnel allocates per chunk and
 * keeps almost none of it, so V8's default (semi-spaces growing to 16 MiB under load) only adds
 * resident memory: peak RSS at maximum throughput 104 / 85 MiB (the two ztunnels) with the default,
 * 74 / 71 MiB at 2 MiB, at the same requests per CPU-second; 1 MiB saves 2 MiB more but costs
 * throughput (docs/performance.md, "The young generation").
 */
export const ZTUNNEL_SEMI_SPACE_MB = 2;

/**
 * V8 collects garbage on the ztunnel's own thread (`--single-threaded-gc`). By default each
 * scavenge of the young generation is split across V8's helper threads (four here), and on a
 * 2-core VM waking them costs more than the work they share: during one iperf3 stream the sending
 * ztunnel's helper threads used half as much CPU as its main thread. Without them the pair spends
 * ~20 % less CPU per byte and one stream runs 20–75 % faster (more when other processes compete
 * for the cores), at the same CPU per request (docs/performance.md, "Garbage collection on one
 * thread"). The waypoint, which keeps more of what it allocates, did not gain and keeps V8's default.
 */
export const ZTUNNEL_GC_FLAG = "--single-threaded-gc";

/**
 * The ztunnel's Node flags: the young-generation cap and single-threaded GC, each unless
 * `AMBIT_ZTUNNEL_NODE_ARGS` sets its own (`--max-semi-space-size=N`, `--no-single-threaded-gc`).
 */
export function ztunnelNodeArgs(): string[] {
  const extra = nodeArgs("AMBIT_ZTUNNEL_NODE_ARGS");
  const names = (pattern: RegExp): boolean => extra.some((a) => pattern.test(a));
  const defaults: string[] = [];
  if (!names(/^--max[-_]semi[-_]space[-_]size(=|$)/))
    defaults.push(`--max-semi-space-size=${ZTUNNEL_SEMI_SPACE_MB}`);
  if (!names(/^--(no[-_])?single[-_]threaded[-_]gc$/)) defaults.push(ZTUNNEL_GC_FLAG);
  return [...defaults, ...extra];
}
