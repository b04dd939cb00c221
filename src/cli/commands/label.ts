/**
 * `ambit label <kind> <name> key=value… key-… [--overwrite] [-n ns]` with kubectl's rules:
 * changing an existing value needs --overwrite; `key-` removes a label.
 */
import type { Command } from "commander";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import { lookupKind } from "../../control/kinds.js";
import { AdminClient, adminOptionsOf } from "../admin-client.js";

interface LabelFlags {
  overwrite?: boolean;
  namespace?: string;
  home?: string;
  server?: string;
}

export function register(program: Command): void {
  program
    .command("label")
    .description("add, change (--overwrite) or remove (key-) labels, e.g. istio.io/dataplane-mode=ambient")
    .argument("<kind>", "namespace, pod, service, … (short names work)")
    .argument("<name>", "object name")
    .argument("<labels...>", "key=value to set, key- to remove")
    .option("--overwrite", "allow changing the value of an existing label")
    .option("-n, --namespace <ns>", "namespace (default: default)")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (kind: string, name: string, labels: string[], flags: LabelFlags) => {
      const info = lookupKind(kind);
      if (!info)
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `the server doesn't have a resource type "${kind}"`,
        );
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const l of labels) {
        const eq = l.indexOf("=");
        if (eq > 0) set[l.slice(0, eq)] = l.slice(eq + 1);
        else if (l.endsWith("-") && l.length > 1) remove.push(l.slice(0, -1));
        else
          throw new ControlError(
            ControlErrorCode.BAD_REQUEST,
            `${JSON.stringify(l)} is neither key=value nor key-`,
          );
      }
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const r = await client.post<{ changed: boolean }>("/v1/label", {
        kind: info.kind,
        name,
        ...(info.namespaced ? { namespace: flags.namespace ?? "default" } : {}),
        set,
        remove,
        overwrite: flags.overwrite === true,
      });
      process.stdout.write(`${info.kind.toLowerCase()}/${name} ${r.changed ? "labeled" : "not labeled"}\n`);
    });
}
