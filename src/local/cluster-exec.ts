/**
 * `ambit exec`: a command inside a pod's or a node's network namespace, kubectl-exec style
 * (stdin/stdout/stderr passed through, the exit code propagated).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { IpTool } from "../platform/netns.js";
import { inheritedEnv, inheritedPath } from "./cluster-config.js";
import { podNames } from "./cluster-plan.js";
import { requireClusterState } from "./cluster-state.js";
import { LocalError, LocalErrorCode } from "./errors.js";

export type ExecTarget = { readonly node: string } | { readonly namespace: string; readonly pod: string };

export async function resolveExecNetns(home: string, target: ExecTarget): Promise<string> {
  const state = await requireClusterState(home);
  let netns: string;
  if ("node" in target) {
    const node = state.nodes.find((n) => n.name === target.node);
    if (node === undefined) {
      throw new LocalError(
        LocalErrorCode.NOT_FOUND,
        `cluster "${state.name}" has no node ${JSON.stringify(target.node)}; nodes: ${state.nodes.map((n) => n.name).join(", ")}`,
      );
    }
    netns = node.netns;
  } else {
    netns = podNames(state.prefix, target.namespace, target.pod).netns;
  }
  if (!(await new IpTool().listNetns()).includes(netns)) {
    const what = "node" in target ? `node ${target.node}` : `pod ${target.namespace}/${target.pod}`;
    throw new LocalError(
      LocalErrorCode.NOT_FOUND,
      `${what} has no network namespace (${netns}); check \`ambit get workloads\` (is the pod scheduled and running?)`,
    );
  }
  return netns;
}

/** Runs `argv` in `netns` with inherited stdio; resolves with its exit code (128+signal when killed). */
export function execInNetns(home: string, netns: string, argv: readonly string[]): Promise<number> {
  if (argv.length === 0)
    throw new LocalError(
      LocalErrorCode.BAD_OPTIONS,
      "give the command after --, e.g. ambit exec -n ns pod -- curl …",
    );
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, ...argv], {
      stdio: "inherit",
      env: { ...inheritedEnv(), PATH: `${join(home, "bin")}:${inheritedPath()}`, AMBIT_HOME: home },
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15)));
  });
}
