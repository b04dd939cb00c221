/**
 * Thin, validated wrappers around `ip` for network namespaces, links, addresses, routes and
 * sysctls. Every call names its namespace: the platform layer never changes the machine's own
 * (root) namespace. Every failure is a CommandError naming the command line and its stderr.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readlinkSync, statSync } from "node:fs";
import { type CommandOptions, type CommandResult, type CommandRunner, runCommand } from "./command.js";
import { CommandError, invalid } from "./errors.js";
import { checkCidr, checkIp, checkLinkName, checkNetnsName } from "./linux-names.js";

export const NETNS_DIR = "/run/netns";

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${checkNetnsName(name)}`;
}

/**
 * Pids living in any of the named namespaces, found as `ip netns pids` does: the namespace
 * file's inode against each /proc/<pid>/ns/net (one scan of /proc for all names).
 */
export function pidsInNetns(names: readonly string[]): number[] {
  const inodes = new Set<string>();
  for (const n of names) {
    try {
      inodes.add(`net:[${statSync(netnsPath(n)).ino}]`);
    } catch {
      // Not mounted (already deleted).
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      // Exited meanwhile, or a kernel thread.
    }
  }
  return pids;
}

/** Runs `ip` through an injectable runner (tests and `ambit up` may log or fake it). */
export class IpTool {
  readonly #run: CommandRunner;
  constructor(run: CommandRunner = runCommand) {
    this.#run = run;
  }

  ip(args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    return this.#run(["ip", ...args], options);
  }

  /** `ip -n <netns> …` */
  in(netns: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    return this.ip(["-n", checkNetnsName(netns), ...args], options);
  }

  /** Creates the namespace with its loopback up (a fresh netns has `lo` down). */
  async createNetns(name: string): Promise<void> {
    await this.ip(["netns", "add", checkNetnsName(name)]);
    await this.in(name, ["link", "set", "lo", "up"]);
  }

  /**
   * Kills the processes still inside (they would keep the namespace alive after `ip netns del`),
   * then deletes it, which removes its links, bridges and iptables rules. Missing is not an error.
   */
  deleteNetns(name: string): Promise<void> {
    return this.deleteNetnsMany([name]);
  }

  /** deleteNetns for many at once: one process scan and one `ip -batch`; the missing are skipped. */
  async deleteNetnsMany(names: readonly string[]): Promise<void> {
    for (const n of names) checkNetnsName(n);
    const present = new Set(await this.listNetns());
    const doomed = names.filter((n) => present.has(n));
    if (doomed.length === 0) return;
    for (const pid of pidsInNetns(doomed)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    // -force: go on after a failure so one stuck namespace does not keep the others alive.
    await this.ip(["-force", "-batch", "-"], {
      input: `${doomed.map((n) => `netns del ${n}`).join("\n")}\n`,
    });
  }

  /**
   * Deletes a link (a veth takes its peer with it, wherever that lives). Missing is not an error:
   * the link, or the namespace it was in, already gone.
   */
  async deleteLink(netns: string, name: string): Promise<void> {
    await this.in(netns, ["link", "del", name]).catch((e: unknown) => {
      if (!/Cannot find device|Cannot open network namespace/.test(String((e as Error).message))) throw e;
    });
  }

  /**
   * Deletes a pod's network: its veth pair through the node's end, then its netns. The veth goes
   * first and explicitly: a deleted netns takes its veth pair down only when the kernel's namespace
   * clean-up runs, later, so the node's end could still be listed after this returned.
   */
  async deletePodNetwork(pod: { netns: string; hostVeth: string; nodeNetns: string }): Promise<void> {
    await this.deleteLink(pod.nodeNetns, pod.hostVeth);
    await this.deleteNetnsMany([pod.netns]);
  }

  async listNetns(): Promise<string[]> {
    const { stdout } = await this.ip(["netns", "list"]);
    // Lines look like `name (id: 3)` or just `name`.
    return stdout
      .split("\n")
      .map((line) => line.trim().split(/\s+/)[0] ?? "")
      .filter((n) => n !== "");
  }

  /** Processes whose network namespace is `name` (what `ip netns pids` reports). */
  netnsPids(name: string): number[] {
    return pidsInNetns([checkNetnsName(name)]);
  }

  /** A veth pair: `name` in `netns`, its peer `peerName` in `peerNetns` (created there directly). */
  async addVethPair(pair: {
    netns: string;
    name: string;
    peerNetns: string;
    peerName: string;
  }): Promise<void> {
    await this.in(pair.netns, [
      "link",
      "add",
      checkLinkName(pair.name),
      "type",
      "veth",
      "peer",
      "name",
      checkLinkName(pair.peerName),
      "netns",
      checkNetnsName(pair.peerNetns),
    ]);
  }

  async addBridge(netns: string, name: string): Promise<void> {
    await this.in(netns, ["link", "add", checkLinkName(name), "type", "bridge"]);
  }

  async setMaster(netns: string, link: string, bridge: string): Promise<void> {
    await this.in(netns, ["link", "set", checkLinkName(link), "master", checkLinkName(bridge)]);
  }

  async setUp(netns: string, link: string): Promise<void> {
    await this.in(netns, ["link", "set", checkLinkName(link), "up"]);
  }

  async addAddress(netns: string, link: string, cidr: string): Promise<void> {
    await this.in(netns, ["addr", "add", checkCidr(cidr), "dev", checkLinkName(link)]);
  }

  async addRoute(netns: string, route: Route): Promise<void> {
    await this.in(netns, ["route", "add", ...routeArgs(route)]);
  }

  /** Link names in the namespace (`ip -j link`). */
  async listLinks(netns: string): Promise<string[]> {
    const { stdout } = await this.in(netns, ["-j", "link", "show"]);
    const parsed: unknown = JSON.parse(stdout || "[]");
    if (!Array.isArray(parsed)) return [];
    return parsed
      .map((l: unknown) =>
        typeof l === "object" && l !== null ? (l as { ifname?: unknown }).ifname : undefined,
      )
      .filter((n): n is string => typeof n === "string");
  }

  /** `sysctl -w key=value` inside the namespace (net.* sysctls are per namespace). */
  async setSysctl(netns: string, key: string, value: string): Promise<void> {
    if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(key))
      throw invalid(`"${key}" is not a sysctl key like net.ipv4.ip_forward`);
    if (!/^[A-Za-z0-9 _.-]*$/.test(value)) throw invalid(`"${value}" is not a plain sysctl value`);
    await this.#run(["ip", "netns", "exec", checkNetnsName(netns), "sysctl", "-qw", `${key}=${value}`]);
  }

  /** Runs a command to completion inside the namespace (`ip netns exec`). */
  exec(netns: string, argv: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    if (argv.length === 0) throw invalid("execInNetns: empty argv");
    return this.#run(["ip", "netns", "exec", checkNetnsName(netns), ...argv], options);
  }
}

export interface Route {
  /** `default` or a CIDR / address. */
  readonly dst: string;
  readonly via?: string;
  readonly dev?: string;
  readonly scope?: "link" | "host" | "global";
  readonly src?: string;
}

export function routeArgs(route: Route): string[] {
  const args = [
    route.dst === "default" ? "default" : route.dst.includes("/") ? checkCidr(route.dst) : checkIp(route.dst),
  ];
  if (route.via !== undefined) args.push("via", checkIp(route.via));
  if (route.dev !== undefined) args.push("dev", checkLinkName(route.dev));
  if (route.scope !== undefined) args.push("scope", route.scope);
  if (route.src !== undefined) args.push("src", checkIp(route.src));
  return args;
}

const defaultIp = new IpTool();

export const createNetns = (name: string): Promise<void> => defaultIp.createNetns(name);
export const deleteNetns = (name: string): Promise<void> => defaultIp.deleteNetns(name);
export const listNetns = (): Promise<string[]> => defaultIp.listNetns();

/** Runs `argv` to completion inside `netns` (`ip netns exec`); rejects with CommandError on failure. */
export function execInNetns(
  netns: string,
  argv: readonly string[],
  options?: CommandOptions,
): Promise<CommandResult> {
  return defaultIp.exec(netns, argv, options);
}

/** A long-lived process inside a namespace (a workload's command, a test server). */
export interface NetnsProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 2 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnInNetnsOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Default: stdin ignored, stdout/stderr piped (read them or they fill up). */
  readonly stdio?: "pipe" | "inherit" | "ignore";
}

/** Starts `argv` inside `netns` without waiting for it; `stop()` it (tests: in `t.after`). */
export function spawnInNetns(
  netns: string,
  argv: readonly string[],
  options: SpawnInNetnsOptions = {},
): NetnsProcess {
  if (argv.length === 0) throw invalid("spawnInNetns: empty argv");
  const stdio = options.stdio ?? "pipe";
  // `ip netns exec` execs the command in place, so the pid is the workload's own.
  const child = spawn("ip", ["netns", "exec", checkNetnsName(netns), ...argv], {
    stdio: stdio === "pipe" ? ["ignore", "pipe", "pipe"] : stdio,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new CommandError(["ip", "netns", "exec", netns, ...argv], null, "could not start the process");
  }
  return {
    child,
    pid,
    exited,
    async stop(graceMs = 2000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
