/**
 * `ambit up` / `down` / `exec` options → validated, frozen config. The one place the local-cluster
 * code reads the environment (`$AMBIT_HOME`, `$PATH`).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalError, LocalErrorCode } from "./errors.js";

export interface UpOptions {
  /** Cluster name; also the prefix of every netns, link, chain and file (2-16 of a-z 0-9, a letter first). */
  name?: string;
  nodes?: number;
  home?: string;
  /** Manifests to apply once the cluster runs (files, directories). */
  files?: readonly string[];
  /** Node (re)start backoff of pod processes, first step (tests shorten it). */
  restartBackoffMs?: number;
  /** "inpod" (default) or "node"; see CaptureMode. */
  capture?: string;
}

/**
 * Where pods' traffic is captured: "inpod" (the default: rules inside each pod's netns send it to
 * ztunnel sockets opened in that netns; Istio's in-pod redirection) or "node" (rules in the node's
 * netns send it to the ztunnel's listeners there; Istio's first ambient design). docs/ztunnel.md.
 */
export const CAPTURE_MODES = ["node", "inpod"] as const;
export type CaptureMode = (typeof CAPTURE_MODES)[number];

export interface ClusterConfig {
  readonly name: string;
  readonly prefix: string;
  readonly nodes: number;
  readonly home: string;
  readonly files: readonly string[];
  /** The repository (for `dist/src/cli/main.js` and `bin/`). */
  readonly repoRoot: string;
  readonly restartBackoffMs: number;
  readonly capture: CaptureMode;
}

export const DEFAULT_CLUSTER_NAME = "ambit";
const NAME = /^[a-z][a-z0-9]{1,15}$/;

/** The repository root, found from this compiled file (dist/src/local/… → three levels up). */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/** `$AMBIT_HOME`, else `./.ambit` (DESIGN §5), as the control plane resolves it. */
export function resolveLocalHome(flag?: string): string {
  return resolve(flag ?? process.env["AMBIT_HOME"] ?? ".ambit");
}

/** The PATH pod processes inherit. */
export function inheritedPath(): string {
  return process.env["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

export function checkClusterName(name: string): string {
  if (!NAME.test(name)) {
    throw new LocalError(
      LocalErrorCode.BAD_OPTIONS,
      `cluster name ${JSON.stringify(name)} must be 2-16 of a-z 0-9 starting with a letter (it prefixes every netns, link and chain), e.g. --name demo1`,
    );
  }
  return name;
}

export function clusterConfig(o: UpOptions): ClusterConfig {
  const name = checkClusterName(o.name ?? DEFAULT_CLUSTER_NAME);
  const nodes = o.nodes ?? 2;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) {
    throw new LocalError(LocalErrorCode.BAD_OPTIONS, `--nodes ${nodes} must be a whole number 1-20`);
  }
  const backoff = o.restartBackoffMs ?? 500;
  if (!(backoff > 0))
    throw new LocalError(LocalErrorCode.BAD_OPTIONS, `restart backoff ${backoff} must be > 0 ms`);
  const capture = o.capture ?? "inpod";
  if (!(CAPTURE_MODES as readonly string[]).includes(capture)) {
    throw new LocalError(
      LocalErrorCode.BAD_OPTIONS,
      `--capture ${JSON.stringify(capture)} is not a capture mode; use ${CAPTURE_MODES.join(" or ")}`,
    );
  }
  return Object.freeze({
    capture: capture as CaptureMode,
    name,
    prefix: name,
    nodes,
    home: resolveLocalHome(o.home),
    files: Object.freeze((o.files ?? []).map((f) => resolve(f))),
    repoRoot: repoRoot(),
    restartBackoffMs: backoff,
  });
}

export function cliEntry(root: string): string {
  return join(root, "dist", "src", "cli", "main.js");
}

/** How the user invoked ambit (`bin/ambit` sets AMBIT_INVOKED_AS), so printed hints can be pasted as they are. */
export function invokedAs(): string {
  return process.env["AMBIT_INVOKED_AS"] ?? "ambit";
}

/** The caller's environment, for `ambit exec` (kubectl exec keeps the user's terminal settings). */
export function inheritedEnv(): NodeJS.ProcessEnv {
  return { ...process.env };
}

/** `ambit demo-app mariadb` settings from the pod's environment (set by the node agent). */
export function demoDbEnv(): { password: string; dataRoot: string; podKey: string } {
  const env = process.env;
  const pod = env["POD_NAME"] ?? "local";
  const ns = env["POD_NAMESPACE"] ?? "default";
  return {
    // Demo only: documented in docs/local-cluster.md; set DEMO_DB_PASSWORD for anything else.
    password: env["DEMO_DB_PASSWORD"] ?? "payment-demo",
    dataRoot: env["AMBIT_HOME"] !== undefined ? join(env["AMBIT_HOME"], "mariadb") : "/tmp/ambit-mariadb",
    podKey: `${ns}.${pod}`,
  };
}
