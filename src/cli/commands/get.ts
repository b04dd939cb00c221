/**
 * `ambit get <kind> [name] [-n ns | -A] [-o yaml|json|wide]` with kubectl's habits: kinds are
 * case-insensitive with plurals and short names; `pods` and `workloads` show the registry (pods
 * made by Deployments included, with node and IP); `svc` shows allocated cluster IPs. The mesh
 * views `workloads`, `policies` and `waypoints` (and `svc -o wide`) come from src/control/mesh-views.ts.
 */
import type { Command } from "commander";
import { stringify } from "yaml";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import { type KindInfo, lookupKind } from "../../control/kinds.js";
import type { MeshView, PolicyView, WaypointView, WorkloadView } from "../../control/mesh-views.js";
import type { ServiceInfo, WorkloadInfo } from "../../control/registry.js";
import type { StoredResource } from "../../control/store.js";
import { AdminClient, adminOptionsOf, table } from "../admin-client.js";
import { loadMeshView } from "../mesh-client.js";
import {
  policiesTable,
  servicesTable,
  viewList,
  waypointsTable,
  withNs,
  workloadsTable,
} from "../mesh-tables.js";

interface GetFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  home?: string;
  server?: string;
}

/** Views that exist only in the mesh's eyes (no stored kind of that name). */
const VIEW_KINDS: Record<string, ViewKind> = {
  workloads: "WorkloadList",
  workload: "WorkloadList",
  wl: "WorkloadList",
  policies: "PolicyList",
  policy: "PolicyList",
  pol: "PolicyList",
  waypoints: "WaypointList",
  waypoint: "WaypointList",
  wp: "WaypointList",
};

export function register(program: Command): void {
  program
    .command("get")
    .description(
      "list resources: ns, no, svc, deploy, po, sa, ap, pa, vs, dr, gw, httproute, se, we, and the mesh views workloads, policies, waypoints",
    )
    .argument("<kind>", "resource type (case-insensitive; plural and short names work)")
    .argument("[name]", "one object")
    .option("-n, --namespace <ns>", "namespace (default: default)")
    .option("-A, --all-namespaces", "list across all namespaces")
    .option("-o, --output <format>", "yaml, json or wide")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (kindArg: string, name: string | undefined, flags: GetFlags) => {
      const format = flags.output ?? "table";
      if (!["table", "wide", "json", "yaml"].includes(format)) {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `unknown output format ${JSON.stringify(format)} (yaml, json or wide)`,
        );
      }
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const ns = flags.allNamespaces ? undefined : (flags.namespace ?? "default");
      const nsQuery = ns === undefined ? "" : `?namespace=${encodeURIComponent(ns)}`;
      const viewKind = VIEW_KINDS[kindArg.toLowerCase()];
      if (viewKind !== undefined) {
        const rows = viewRows(await loadMeshView(client), viewKind, ns, name);
        const items: readonly unknown[] = rows.items;
        if (name !== undefined && items.length === 0) return notFound(kindArg.toLowerCase(), name);
        if (items.length === 0 && (format === "table" || format === "wide")) {
          process.stderr.write(`No resources found${ns !== undefined ? ` in ${ns} namespace` : ""}.\n`);
          return;
        }
        if (format === "json" || format === "yaml") {
          const doc = name !== undefined && items.length === 1 ? items[0] : viewList(viewKind, items);
          process.stdout.write(
            format === "json" ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc, { lineWidth: 0 }),
          );
          return;
        }
        process.stdout.write(viewTable(rows, ns === undefined, format === "wide"));
        return;
      }
      const info = lookupKind(kindArg);
      if (!info) {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `the server doesn't have a resource type "${kindArg}"`,
        );
      }

      if (info.kind === "Pod") {
        let items = (await client.get<{ items: WorkloadInfo[] }>(`/v1/registry/workloads${nsQuery}`)).items;
        items = items.filter((w) => w.kind === "Pod");
        if (name !== undefined) items = items.filter((w) => w.name === name);
        if (name !== undefined && items.length === 0) return notFound("pods", name);
        return print(items, format, flags, name !== undefined, () =>
          podTable(items, ns === undefined, format === "wide"),
        );
      }
      const kind: KindInfo = info;
      const q = kind.namespaced ? nsQuery : "";
      if (name !== undefined) {
        try {
          const r = await client.get<StoredResource>(
            `/v1/resources/${kind.kind}/${encodeURIComponent(name)}${q}`,
          );
          return print([r], format, flags, true, () =>
            resourceTable(kind, [r], [], false, format === "wide"),
          );
        } catch (e) {
          if (e instanceof ControlError && e.code === ControlErrorCode.NOT_FOUND)
            return notFound(kind.plural, name);
          throw e;
        }
      }
      const listQuery = kind.namespaced && ns === undefined ? "?allNamespaces=true" : q;
      const { items } = await client.get<{ items: StoredResource[] }>(
        `/v1/resources/${kind.kind}${listQuery}`,
      );
      const services =
        kind.kind === "Service"
          ? (await client.get<{ items: ServiceInfo[] }>(`/v1/registry/services${nsQuery}`)).items
          : [];
      if (items.length === 0 && format === "table") {
        process.stderr.write(
          `No resources found${ns !== undefined && kind.namespaced ? ` in ${ns} namespace` : ""}.\n`,
        );
        return;
      }
      if (kind.kind === "Service" && format !== "table") {
        // The mesh's view of each Service: VIP, ports with their protocol, endpoints, waypoint.
        const view = (await loadMeshView(client)).services(ns);
        if (format === "wide") {
          const stored = new Set(items.map((r) => `${r.metadata.namespace}/${r.metadata.name}`));
          const rows = view.filter((v) => v.kind === "Service" && stored.has(`${v.namespace}/${v.name}`));
          process.stdout.write(servicesTable(rows, ns === undefined, true));
          return;
        }
        const withStatus = items.map((r) => ({
          ...r,
          status: {
            mesh:
              view.find(
                (v) =>
                  v.kind === "Service" && v.namespace === r.metadata.namespace && v.name === r.metadata.name,
              ) ?? null,
          },
        }));
        return print(withStatus, format, flags, false, () => "");
      }
      return print(items, format, flags, false, () =>
        resourceTable(kind, items, services, kind.namespaced && ns === undefined, format === "wide"),
      );
    });
}

type ViewKind = "WorkloadList" | "PolicyList" | "WaypointList";

type ViewRows =
  | { readonly kind: "WorkloadList"; readonly items: WorkloadView[] }
  | { readonly kind: "PolicyList"; readonly items: PolicyView[] }
  | { readonly kind: "WaypointList"; readonly items: WaypointView[] };

function viewRows(
  view: MeshView,
  kind: ViewKind,
  ns: string | undefined,
  name: string | undefined,
): ViewRows {
  const named = <T extends { name: string }>(xs: T[]): T[] =>
    name === undefined ? xs : xs.filter((x) => x.name === name);
  switch (kind) {
    case "WorkloadList":
      return { kind, items: named(view.workloads(ns)) };
    case "PolicyList":
      return { kind, items: named(view.policies(ns)) };
    case "WaypointList":
      return { kind, items: named(view.waypoints(ns)) };
  }
}

function viewTable(rows: ViewRows, allNs: boolean, wide: boolean): string {
  switch (rows.kind) {
    case "WorkloadList":
      return workloadsTable(rows.items, allNs, wide);
    case "PolicyList":
      return policiesTable(rows.items, allNs, wide);
    case "WaypointList":
      return waypointsTable(rows.items, allNs, wide);
  }
}

function notFound(plural: string, name: string): void {
  process.stderr.write(`Error from server (NotFound): ${plural} "${name}" not found\n`);
  process.exitCode = 1;
}

function print(
  items: readonly unknown[],
  format: string,
  _flags: GetFlags,
  single: boolean,
  tableOf: () => string,
): void {
  if (format === "json") {
    const body = single ? items[0] : { apiVersion: "v1", kind: "List", items };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else if (format === "yaml") {
    process.stdout.write(
      stringify(single ? items[0] : { apiVersion: "v1", kind: "List", items }, { lineWidth: 0 }),
    );
  } else {
    process.stdout.write(tableOf());
  }
}

function podTable(items: readonly WorkloadInfo[], allNs: boolean, wide: boolean): string {
  const header = withNs(allNs, "NAMESPACE", ["NAME", "STATUS", "IP", "NODE", "DATAPLANE"]);
  if (wide) header.push("SERVICE-ACCOUNT", "WAYPOINT", "COMMAND");
  return table(
    header,
    items.map((w) => {
      const row = withNs(allNs, w.namespace, [
        w.name,
        w.phase,
        w.ip ?? "<none>",
        w.node ?? "<none>",
        w.enrollment,
      ]);
      if (wide) {
        row.push(
          w.serviceAccount,
          w.waypoint ? w.waypoint.name : "<none>",
          w.runtime ? [...w.runtime.command, ...w.runtime.args].join(" ") || w.runtime.kind : "<none>",
        );
      }
      return row;
    }),
  );
}

function resourceTable(
  kind: KindInfo,
  items: readonly StoredResource[],
  services: readonly ServiceInfo[],
  allNs: boolean,
  wide: boolean,
): string {
  const labels = (r: StoredResource): Record<string, string> => r.metadata.labels ?? {};
  const spec = (r: StoredResource): Record<string, unknown> => (r.spec ?? {}) as Record<string, unknown>;
  switch (kind.kind) {
    case "Namespace":
      return table(
        ["NAME", "DATAPLANE-MODE", "WAYPOINT"],
        items.map((r) => [
          r.metadata.name,
          labels(r)["istio.io/dataplane-mode"] ?? "<none>",
          labels(r)["istio.io/use-waypoint"] ?? "<none>",
        ]),
      );
    case "Node":
      return table(
        ["NAME", "POD-CIDR", "ZONE"],
        items.map((r) => [
          r.metadata.name,
          String(spec(r)["podCIDR"] ?? "<auto>"),
          labels(r)["topology.kubernetes.io/zone"] ?? "<none>",
        ]),
      );
    case "Service": {
      const header = withNs(allNs, "NAMESPACE", ["NAME", "CLUSTER-IP", "PORT(S)", "ENDPOINTS", "WAYPOINT"]);
      return table(
        header,
        items.map((r) => {
          const s = services.find(
            (x) => x.kind === "Service" && x.name === r.metadata.name && x.namespace === r.metadata.namespace,
          );
          return withNs(allNs, r.metadata.namespace, [
            r.metadata.name,
            s?.vip ?? "None",
            s ? s.ports.map((p) => `${p.port}/${p.protocol}`).join(",") || "<none>" : "<none>",
            String(s?.endpoints.length ?? 0),
            s?.waypoint?.name ?? "<none>",
          ]);
        }),
      );
    }
    case "Deployment":
      return table(
        withNs(allNs, "NAMESPACE", ["NAME", "REPLICAS"]),
        items.map((r) =>
          withNs(allNs, r.metadata.namespace, [r.metadata.name, String(spec(r)["replicas"] ?? 1)]),
        ),
      );
    case "AuthorizationPolicy":
      return table(
        withNs(allNs, "NAMESPACE", ["NAME", "ACTION", "SELECTOR"]),
        items.map((r) => {
          const sel = (spec(r)["selector"] as { matchLabels?: Record<string, string> } | undefined)
            ?.matchLabels;
          return withNs(allNs, r.metadata.namespace, [
            r.metadata.name,
            String(spec(r)["action"] ?? "ALLOW"),
            sel
              ? Object.entries(sel)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(",")
              : "<namespace>",
          ]);
        }),
      );
    default:
      return table(
        withNs(allNs, "NAMESPACE", wide ? ["NAME", "LABELS"] : ["NAME"]),
        items.map((r) => {
          const row = withNs(allNs && kind.namespaced, r.metadata.namespace, [r.metadata.name]);
          if (wide)
            row.push(
              Object.entries(labels(r))
                .map(([k, v]) => `${k}=${v}`)
                .join(",") || "<none>",
            );
          return row;
        }),
      );
  }
}
