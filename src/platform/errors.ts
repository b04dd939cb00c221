/**
 * The platform area's error catalogue (Linux: native addon, network namespaces, capture rules).
 * Codes are stable: callers and tests match on `code`, never on message text. docs/platform.md
 * lists them.
 */
import { AmbitError } from "../errors.js";

export const PlatformErrorCode = {
  /** The native addon is not built (`native/build/Release/ambit_native.node` missing or unloadable). */
  ADDON_MISSING: "PLAT_ERR_ADDON_MISSING",
  /** A system call made by the addon failed; `syscall` and `errno` say which and why. */
  SYSCALL: "PLAT_ERR_SYSCALL",
  /** The connection was not redirected by a nat rule, so it has no separate original destination. */
  NOT_REDIRECTED: "PLAT_ERR_NOT_REDIRECTED",
  /** The socket has no file descriptor (not connected yet, already destroyed, or not a TCP socket). */
  NO_FD: "PLAT_ERR_NO_FD",
  /** An external command (`ip`, `iptables-restore`, `conntrack`…) failed; `argv` and `stderr` say which and why. */
  COMMAND: "PLAT_ERR_COMMAND",
  /** An argument is not acceptable (a bad netns or link name, address, CIDR, prefix, port). */
  INVALID: "PLAT_ERR_INVALID",
  /** `inNetns` got a callback that returned a promise: only synchronous work may run inside the switch. */
  NETNS_ASYNC: "PLAT_ERR_NETNS_ASYNC",
} as const;

export type PlatformErrorCode = (typeof PlatformErrorCode)[keyof typeof PlatformErrorCode];

export class PlatformError extends AmbitError {
  constructor(code: PlatformErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "PlatformError";
  }
}

/** A failed system call inside the addon. `errno` is the symbolic name (`ENOENT`, `EPERM`…). */
export class SyscallError extends PlatformError {
  readonly syscall: string;
  readonly errno: string;
  constructor(syscall: string, errno: string, message: string, options?: { cause?: unknown }) {
    super(PlatformErrorCode.SYSCALL, message, options);
    this.syscall = syscall;
    this.errno = errno;
  }
}

/** A failed external command; `exitCode` is null when it was killed (timeout) or could not start. */
export class CommandError extends PlatformError {
  readonly argv: readonly string[];
  readonly stderr: string;
  readonly exitCode: number | null;
  constructor(
    argv: readonly string[],
    exitCode: number | null,
    stderr: string,
    options?: { cause?: unknown },
  ) {
    const detail = stderr.trim() || (exitCode === null ? "did not run to completion" : "no output");
    super(
      PlatformErrorCode.COMMAND,
      `\`${argv.join(" ")}\` failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${detail}`,
      options,
    );
    this.argv = argv;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

export function invalid(message: string): PlatformError {
  return new PlatformError(PlatformErrorCode.INVALID, message);
}
