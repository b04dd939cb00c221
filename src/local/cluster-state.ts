/**
 * `$AMBIT_HOME/cluster.json`: what `ambit up` made (names, addresses, pids). `ambit down`,
 * `ambit exec` and the node agent read it; it is written atomically (temp file + rename).
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ClusterState, STATE_FILE } from "./cluster-plan.js";
import { LocalError, LocalErrorCode } from "./errors.js";

export function statePath(home: string): string {
  return join(home, STATE_FILE);
}

export async function readClusterState(home: string): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(home), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const parsed = JSON.parse(text) as ClusterState;
  if (parsed.version !== 1 || typeof parsed.prefix !== "string" || !Array.isArray(parsed.nodes)) {
    throw new LocalError(
      LocalErrorCode.NO_CLUSTER,
      `${statePath(home)} is not a cluster state file of this ambit version; remove it after \`ambit down\``,
    );
  }
  return parsed;
}

export async function requireClusterState(home: string): Promise<ClusterState> {
  const s = await readClusterState(home);
  if (s === undefined) {
    throw new LocalError(
      LocalErrorCode.NO_CLUSTER,
      `no local cluster recorded in ${home} (no ${STATE_FILE}); start one with \`ambit up\` or pass --home / $AMBIT_HOME`,
    );
  }
  return s;
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

export function writeClusterState(state: ClusterState): Promise<void> {
  return writeJsonAtomic(statePath(state.home), state);
}

/** True when `pid` runs and its command line mentions `marker` (a recorded pid may have been reused). */
export async function processAlive(pid: number | null | undefined, marker: string): Promise<boolean> {
  if (pid === null || pid === undefined || pid <= 0) return false;
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** False once `pid` has exited, also when it lingers as a zombie nobody has reaped yet (its parent was `ambit up`). */
export async function pidRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name (which may itself contain spaces or parentheses).
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
