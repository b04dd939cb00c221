/** `ambit down`: removes a local cluster and everything it made (also after a crash). */
import type { Command } from "commander";
import { clusterDown } from "../../local/cluster-down.js";

export function register(program: Command): void {
  program
    .command("down")
    .description("remove the local cluster: processes, network namespaces, rules, /etc/netns files")
    .option("--name <name>", "remove a cluster's namespaces by name even when its state file is gone")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .action(async (flags: { name?: string; home?: string }) => {
      const r = await clusterDown(
        {
          ...(flags.home !== undefined ? { home: flags.home } : {}),
          ...(flags.name !== undefined ? { name: flags.name } : {}),
        },
        (line) => process.stdout.write(`${line}\n`),
      );
      process.stdout.write(`cluster "${r.prefix}" removed\n`);
    });
}
