/**
 * `ambit ztunnel-config workloads|certificates|policies|connections --node <n> [-o json|wide]`, as
 * `istioctl ztunnel-config` does: what one node's ztunnel holds right now, read from its admin
 * endpoint (src/cli/ztunnel-admin.ts explains how it is reached).
 */
import type { Command } from "commander";
import { resolveHome } from "../../control/config.js";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import type { LiveConnectionView } from "../../ztunnel/connections.js";
import {
  type ZtunnelCertificateRow,
  type ZtunnelPolicyRow,
  type ZtunnelWorkloadRow,
  ztCertificatesTable,
  ztConnectionsTable,
  ztPoliciesTable,
  ztWorkloadsTable,
} from "../mesh-tables.js";
import { parseAdminAddress, type ZtunnelAdminTarget, ztunnelAdminGet } from "../ztunnel-admin.js";

interface ZtunnelConfigFlags {
  node?: string;
  admin?: string;
  namespace?: string;
  output?: string;
  home?: string;
}

const VIEWS = {
  workloads: { path: "/workloads", field: "workloads" },
  certificates: { path: "/certificates", field: "certificates" },
  policies: { path: "/policies", field: "policies" },
  connections: { path: "/connections", field: "connections" },
} as const;

type ViewName = keyof typeof VIEWS;

const ALIASES: Record<string, ViewName> = {
  workloads: "workloads",
  workload: "workloads",
  wl: "workloads",
  certificates: "certificates",
  certificate: "certificates",
  certs: "certificates",
  secret: "certificates",
  policies: "policies",
  policy: "policies",
  connections: "connections",
  connection: "connections",
  conn: "connections",
};

export function register(program: Command): void {
  program
    .command("ztunnel-config")
    .description("show one node's ztunnel state: workloads, certificates, policies, connections")
    .argument("<view>", "workloads, certificates, policies or connections")
    .option("--node <name>", "the node whose ztunnel to ask (local cluster: reached inside its netns)")
    .option("--admin <host:port>", "a ztunnel admin address reachable from here, instead of --node")
    .option("-n, --namespace <ns>", "only rows of this namespace (workloads, policies, connections)")
    .option("-o, --output <format>", "json or wide")
    .option("--home <dir>", "data directory of the local cluster (default $AMBIT_HOME or ./.ambit)")
    .action(async (viewArg: string, flags: ZtunnelConfigFlags) => {
      const view = ALIASES[viewArg.toLowerCase()];
      if (view === undefined) {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `unknown view ${JSON.stringify(viewArg)}; use workloads, certificates, policies or connections`,
        );
      }
      const format = flags.output ?? "table";
      if (!["table", "wide", "json"].includes(format)) {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `unknown output format ${JSON.stringify(format)} (json or wide)`,
        );
      }
      let target: ZtunnelAdminTarget;
      if (flags.admin !== undefined) target = { kind: "address", ...parseAdminAddress(flags.admin) };
      else if (flags.node !== undefined)
        target = { kind: "node", home: resolveHome(flags.home), node: flags.node };
      else
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          "name the node whose ztunnel to ask: --node <name> (see `ambit get nodes`), or --admin host:port",
        );
      const doc = (await ztunnelAdminGet(target, VIEWS[view].path)) as Record<string, unknown>;
      const all = doc[VIEWS[view].field];
      if (!Array.isArray(all)) {
        throw new ControlError(
          ControlErrorCode.ADMIN_ERROR,
          `the ztunnel answered ${VIEWS[view].path} without a ${VIEWS[view].field} list; is it an older ambit?`,
        );
      }
      const rows = filterNamespace(view, all, flags.namespace);
      if (format === "json") {
        process.stdout.write(
          `${JSON.stringify({ node: doc["node"] ?? flags.node ?? null, [VIEWS[view].field]: rows }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(render(view, rows, format === "wide"));
    });
}

function filterNamespace(view: ViewName, rows: unknown[], ns: string | undefined): unknown[] {
  if (ns === undefined) return rows;
  switch (view) {
    case "workloads":
    case "policies":
      return rows.filter((r) => (r as { namespace?: string }).namespace === ns);
    case "connections":
      return rows.filter((r) => {
        const c = r as LiveConnectionView;
        return c.src.namespace === ns || c.dst.namespace === ns;
      });
    case "certificates":
      return rows.filter((r) => (r as { identity?: string }).identity?.includes(`/ns/${ns}/sa/`));
  }
}

function render(view: ViewName, rows: unknown[], wide: boolean): string {
  switch (view) {
    case "workloads":
      return ztWorkloadsTable(rows as ZtunnelWorkloadRow[], wide);
    case "certificates":
      return ztCertificatesTable(rows as ZtunnelCertificateRow[], wide);
    case "policies":
      return ztPoliciesTable(rows as ZtunnelPolicyRow[]);
    case "connections":
      return ztConnectionsTable(rows as LiveConnectionView[], wide);
  }
}
