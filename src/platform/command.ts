/**
 * Runs the Linux tools the platform layer drives (`ip`, `iptables-restore`, `conntrack`). Every
 * failure is a CommandError naming the whole command line and its stderr.
 */
import { spawn } from "node:child_process";
import { CommandError } from "./errors.js";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface CommandOptions {
  /** Written to stdin (then closed). */
  readonly input?: string;
  /** Killed (SIGKILL) after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** Exit codes that count as success; default [0]. */
  readonly okExitCodes?: readonly number[];
}

/** The injectable edge: capture and netns code run commands only through one of these. */
export type CommandRunner = (argv: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

export const runCommand: CommandRunner = (argv, options = {}) => {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new CommandError(argv, null, "empty command"));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {
      // The command may exit before reading its input; its exit status tells the story.
    });
    child.on("error", (cause) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, cause.message, { cause }));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== null && (options.okExitCodes ?? [0]).includes(code)) {
        resolve({ stdout, stderr, exitCode: code });
      } else {
        reject(new CommandError(argv, code, stderr || stdout));
      }
    });
    child.stdin.end(options.input ?? "");
  });
};
