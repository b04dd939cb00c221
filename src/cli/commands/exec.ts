/**
 * `ambit exec -n <ns> <pod> -- <cmd…>` / `ambit exec --node <node> -- <cmd…>`: runs a command in
 * a pod's or a node's network namespace (kubectl exec habits; exit code propagated).
 */
import type { Command } from "commander";
import { resolveLocalHome } from "../../local/cluster-config.js";
import { execInNetns, resolveExecNetns } from "../../local/cluster-exec.js";
import { LocalError, LocalErrorCode } from "../../local/errors.js";

export function register(program: Command): void {
  program
    .command("exec")
    .description("run a command inside a pod's (or --node's) network namespace of the local cluster")
    .argument("[pod]", "pod name (with -n)")
    .argument("[command...]", "the command, after --")
    .option("-n, --namespace <ns>", "the pod's namespace", "default")
    .option("--node <node>", "run in a node's network namespace instead of a pod's")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .passThroughOptions()
    .action(
      async (
        pod: string | undefined,
        command: string[],
        flags: { namespace: string; node?: string; home?: string },
      ) => {
        const home = resolveLocalHome(flags.home);
        // With passThroughOptions commander keeps the `--` separator among the arguments.
        let argv = flags.node !== undefined && pod !== undefined ? [pod, ...command] : command;
        if (argv[0] === "--") argv = argv.slice(1);
        if (flags.node === undefined && pod === undefined) {
          throw new LocalError(
            LocalErrorCode.BAD_OPTIONS,
            "name a pod (ambit exec -n <ns> <pod> -- <cmd>) or a node (--node <node>)",
          );
        }
        const netns = await resolveExecNetns(
          home,
          flags.node !== undefined
            ? { node: flags.node }
            : { namespace: flags.namespace, pod: pod as string },
        );
        process.exitCode = await execInNetns(home, netns, argv);
      },
    );
}
