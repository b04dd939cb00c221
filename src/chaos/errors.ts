import { AmbitError } from "../errors.js";

/**
 * The chaos framework's error catalogue (`ambit chaos`). Codes are stable; docs/chaos.md lists
 * each with its fix (a test keeps the two in sync).
 */
export const ChaosErrorCode = {
  /** A scenario file is not valid: the message names the file, line and field. */
  SCENARIO: "CHAOS_ERR_SCENARIO",
  /** No scenario of that name in the built-in or user directories. */
  NOT_FOUND: "CHAOS_ERR_NOT_FOUND",
  /** A step's action failed to run (the message names the step and its action). */
  ACTION: "CHAOS_ERR_ACTION",
  /** The scenario needs something this machine or kernel does not have (e.g. tc netem). */
  UNSUPPORTED: "CHAOS_ERR_UNSUPPORTED",
  /** The cluster is not ready for a run (no cluster, the load's pods missing, no steady state). */
  CLUSTER: "CHAOS_ERR_CLUSTER",
  /** SIGINT or SIGTERM during a run: the load stopped and every fault the steps left was undone. */
  INTERRUPTED: "CHAOS_ERR_INTERRUPTED",
} as const;
export type ChaosErrorCode = (typeof ChaosErrorCode)[keyof typeof ChaosErrorCode];

export class ChaosError extends AmbitError {
  constructor(code: ChaosErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ChaosError";
  }
}
