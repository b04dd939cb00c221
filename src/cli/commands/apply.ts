/**
 * `ambit apply -f <file|dir|-> [-n ns]`: sends the manifests to the control plane, which validates
 * all of them before storing any (all-or-nothing). Prints `kind/name created|configured|unchanged`.
 */
import type { Command } from "commander";
import { formatConfigError } from "../../api/config-error.js";
import type { ApplyResult } from "../../control/mesh-state.js";
import {
  AdminClient,
  AdminInvalidConfigError,
  adminOptionsOf,
  objectName,
  readSources,
  repeatable,
} from "../admin-client.js";

interface ApplyFlags {
  filename: string[];
  namespace?: string;
  output?: string;
  home?: string;
  server?: string;
}

export function register(program: Command): void {
  program
    .command("apply")
    .description("create or update resources from manifests (all-or-nothing)")
    .requiredOption("-f, --filename <path>", "file, directory or - for stdin; repeatable", repeatable)
    .option("-n, --namespace <ns>", "namespace for objects that name none (default: default)")
    .option("-o, --output <format>", "json prints the results as JSON")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (flags: ApplyFlags) => {
      const sources = await readSources(flags.filename);
      const client = await AdminClient.connect(adminOptionsOf(flags));
      try {
        const { results } = await client.post<{ results: ApplyResult[] }>("/v1/apply", {
          sources,
          ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
        });
        if (flags.output === "json") process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
        else for (const r of results) process.stdout.write(`${objectName(r)} ${r.action}\n`);
      } catch (e) {
        if (!(e instanceof AdminInvalidConfigError)) throw e;
        for (const err of e.errors) process.stderr.write(`${formatConfigError(err)}\n`);
        process.stderr.write(`error: ${e.message} [${e.code}]\n`);
        process.exitCode = 1;
      }
    });
}
