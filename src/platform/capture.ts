/**
 * Applies the capture plan (capture-plan.ts) to one node's network namespace with
 * `iptables-restore -w --noflush`: every change is one nf_tables transaction, so a pod is never
 * half-captured, and the kernel's rules are the only state (a restarted agent re-reads them).
 *
 * Why iptables (nf_tables backend) rather than native nft: it is what Istio's CNI and most
 * Kubernetes nodes drive, operators can read it with `iptables -t nat -S`, and restore batches
 * give the same atomicity as an nft script. The rules are plain enough to port to nft sets later.
 */

import {
  baseScope,
  type CaptureConfig,
  type CapturedPod,
  type CaptureOptions,
  captureConfig,
  checkPrefix,
  enrolledPods,
  type InPodCapturedPod,
  inPodChains,
  type NatState,
  parseNatRules,
  planBase,
  planInPod,
  planPod,
  planRemoveAll,
  planScopeChange,
  podScope,
  renderRestore,
} from "./capture-plan.js";
import { type CommandRunner, runCommand } from "./command.js";
import { CommandError } from "./errors.js";
import { checkIp, checkNetnsName, iptablesInNetns } from "./linux-names.js";

export interface NodeCaptureOptions extends CaptureOptions {
  /** The node's network namespace (name under /run/netns). */
  readonly netns: string;
  readonly run?: CommandRunner;
}

export interface UnenrollOptions {
  /**
   * Also delete the pod's conntrack entries (`conntrack -D`). Off by default: like Istio, a pod
   * leaving the mesh keeps its live connections (already NATed to ztunnel) until they close, while
   * every new connection goes direct. Set it to cut them at once.
   */
  readonly flushConntrackIp?: string;
}

/** Capture rules of one node netns. Operations are serialised: each reads, plans, then applies. */
export class NodeCapture {
  readonly config: CaptureConfig;
  readonly netns: string;
  readonly #run: CommandRunner;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: NodeCaptureOptions) {
    this.config = captureConfig(options);
    this.netns = checkNetnsName(options.netns);
    this.#run = options.run ?? runCommand;
  }

  /** Starts capturing `pod` (idempotent; a changed IP or veth replaces its old rules atomically). */
  enroll(pod: CapturedPod): Promise<void> {
    const desired = planPod(this.config, pod);
    return this.#serial(async () => {
      const state = await this.#state();
      const { outbound, inbound } = this.config.chains;
      const lines = [
        ...planScopeChange(state, baseScope(this.config), planBase(this.config), [outbound, inbound]),
        ...planScopeChange(state, podScope(this.config, pod.name), desired),
      ];
      await this.#apply(lines);
    });
  }

  /** Stops capturing the pod, live: new connections go direct at once (idempotent). */
  unenroll(podName: string, options: UnenrollOptions = {}): Promise<void> {
    return this.#serial(async () => {
      const state = await this.#state();
      await this.#apply(planScopeChange(state, podScope(this.config, podName), []));
      if (options.flushConntrackIp !== undefined)
        await flushConntrack(this.netns, options.flushConntrackIp, this.#run);
    });
  }

  /** Names of the pods whose capture rules are installed. */
  enrolled(): Promise<string[]> {
    return this.#serial(async () => enrolledPods(await this.#state(), this.config.prefix));
  }

  /** Removes every rule and chain of this prefix from the node netns. */
  removeAll(): Promise<void> {
    return this.#serial(() => removeCaptureByPrefix(this.netns, this.config.prefix, this.#run));
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #state(): Promise<NatState> {
    return readNatState(this.netns, this.#run);
  }

  #apply(lines: readonly string[]): Promise<void> {
    return applyNat(this.netns, lines, this.#run);
  }
}

/**
 * In-pod capture (capture-plan.ts `planInPod`): installs or updates the rules inside the pod's own
 * netns in one iptables-restore transaction (idempotent; a changed address replaces them).
 */
export async function captureInPod(
  options: CaptureOptions & { readonly netns: string; readonly run?: CommandRunner },
  pod: InPodCapturedPod,
): Promise<void> {
  const config = captureConfig(options);
  const run = options.run ?? runCommand;
  const desired = planInPod(config, pod);
  const { prerouting, output } = inPodChains(config.prefix);
  const state = await readNatState(options.netns, run);
  await applyNat(
    options.netns,
    planScopeChange(state, podScope(config, pod.name), desired, [prerouting, output]),
    run,
  );
}

export async function readNatState(netns: string, run: CommandRunner = runCommand): Promise<NatState> {
  const { stdout } = await run(iptablesInNetns(netns, ["-t", "nat", "-S"]));
  return parseNatRules(stdout);
}

async function applyNat(netns: string, lines: readonly string[], run: CommandRunner): Promise<void> {
  if (lines.length === 0) return;
  await run(["ip", "netns", "exec", checkNetnsName(netns), "iptables-restore", "-w", "--noflush"], {
    input: renderRestore(lines),
  });
}

/** Removes every capture rule and chain whose name or comment carries `prefix` (idempotent). */
export async function removeCaptureByPrefix(
  netns: string,
  prefix: string,
  run: CommandRunner = runCommand,
): Promise<void> {
  checkPrefix(prefix);
  const state = await readNatState(netns, run);
  await applyNat(netns, planRemoveAll(state, prefix), run);
}

/**
 * Deletes conntrack entries from or to `ip` in the node netns. `conntrack -D` exits 1 when there
 * was nothing to delete, which is success here.
 */
export async function flushConntrack(
  netns: string,
  ip: string,
  run: CommandRunner = runCommand,
): Promise<void> {
  checkIp(ip);
  for (const direction of ["-s", "-d"]) {
    try {
      await run(["ip", "netns", "exec", checkNetnsName(netns), "conntrack", "-D", direction, ip], {
        okExitCodes: [0, 1],
      });
    } catch (e) {
      if (e instanceof CommandError && /0 flow entries/.test(e.stderr)) continue;
      throw e;
    }
  }
}
