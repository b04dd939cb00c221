/**
 * The faults a scenario step can inject into a local cluster, by name. Each action declares its
 * arguments (checked when the scenario loads), may say why it cannot run on this machine
 * (`unsupported`, checked before the load starts), and registers an undo for what it leaves
 * behind (a link down, a qdisc, a firewall rule, held connections), run when the scenario ends.
 */
import type { Socket } from "node:net";
import { AdminClient } from "../cli/admin-client.js";
import { requestZtunnelRestart } from "../local/agent-control.js";
import { type ClusterState, clusterTopology } from "../local/cluster-plan.js";
import { processAlive, requireClusterState } from "../local/cluster-state.js";
import { readAgentStatus, startControlPlane } from "../local/cluster-up.js";
import { runCommand } from "../platform/command.js";
import { iptablesInNetns } from "../platform/linux-names.js";
import { connectFrom } from "../platform/netns-sockets.js";
import { ChaosError, ChaosErrorCode } from "./errors.js";
import type { LoadTarget } from "./load.js";
import { type ActionProblem, parseDuration } from "./scenario.js";

export interface ActionContext {
  readonly home: string;
  readonly state: ClusterState;
  /** The load's source and destination: connection-holding actions use the same path. */
  readonly target: LoadTarget;
  readonly progress: (line: string) => void;
  /** Undo work, run in reverse order when the scenario ends (also when it fails). */
  onCleanup(undo: () => Promise<void>): void;
  /** Aborted when the load ends: background actions stop then. */
  readonly signal: AbortSignal;
}

type ArgKind = "node" | "count" | "duration" | "name" | "percent";

export interface ActionDef {
  readonly description: string;
  readonly args: Readonly<Record<string, { kind: ArgKind; required?: boolean }>>;
  /** Why this cannot run here (missing kernel feature), or undefined. */
  unsupported?(state: ClusterState, args: Readonly<Record<string, unknown>>): Promise<string | undefined>;
  /** Does the fault; resolves with a one-line account of what happened. */
  run(ctx: ActionContext, args: Readonly<Record<string, unknown>>): Promise<string>;
}

function node(
  ctx: { state: ClusterState },
  args: Readonly<Record<string, unknown>>,
): ClusterState["nodes"][number] {
  const name = String(args.node ?? "node-1");
  const n = ctx.state.nodes.find((x) => x.name === name);
  if (n === undefined) {
    throw new ChaosError(
      ChaosErrorCode.ACTION,
      `node "${name}" is not in cluster ${ctx.state.name} (nodes: ${ctx.state.nodes.map((x) => x.name).join(", ")})`,
    );
  }
  return n;
}

function seconds(v: unknown, fallback: number): number {
  return v === undefined ? fallback : (parseDuration(v) ?? fallback);
}

async function ztunnelPid(home: string, nodeName: string): Promise<number> {
  const pid = (await readAgentStatus(home))?.ztunnels[nodeName]?.pid ?? null;
  if (pid === null)
    throw new ChaosError(ChaosErrorCode.ACTION, `ztunnel of ${nodeName} is not running (agent status)`);
  return pid;
}

async function admin(home: string): Promise<AdminClient> {
  return AdminClient.connect({ home });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

/** Runs `undo` after the step's `for` duration (when given), or leaves it to the end of the run. */
function later(ctx: ActionContext, forArg: unknown, undo: () => Promise<void>): void {
  if (forArg === undefined) return;
  const timer = setTimeout(() => {
    undo().catch(() => {});
  }, seconds(forArg, 0) * 1000);
  ctx.signal.addEventListener("abort", () => clearTimeout(timer));
}

async function deleteYaml(client: AdminClient, yaml: string): Promise<void> {
  await client.post("/v1/delete", { sources: [{ filename: "<chaos cleanup>", yaml }] }).catch(() => {});
}

function burstPolicy(i: number): string {
  return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: chaos-burst\n  namespace: chaos\nspec:\n  action: DENY\n  rules:\n    - from:\n        - source:\n            principals: ["cluster.local/ns/nowhere/sa/burst-${i}"]\n`;
}

async function sh(argv: readonly string[]): Promise<string> {
  const r = await runCommand(argv, { timeoutMs: 20_000 });
  return r.stdout;
}

/** `ip link set <node's fabric veth> down|up` in the fabric netns: the node's cable, pulled. */
function fabricLink(state: ClusterState, nodeName: string): string {
  const plan = clusterTopology({ prefix: state.prefix, nodes: state.nodes.length });
  const n = plan.nodes.find((x) => x.name === nodeName);
  if (n === undefined) throw new ChaosError(ChaosErrorCode.ACTION, `no fabric link for node ${nodeName}`);
  return n.fabricVeth;
}

async function setLink(state: ClusterState, nodeName: string, up: "up" | "down"): Promise<void> {
  await sh(["ip", "-n", state.fabric.netns, "link", "set", fabricLink(state, nodeName), up]);
}

let netemProbe: Promise<string | undefined> | undefined;

/** tc netem needs the sch_netem module; probe it once in a throw-away netns. */
function netemUnsupported(state: ClusterState): Promise<string | undefined> {
  netemProbe ??= (async () => {
    const ns = `${state.prefix}-netem-probe`;
    try {
      await sh(["ip", "netns", "add", ns]);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await sh([
        "ip",
        "netns",
        "exec",
        ns,
        "tc",
        "qdisc",
        "add",
        "dev",
        "lo",
        "root",
        "netem",
        "delay",
        "1ms",
      ]);
      return undefined;
    } catch (e) {
      const msg = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
      return `tc netem is not available on this kernel (${msg.split("\n")[0]}); the sch_netem module is missing`;
    } finally {
      await sh(["ip", "netns", "del", ns]).catch(() => {});
    }
  })();
  return netemProbe;
}

async function netemClear(state: ClusterState, nodeName: string): Promise<void> {
  await sh([
    "ip",
    "netns",
    "exec",
    node({ state }, { node: nodeName }).netns,
    "tc",
    "qdisc",
    "del",
    "dev",
    "eth0",
    "root",
  ]);
}

function blockCaRule(op: "-I" | "-D", state: ClusterState): string[] {
  return iptablesInNetns(state.control.netns, [
    op,
    "INPUT",
    "-p",
    "tcp",
    "--dport",
    "15012",
    "-m",
    "comment",
    "--comment",
    `${state.prefix}/chaos/block-ca`,
    "-j",
    "DROP",
  ]);
}

/** Opens `count` connections along the load's path and keeps them until the run ends. */
async function holdConnections(
  ctx: ActionContext,
  count: number,
  onOpen: (s: Socket) => void,
  holdFor?: unknown,
): Promise<{ open: number; failed: number }> {
  const sockets: Socket[] = [];
  const release = once(async () => {
    for (const s of sockets) s.destroy();
  });
  ctx.onCleanup(release);
  later(ctx, holdFor, release);
  let failed = 0;
  const batch = 100;
  for (let i = 0; i < count && !ctx.signal.aborted; i += batch) {
    const opened = await Promise.all(
      Array.from(
        { length: Math.min(batch, count - i) },
        () =>
          new Promise<Socket | undefined>((resolve) => {
            let s: Socket;
            try {
              s = connectFrom({ netns: ctx.target.netns, host: ctx.target.host, port: ctx.target.port });
            } catch {
              resolve(undefined);
              return;
            }
            s.once("error", () => resolve(undefined));
            s.once("connect", () => {
              s.removeAllListeners("error");
              s.on("error", () => {});
              resolve(s);
            });
          }),
      ),
    );
    for (const s of opened) {
      if (s === undefined) failed += 1;
      else {
        sockets.push(s);
        onOpen(s);
      }
    }
  }
  return { open: sockets.length, failed };
}

export const ACTIONS: Readonly<Record<string, ActionDef>> = {
  "kill-control-plane": {
    description: "SIGKILL the control plane (data plane keeps the last config: static stability)",
    args: {},
    async run(ctx) {
      const state = await requireClusterState(ctx.home);
      const pid = state.control.pid;
      if (!(await processAlive(pid, "control"))) return "control plane was not running";
      process.kill(pid as number, "SIGKILL");
      // Leave the cluster as found: a scenario that does not restart it gets it back at the end.
      ctx.onCleanup(async () => {
        const now = await requireClusterState(ctx.home);
        if (!(await processAlive(now.control.pid, "control"))) await startControlPlane(now);
      });
      return `control plane pid ${pid} killed`;
    },
  },
  "restart-control-plane": {
    description: "start the control plane again (stopping it first if it runs); waits until it answers",
    args: {},
    async run(ctx) {
      const state = await requireClusterState(ctx.home);
      if (await processAlive(state.control.pid, "control")) {
        process.kill(state.control.pid as number, "SIGTERM");
        for (let i = 0; i < 100 && (await processAlive(state.control.pid, "control")); i++)
          await new Promise((r) => setTimeout(r, 100));
      }
      const t0 = Date.now();
      await startControlPlane(state);
      return `control plane up again (pid ${state.control.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  },
  "kill-ztunnel": {
    description: "SIGKILL a node's ztunnel; the node agent restarts it with backoff",
    args: { node: { kind: "node", required: true } },
    async run(ctx, args) {
      const n = node(ctx, args);
      const pid = await ztunnelPid(ctx.home, n.name);
      process.kill(pid, "SIGKILL");
      return `ztunnel of ${n.name} (pid ${pid}) killed`;
    },
  },
  "restart-ztunnel": {
    description: "zero-downtime hand-over of a node's ztunnel to a new process (ambit ztunnel restart)",
    args: { node: { kind: "node", required: true }, drain_deadline: { kind: "duration" } },
    async run(ctx, args) {
      const n = node(ctx, args);
      const r = await requestZtunnelRestart(
        ctx.home,
        n.name,
        Math.round(seconds(args.drain_deadline, 10) * 1000),
      );
      return `ztunnel of ${n.name} handed over pid ${r.oldPid} → ${r.newPid}; ${r.liveAtHandover} live drained, ${r.cutAtDeadline} cut`;
    },
  },
  "kill-waypoint": {
    description: "SIGKILL the waypoint pods of a namespace; the node agent restarts them",
    args: { namespace: { kind: "name" } },
    async run(ctx, args) {
      const ns = String(args.namespace ?? "chaos-l7");
      const status = await readAgentStatus(ctx.home);
      const killed: string[] = [];
      for (const [id, p] of Object.entries(status?.pods ?? {})) {
        if (!id.startsWith(`${ns}/`) || p.pid === null) continue;
        if (!(await processAlive(p.pid, "waypoint"))) continue;
        process.kill(p.pid, "SIGKILL");
        killed.push(`${id} (pid ${p.pid})`);
      }
      if (killed.length === 0)
        throw new ChaosError(ChaosErrorCode.ACTION, `no running waypoint pod in namespace ${ns}`);
      return `killed ${killed.join(", ")}`;
    },
  },
  "link-down": {
    description: "take a node's link to the fabric down (the cable pulled); undone at the end",
    args: { node: { kind: "node", required: true } },
    async run(ctx, args) {
      const n = node(ctx, args);
      await setLink(ctx.state, n.name, "down");
      ctx.onCleanup(() => setLink(ctx.state, n.name, "up"));
      return `link of ${n.name} down`;
    },
  },
  "link-up": {
    description: "bring a node's fabric link back up",
    args: { node: { kind: "node", required: true } },
    async run(ctx, args) {
      const n = node(ctx, args);
      await setLink(ctx.state, n.name, "up");
      return `link of ${n.name} up`;
    },
  },
  netem: {
    description: "tc netem on a node's link: delay, loss, reordering (needs the sch_netem kernel module)",
    args: {
      node: { kind: "node", required: true },
      delay: { kind: "duration" },
      jitter: { kind: "duration" },
      loss: { kind: "percent" },
      reorder: { kind: "percent" },
    },
    unsupported: (state) => netemUnsupported(state),
    async run(ctx, args) {
      const n = node(ctx, args);
      const spec: string[] = [];
      const delayMs = seconds(args.delay, args.reorder !== undefined ? 0.01 : 0) * 1000;
      if (delayMs > 0) spec.push("delay", `${delayMs}ms`);
      if (args.jitter !== undefined) spec.push(`${seconds(args.jitter, 0) * 1000}ms`);
      if (args.loss !== undefined) spec.push("loss", `${Number(args.loss)}%`);
      if (args.reorder !== undefined) spec.push("reorder", `${Number(args.reorder)}%`);
      await sh([
        "ip",
        "netns",
        "exec",
        n.netns,
        "tc",
        "qdisc",
        "replace",
        "dev",
        "eth0",
        "root",
        "netem",
        ...spec,
      ]);
      ctx.onCleanup(() => netemClear(ctx.state, n.name).catch(() => {}));
      return `netem ${spec.join(" ")} on ${n.name}`;
    },
  },
  "netem-clear": {
    description: "remove the netem qdisc from a node's link",
    args: { node: { kind: "node", required: true } },
    unsupported: (state) => netemUnsupported(state),
    async run(ctx, args) {
      const n = node(ctx, args);
      await netemClear(ctx.state, n.name);
      return `netem removed from ${n.name}`;
    },
  },
  "policy-burst": {
    description: "push many AuthorizationPolicy changes at once (each a new version of one policy)",
    args: { count: { kind: "count" }, concurrency: { kind: "count" } },
    async run(ctx, args) {
      const count = Number(args.count ?? 1000);
      const concurrency = Number(args.concurrency ?? 8);
      const client = await admin(ctx.home);
      ctx.onCleanup(() => deleteYaml(client, burstPolicy(0)));
      let next = 0;
      let failed = 0;
      const t0 = Date.now();
      // A DENY for a principal that never connects: every version changes the config pushed to the
      // ztunnels, none changes what the load may do.
      const worker = async (): Promise<void> => {
        while (next < count && !ctx.signal.aborted) {
          const i = next++;
          const yaml = burstPolicy(i);
          await client
            .post("/v1/apply", { sources: [{ filename: `<chaos policy ${i}>`, yaml }] })
            .catch(() => {
              failed += 1;
            });
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const done = next - failed;
      return `${done} policy changes pushed in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed > 0 ? `, ${failed} refused` : ""}`;
    },
  },
  "push-invalid-config": {
    description: "push an invalid AuthorizationPolicy: it must be refused, the last good config stays",
    args: {},
    async run(ctx) {
      const client = await admin(ctx.home);
      const yaml =
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: chaos-invalid\n  namespace: chaos\nspec:\n  action: SOMETIMES\n  rules:\n    - to:\n        - operation:\n            ports: ["not-a-port"]\n';
      try {
        await client.post("/v1/apply", { sources: [{ filename: "<chaos invalid>", yaml }] });
      } catch (e) {
        const code = (e as { code?: string }).code ?? "rejected";
        return `refused at admission (${code}): nothing applied, no push`;
      }
      ctx.onCleanup(() => deleteYaml(client, yaml));
      throw new ChaosError(ChaosErrorCode.ACTION, "the invalid policy was accepted by the control plane");
    },
  },
  "fd-limit": {
    description: "lower a ztunnel's open-file limit (prlimit); restored at the end",
    args: {
      node: { kind: "node", required: true },
      nofile: { kind: "count", required: true },
      for: { kind: "duration" },
    },
    async run(ctx, args) {
      const n = node(ctx, args);
      const pid = await ztunnelPid(ctx.home, n.name);
      const before = (
        await sh(["prlimit", "--pid", String(pid), "--nofile", "--raw", "--noheadings", "-o", "SOFT,HARD"])
      )
        .trim()
        .split(/\s+/);
      await sh([
        "prlimit",
        "--pid",
        String(pid),
        `--nofile=${Number(args.nofile)}:${before[1] ?? Number(args.nofile)}`,
      ]);
      const restore = once(async () => {
        await sh(["prlimit", "--pid", String(pid), `--nofile=${before[0]}:${before[1]}`]).catch(() => {});
      });
      ctx.onCleanup(restore);
      later(ctx, args.for, restore);
      return `ztunnel of ${n.name} (pid ${pid}) limited to ${Number(args.nofile)} open files (was ${before[0]})`;
    },
  },
  "slow-reader": {
    description: "connections that send a lot and never read the echo (backpressure through the mesh)",
    args: { connections: { kind: "count" }, bytes: { kind: "count" } },
    async run(ctx, args) {
      const bytes = Number(args.bytes ?? 4 * 1024 * 1024);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const r = await holdConnections(ctx, Number(args.connections ?? 4), (s) => {
        s.pause();
        let sent = 0;
        const pump = (): void => {
          while (sent < bytes && !s.destroyed) {
            sent += chunk.length;
            if (!s.write(chunk)) {
              s.once("drain", pump);
              return;
            }
          }
        };
        pump();
      });
      return `${r.open} slow readers writing ${bytes} B each${r.failed > 0 ? ` (${r.failed} could not connect)` : ""}`;
    },
  },
  "hold-idle-connections": {
    description: "open many connections along the load's path and hold them idle until the end",
    args: { count: { kind: "count", required: true }, for: { kind: "duration" } },
    async run(ctx, args) {
      const r = await holdConnections(ctx, Number(args.count), () => {}, args.for);
      return `${r.open} idle connections held${r.failed > 0 ? ` (${r.failed} could not connect)` : ""}`;
    },
  },
  "cert-rotate": {
    description:
      "force every workload certificate to rotate (admin POST /v1/certs/rotate), repeated every `every`",
    args: { every: { kind: "duration" }, times: { kind: "count" } },
    async run(ctx, args) {
      const client = await admin(ctx.home);
      const rotate = () => client.post("/v1/certs/rotate", { all: true });
      await rotate();
      const every = seconds(args.every, 0);
      const times = Number(args.times ?? 1);
      if (every > 0 && times > 1) {
        let left = times - 1;
        const timer = setInterval(() => {
          if (left-- <= 0 || ctx.signal.aborted) return clearInterval(timer);
          rotate().catch((e: unknown) => ctx.progress(`cert-rotate failed: ${(e as Error).message}`));
        }, every * 1000);
        ctx.signal.addEventListener("abort", () => clearInterval(timer));
      }
      return `certificates rotated${every > 0 ? `, again every ${every} s (${times} in all)` : ""}`;
    },
  },
  "ca-rotate-root": {
    description:
      "rotate the mesh root CA (admin POST /v1/ca/rotate-root): new root trusted first, then signing",
    args: {},
    async run(ctx) {
      await (await admin(ctx.home)).post("/v1/ca/rotate-root", {});
      return "root CA rotated";
    },
  },
  "block-ca": {
    description: "drop traffic to the control plane's xDS/CA port 15012 (CA unreachable); undone at the end",
    args: {},
    async run(ctx) {
      await sh(blockCaRule("-I", ctx.state));
      ctx.onCleanup(async () => {
        await sh(blockCaRule("-D", ctx.state)).catch(() => {});
      });
      return "port 15012 of the control plane blocked";
    },
  },
  "unblock-ca": {
    description: "let traffic reach port 15012 again",
    args: {},
    async run(ctx) {
      await sh(blockCaRule("-D", ctx.state)).catch(() => {});
      return "port 15012 of the control plane reachable again";
    },
  },
};

/** The loader's check of a step against the registry (unknown actions, unknown or bad args). */
export function checkAction(
  action: string,
  args: Readonly<Record<string, unknown>>,
): ActionProblem | undefined {
  const def = ACTIONS[action];
  if (def === undefined)
    return { message: `unknown action "${action}"; actions: ${Object.keys(ACTIONS).sort().join(", ")}` };
  for (const [k, v] of Object.entries(args)) {
    const spec = def.args[k];
    if (spec === undefined) {
      const known = Object.keys(def.args);
      return {
        arg: k,
        message: `action ${action} has no argument "${k}"${known.length > 0 ? `; it takes ${known.join(", ")}` : "; it takes none"}`,
      };
    }
    const ok =
      spec.kind === "duration"
        ? parseDuration(v) !== undefined
        : spec.kind === "count"
          ? typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 1_000_000_000
          : spec.kind === "percent"
            ? typeof v === "number" && v >= 0 && v <= 100
            : typeof v === "string" && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v);
    if (!ok) return { arg: k, message: `${JSON.stringify(v)} is not a valid ${spec.kind} for ${action}` };
  }
  for (const [k, spec] of Object.entries(def.args)) {
    if (spec.required === true && args[k] === undefined)
      return { arg: "", message: `action ${action} needs args.${k}` };
  }
  return undefined;
}
