/**
 * A local cluster for end-to-end tests: `ambit up` as a real process with a unique name and a
 * temporary `$AMBIT_HOME`, helpers to talk from inside pods (the addon's `connectFrom`), read
 * ztunnel metrics and access records, and `destroy()` (`ambit down`, then a check that nothing
 * with the cluster's prefix is left). Tests call `destroy()` in `after`, also when they fail.
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { AdminClient } from "../../src/cli/admin-client.js";
import { cliEntry, repoRoot } from "../../src/local/cluster-config.js";
import type { ClusterState } from "../../src/local/cluster-plan.js";
import { podNames } from "../../src/local/cluster-plan.js";
import { requireClusterState } from "../../src/local/cluster-state.js";
import { readAgentStatus } from "../../src/local/cluster-up.js";
import { httpGetInNetns } from "../../src/local/netns-http.js";
import { IpTool } from "../../src/platform/netns.js";
import { connectFrom } from "../../src/platform/netns-sockets.js";

const execFileP = promisify(execFile);

export const ROOT = repoRoot();
export const CLI = cliEntry(ROOT);
export const needsRoot = process.getuid?.() !== 0 ? "needs root (netns)" : false;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 180_000,
): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}

export class TestCluster {
  readonly name: string;
  readonly home: string;
  state!: ClusterState;
  upOutput = "";

  private constructor(name: string, home: string) {
    this.name = name;
    this.home = home;
  }

  /** `ambit up` with a fresh name (`e` + 5 random characters) and a temporary data directory. */
  static async up(
    files: readonly string[],
    nodes = 2,
    /** Runs on the empty data directory before `ambit up` (e.g. to plug in a CA under `ca/`). */
    prepareHome?: (home: string) => Promise<void>,
    /** Environment of `ambit up` (and so of its node agent), e.g. `AMBIT_ZTUNNEL_HBONE_WRITES`. */
    env: NodeJS.ProcessEnv = {},
    /** More `ambit up` flags, e.g. `["--capture", "inpod"]`. */
    upFlags: readonly string[] = [],
  ): Promise<TestCluster> {
    const name = `e${randomBytes(3).toString("hex").slice(0, 5)}`;
    const home = await mkdtemp(join(tmpdir(), "ambit-e2e-"));
    await prepareHome?.(home);
    const c = new TestCluster(name, home);
    const args = ["up", "--name", name, "--home", home, "--nodes", String(nodes), ...upFlags];
    for (const f of files) args.push("-f", resolve(ROOT, f));
    const r = await runCli(args, env);
    c.upOutput = r.stdout + r.stderr;
    if (r.code !== 0) {
      const logs: string[] = [];
      for (const f of ["agent.log", "ztunnel.node-1.log", "control.log"]) {
        const text = await readFile(join(home, "logs", f), "utf8").catch(() => "(none)");
        logs.push(`--- ${f}\n${text.trimEnd().split("\n").slice(-6).join("\n")}`);
      }
      await c.destroy();
      throw new Error(`ambit up failed (${r.code}):\n${c.upOutput}\n${logs.join("\n")}`);
    }
    c.state = await requireClusterState(home);
    return c;
  }

  /** `ambit <command> --home <home> …` (before any `--`, which would pass it to an exec'd command). */
  cli(args: readonly string[]): Promise<CliResult> {
    return runCli([...args.slice(0, 1), "--home", this.home, ...args.slice(1)]);
  }

  admin(): Promise<AdminClient> {
    return AdminClient.connect({ home: this.home });
  }

  async apply(yaml: string): Promise<void> {
    await (await this.admin()).post("/v1/apply", { sources: [{ filename: "<test>", yaml }] });
  }

  async deleteYaml(yaml: string): Promise<void> {
    await (await this.admin()).post("/v1/delete", { sources: [{ filename: "<test>", yaml }] });
  }

  podNetns(namespace: string, pod: string): string {
    return podNames(this.state.prefix, namespace, pod).netns;
  }

  node(name: string): ClusterState["nodes"][number] {
    const n = this.state.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  async podIp(namespace: string, pod: string): Promise<string> {
    const s = await readAgentStatus(this.home);
    const ip = s?.pods[`${namespace}/${pod}`]?.ip;
    if (ip === undefined) throw new Error(`pod ${namespace}/${pod} not known to the agent`);
    return ip;
  }

  async podPid(namespace: string, pod: string): Promise<number | null> {
    return (await readAgentStatus(this.home))?.pods[`${namespace}/${pod}`]?.pid ?? null;
  }

  async ztunnelPid(node: string): Promise<number | null> {
    return (await readAgentStatus(this.home))?.ztunnels[node]?.pid ?? null;
  }

  /** Waits until the agent reports the pods running (after an apply). */
  async waitForPods(ids: readonly string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await readAgentStatus(this.home);
      if (
        ids.every(
          (id) => s?.pods[id] !== undefined && ["running", "no-command"].includes(s.pods[id]?.state ?? ""),
        )
      )
        return;
      if (Date.now() > deadline)
        throw new Error(`pods not running: ${ids.join(", ")}: ${JSON.stringify(s?.pods)}`);
      await sleep(100);
    }
  }

  async metrics(node: string): Promise<string> {
    const n = this.node(node);
    return (await httpGetInNetns(n.netns, { host: n.ip, port: 15020, path: "/metrics" })).body;
  }

  async ztunnelReady(node: string): Promise<boolean> {
    const n = this.node(node);
    try {
      return (
        (await httpGetInNetns(n.netns, { host: n.ip, port: 15021, path: "/healthz/ready" }, 1000)).status ===
        200
      );
    } catch {
      return false;
    }
  }

  async accessRecords(node: string): Promise<Record<string, unknown>[]> {
    const text = await readFile(join(this.home, "logs", `ztunnel.${node}.log`), "utf8").catch(() => "");
    const out: Record<string, unknown>[] = [];
    for (const line of text.split("\n")) {
      if (!line.includes('"access":true')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // A line being written.
      }
    }
    return out;
  }

  async destroy(): Promise<void> {
    await runCli(["down", "--home", this.home, "--name", this.name]);
    // Keep the logs for a post-mortem (small; the OS cleans /tmp).
    await cp(join(this.home, "logs"), join(tmpdir(), `ambit-e2e-logs-${this.name}`), {
      recursive: true,
    }).catch(() => {});
    const left = (await new IpTool().listNetns()).filter((n) => n.startsWith(`${this.name}-`));
    await rm(this.home, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`ambit down left namespaces behind: ${left.join(", ")}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Exchange {
  readonly received: Buffer;
  /** The server closed its side after our half-close (the reply arrived in full). */
  readonly ended: boolean;
  readonly error: string | undefined;
}

/**
 * From inside `netns`: connect, send `payload`, half-close, read until the peer closes. Resolves
 * (never rejects) with what came back; a refused or reset connection shows as `error`/empty.
 */
export function exchange(
  netns: string,
  host: string,
  port: number,
  payload: Buffer,
  timeoutMs = 10_000,
): Promise<Exchange> {
  return new Promise((resolvePromise) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    let socket: Socket;
    try {
      socket = connectFrom({ netns, host, port, allowHalfOpen: true });
    } catch (e) {
      resolvePromise({ received: Buffer.alloc(0), ended: false, error: (e as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      error = "timeout";
      socket.destroy();
    }, timeoutMs);
    socket.on("connect", () => socket.end(payload));
    socket.on("data", (b: Buffer) => chunks.push(b));
    socket.on("end", () => {
      ended = true;
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolvePromise({ received: Buffer.concat(chunks), ended, error });
    });
  });
}

export function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Polls `probe` until it returns true; false after `timeoutMs`. */
export async function eventually(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export async function execIn(netns: string, argv: readonly string[]): Promise<string> {
  const { stdout } = await execFileP("ip", ["netns", "exec", netns, ...argv], { timeout: 20_000 });
  return stdout;
}

/** The network namespaces whose names start with a cluster's prefix (`<name>-…`). */
export async function netnsOfCluster(name: string): Promise<string[]> {
  const { stdout } = await execFileP("ip", ["netns", "list"]);
  return stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${name}-`));
}

/** The pids of the processes running in a network namespace. */
export async function pidsInNetns(netns: string): Promise<number[]> {
  const { stdout } = await execFileP("ip", ["netns", "pids", netns]);
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(Number);
}

/**
 * Starts the CLI with `args`, waits until its output matches `ready`, sends it SIGINT and returns
 * its exit code and output, with what `atReady` returned when it was ready (state to check after).
 */
export async function interruptCli<T>(
  args: readonly string[],
  ready: RegExp,
  atReady: (output: string) => Promise<T>,
  readyTimeoutMs = 240_000,
): Promise<{ code: number | null; output: string; sentAt: number; before: T }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const add = (b: Buffer): void => {
    output += b.toString();
  };
  child.stdout.on("data", add);
  child.stderr.on("data", add);
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  try {
    if (
      !(await eventually(async () => ready.test(output) || child.exitCode !== null, readyTimeoutMs)) ||
      !ready.test(output)
    )
      throw new Error(`never reached ${ready}:\n${output}`);
    const before = await atReady(output);
    const sentAt = Date.now();
    child.kill("SIGINT");
    return { code: await exited, output, sentAt, before };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}
