import { AmbitError } from "../errors.js";

/**
 * The local cluster's error catalogue (`ambit up` / `down` / `exec`, the node agent). Codes are
 * stable; docs/local-cluster.md lists each with its fix.
 */
export const LocalErrorCode = {
  /** An option of `ambit up`/`down`/`exec` is invalid (cluster name, node count, pod name). */
  BAD_OPTIONS: "LOCAL_ERR_BAD_OPTIONS",
  /** `ambit up` found a cluster of that name or data directory already there. */
  EXISTS: "LOCAL_ERR_EXISTS",
  /** No cluster is recorded in the data directory (`cluster.json`). */
  NO_CLUSTER: "LOCAL_ERR_NO_CLUSTER",
  /** The machine cannot run a local cluster (not root, not Linux, missing tools). */
  PLATFORM: "LOCAL_ERR_PLATFORM",
  /** A daemon (control plane, ztunnel, node agent) did not start or become ready in time. */
  START: "LOCAL_ERR_START",
  /** `ambit exec` names a pod or node the cluster does not have. */
  NOT_FOUND: "LOCAL_ERR_NOT_FOUND",
  /** A ztunnel hand-over failed (the successor did not become ready; the old ztunnel keeps serving). */
  HANDOVER: "LOCAL_ERR_HANDOVER",
  /** The node agent's control socket is not there or did not answer (is the cluster up?). */
  AGENT: "LOCAL_ERR_AGENT",
  /** `ambit up` got SIGINT/SIGTERM: it stopped at the next step and removed what it had created. */
  INTERRUPTED: "LOCAL_ERR_INTERRUPTED",
} as const;
export type LocalErrorCode = (typeof LocalErrorCode)[keyof typeof LocalErrorCode];

export class LocalError extends AmbitError {
  constructor(code: LocalErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "LocalError";
  }
}
