/**
 * A process kept running inside a network namespace, kubelet style: started with `ip netns exec`
 * (which execs in place, so the pid is the workload's own), output appended to a log file,
 * restarted after it exits with exponential backoff (reset once it has run for a while).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";

export type ProcessState =
  | { readonly state: "starting" }
  | { readonly state: "running"; readonly pid: number; readonly since: number }
  | { readonly state: "backoff"; readonly until: number; readonly lastExit: string }
  | { readonly state: "stopped" };

export interface SupervisedProcessOptions {
  readonly netns: string;
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  readonly backoffMs: number;
  readonly maxBackoffMs?: number;
  /** Called on every state change (the agent rewrites its status file). */
  readonly onChange?: () => void;
  /** Open a Node IPC channel to the child (fd 3; `ip netns exec` keeps it): hand-over messages. */
  readonly ipc?: boolean;
  /** Called with every child spawned (restarts and hand-over successors too), e.g. to talk over IPC. */
  readonly onSpawn?: (child: ChildProcess) => void;
}

export interface HandOverSteps {
  /** Resolves when the successor is ready to take traffic; rejects to abort (the successor is killed). */
  readonly ready: (successor: ChildProcess) => Promise<void>;
  /** Asks the current process to leave (drain); resolves with what it reported. */
  readonly retire: (current: ChildProcess) => Promise<unknown>;
  /** SIGKILL the old process if it has not exited this long after `retire` resolved. */
  readonly exitGraceMs: number;
}

export interface HandOverResult {
  readonly oldPid: number;
  readonly newPid: number;
  readonly retired: unknown;
}

/** A run of this long counts as healthy: the next crash restarts after the first backoff step again. */
const HEALTHY_RUN_MS = 10_000;

export class SupervisedProcess {
  readonly options: SupervisedProcessOptions;
  #state: ProcessState = { state: "starting" };
  #child: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #restarts = 0;
  #exited: Promise<void> = Promise.resolve();

  constructor(options: SupervisedProcessOptions) {
    this.options = options;
    this.#delay = options.backoffMs;
    this.#start();
  }

  get state(): ProcessState {
    return this.#state;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get pid(): number | undefined {
    return this.#state.state === "running" ? this.#state.pid : undefined;
  }

  #spawn(): ChildProcess {
    const o = this.options;
    const log = openSync(o.logFile, "a");
    try {
      const child = spawn("ip", ["netns", "exec", o.netns, ...o.argv], {
        stdio: o.ipc === true ? ["ignore", log, log, "ipc"] : ["ignore", log, log],
        env: o.env,
      });
      o.onSpawn?.(child);
      return child;
    } finally {
      closeSync(log);
    }
  }

  #start(successor?: ChildProcess): void {
    const o = this.options;
    const child = successor ?? this.#spawn();
    this.#child = child;
    const startedAt = Date.now();
    this.#exited = new Promise<void>((resolve) => {
      const done = (what: string): void => {
        resolve();
        // A process replaced by a hand-over exits as planned: its successor is supervised now.
        if (this.#child !== child) return;
        this.#child = undefined;
        if (this.#state.state === "stopped") return;
        if (Date.now() - startedAt > HEALTHY_RUN_MS) this.#delay = o.backoffMs;
        this.#set({ state: "backoff", until: Date.now() + this.#delay, lastExit: what });
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#restarts += 1;
          this.#start();
        }, this.#delay);
        this.#delay = Math.min(this.#delay * 2, o.maxBackoffMs ?? 30_000);
      };
      if (child.exitCode !== null || child.signalCode !== null) {
        done(child.signalCode ? `signal ${child.signalCode}` : `exit ${child.exitCode}`);
        return;
      }
      child.once("exit", (code, signal) => done(signal ? `signal ${signal}` : `exit ${code}`));
      child.once("error", (e) => done(`spawn failed: ${e.message}`));
    });
    if (child.pid !== undefined) this.#set({ state: "running", pid: child.pid, since: startedAt });
  }

  /**
   * Replaces the running process without a gap: the successor starts beside it (it must be able
   * to share its ports), and only once it is ready is the current one asked to leave. Any
   * failure before that kills the successor and leaves the current process as it was.
   */
  async handOver(steps: HandOverSteps): Promise<HandOverResult> {
    const current = this.#child;
    if (current === undefined || current.pid === undefined || this.#state.state !== "running") {
      throw new Error(`no running process to hand over from (state ${this.#state.state})`);
    }
    const successor = this.#spawn();
    const successorExit = new Promise<void>((resolve) => {
      successor.once("exit", () => resolve());
      successor.once("error", () => resolve());
    });
    try {
      await Promise.race([
        steps.ready(successor),
        successorExit.then(() => {
          throw new Error("the new process exited before it became ready; see its log");
        }),
      ]);
    } catch (e) {
      successor.kill("SIGKILL");
      await successorExit;
      throw e;
    }
    const oldExit = this.#exited;
    const oldPid = current.pid;
    this.#start(successor);
    const retired = await steps.retire(current).catch((e: unknown) => ({ error: (e as Error).message }));
    const kill = setTimeout(() => current.kill("SIGKILL"), steps.exitGraceMs);
    await oldExit;
    clearTimeout(kill);
    return { oldPid, newPid: successor.pid ?? 0, retired };
  }

  /** The running child (for its IPC channel). */
  get child(): ChildProcess | undefined {
    return this.#child;
  }

  #set(s: ProcessState): void {
    this.#state = s;
    this.options.onChange?.();
  }

  /** SIGTERM, SIGKILL after `graceMs`; no restart afterwards. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    this.#set({ state: "stopped" });
    if (child === undefined) return;
    child.kill("SIGTERM");
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(kill);
  }
}
