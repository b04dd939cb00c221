/**
 * `ambit describe pod|svc <name> -n ns` (also `pod/<name>`): what the mesh makes of one pod or
 * service — identity, node, enrollment and why, waypoints and where their use comes from, every
 * policy that applies with where it is enforced and what it does, the mTLS mode in effect, and
 * the registry's problems about it. `-o json` prints the same document (docs/cli.md).
 */
import type { Command } from "commander";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import { closeMatches } from "../../control/mesh-views.js";
import { AdminClient, adminOptionsOf } from "../admin-client.js";
import { loadMeshView } from "../mesh-client.js";
import { describePodText, describeServiceText } from "../mesh-tables.js";

interface DescribeFlags {
  namespace?: string;
  output?: string;
  home?: string;
  server?: string;
}

const POD = new Set(["pod", "pods", "po", "workload", "workloads", "wl"]);
const SVC = new Set(["svc", "service", "services"]);

/** `pod web-0`, `pod/web-0`, `svc/web` → kind and name. */
export function describeTarget(
  kindArg: string,
  nameArg: string | undefined,
): { kind: "pod" | "svc"; name: string } {
  let kindText = kindArg;
  let name = nameArg;
  const slash = kindArg.indexOf("/");
  if (slash > 0) {
    kindText = kindArg.slice(0, slash);
    name = kindArg.slice(slash + 1);
  }
  const k = kindText.toLowerCase();
  const kind = POD.has(k) ? "pod" : SVC.has(k) ? "svc" : undefined;
  if (kind === undefined) {
    throw new ControlError(
      ControlErrorCode.BAD_REQUEST,
      `ambit describe knows pods and services, not ${JSON.stringify(kindText)}; try \`ambit describe pod <name>\` or \`ambit describe svc <name>\``,
    );
  }
  if (name === undefined || name === "") {
    throw new ControlError(ControlErrorCode.BAD_REQUEST, `name the ${kind} to describe, e.g. ${kind}/<name>`);
  }
  return { kind, name };
}

export function register(program: Command): void {
  program
    .command("describe")
    .description("show a pod's or service's identity, enrollment, waypoint, policies and mTLS mode")
    .argument("<kind>", "pod or svc (or pod/<name>, svc/<name>)")
    .argument("[name]", "the pod or service")
    .option("-n, --namespace <ns>", "namespace (default: default)")
    .option("-o, --output <format>", "json for the document instead of text")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (kindArg: string, nameArg: string | undefined, flags: DescribeFlags) => {
      if (flags.output !== undefined && flags.output !== "json") {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `unknown output format ${JSON.stringify(flags.output)} (json, or none for text)`,
        );
      }
      const { kind, name } = describeTarget(kindArg, nameArg);
      const ns = flags.namespace ?? "default";
      const view = await loadMeshView(await AdminClient.connect(adminOptionsOf(flags)));
      const doc = kind === "pod" ? view.describePod(ns, name) : view.describeService(ns, name);
      if (doc === undefined) {
        const close = closeMatches(name, view.names(kind, ns));
        const what = kind === "pod" ? "pod" : "service";
        throw new ControlError(
          ControlErrorCode.NOT_FOUND,
          `${what} ${JSON.stringify(name)} not found in namespace ${ns}${
            close.length > 0
              ? `; did you mean ${close.join(", ")}?`
              : ` (see \`ambit get ${kind === "pod" ? "workloads" : "svc"} -A\`)`
          }`,
        );
      }
      if (flags.output === "json") {
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        return;
      }
      process.stdout.write(doc.kind === "PodDescription" ? describePodText(doc) : describeServiceText(doc));
    });
}
