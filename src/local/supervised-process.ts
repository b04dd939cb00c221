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

  #start(): void {
    const o = this.options;
    const log = openSync(o.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn("ip", ["netns", "exec", o.netns, ...o.argv], { stdio: ["ignore", log, log], env: o.env });
    } finally {
      closeSync(log);
    }
    this.#child = child;
    const startedAt = Date.now();
    this.#exited = new Promise<void>((resolve) => {
      const done = (what: string): void => {
        this.#child = undefined;
        resolve();
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
      child.once("exit", (code, signal) => done(signal ? `signal ${signal}` : `exit ${code}`));
      child.once("error", (e) => done(`spawn failed: ${e.message}`));
    });
    if (child.pid !== undefined) this.#set({ state: "running", pid: child.pid, since: startedAt });
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
