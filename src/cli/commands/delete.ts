/**
 * `ambit delete -f <file|dir|->` or `ambit delete <kind> <name>... [-n ns]`. Exit 1 when something
 * named was not found (as kubectl), after deleting the rest.
 */
import type { Command } from "commander";
import { formatConfigError } from "../../api/config-error.js";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import { lookupKind } from "../../control/kinds.js";
import type { DeleteResult } from "../../control/mesh-state.js";
import {
  AdminClient,
  AdminInvalidConfigError,
  adminOptionsOf,
  readSources,
  repeatable,
} from "../admin-client.js";

interface DeleteFlags {
  filename?: string[];
  namespace?: string;
  home?: string;
  server?: string;
}

export function register(program: Command): void {
  program
    .command("delete")
    .description("delete resources named by manifests or by kind and name")
    .argument("[kind]", "resource type (svc, deploy, ap, …)")
    .argument("[names...]", "object names")
    .option("-f, --filename <path>", "file, directory or - for stdin; repeatable", repeatable)
    .option("-n, --namespace <ns>", "namespace (default: default)")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (kind: string | undefined, names: string[], flags: DeleteFlags) => {
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const results: DeleteResult[] = [];
      if (flags.filename) {
        try {
          const sources = await readSources(flags.filename);
          results.push(
            ...(
              await client.post<{ results: DeleteResult[] }>("/v1/delete", {
                sources,
                ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
              })
            ).results,
          );
        } catch (e) {
          if (!(e instanceof AdminInvalidConfigError)) throw e;
          for (const err of e.errors) process.stderr.write(`${formatConfigError(err)}\n`);
          process.stderr.write(`error: ${e.message} [${e.code}]\n`);
          process.exitCode = 1;
          return;
        }
      } else {
        if (!kind || names.length === 0) {
          throw new ControlError(
            ControlErrorCode.BAD_REQUEST,
            "name what to delete: -f <file> or <kind> <name>",
          );
        }
        const info = lookupKind(kind);
        if (!info)
          throw new ControlError(
            ControlErrorCode.BAD_REQUEST,
            `the server doesn't have a resource type "${kind}"`,
          );
        for (const name of names) {
          const q = info.namespaced ? `?namespace=${encodeURIComponent(flags.namespace ?? "default")}` : "";
          const r = await client.delete<{ results: DeleteResult[] }>(
            `/v1/resources/${info.kind}/${encodeURIComponent(name)}${q}`,
          );
          results.push(...r.results);
        }
      }
      for (const r of results) {
        if (r.action === "deleted") process.stdout.write(`${r.kind.toLowerCase()} "${r.name}" deleted\n`);
        else {
          process.stderr.write(
            `Error from server (NotFound): ${r.kind.toLowerCase()} "${r.name}" not found\n`,
          );
          process.exitCode = 1;
        }
      }
    });
}
