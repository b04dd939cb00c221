/**
 * `ambit status [-o json]`: the control plane, its CA and store, and every connected data-plane
 * client with the last version it ACKed per type and any NACK with the data plane's message.
 */
import type { Command } from "commander";
import { AdminClient, adminOptionsOf, table } from "../admin-client.js";

interface StatusFlags {
  output?: string;
  home?: string;
  server?: string;
}

interface TypeStatusView {
  typeUrl: string;
  resources: number;
  lastSent?: { version: string };
  lastAcked?: { version: string };
  nack?: { version: string; message: string };
}

interface StatusView {
  controlPlane: {
    xdsAddress: string;
    adminSocket: string;
    trustDomain: string;
    registryVersion: number;
    startedAt: string;
  };
  ca: { rootNotAfter: string; certTtlSeconds: number; issued: number; denied: number };
  store: { kind: string; location: string; resources: number; invalidFiles: string[] };
  registry: {
    nodes: number;
    workloads: number;
    services: number;
    problems: { object: string; message: string }[];
  };
  xds: { clients: { caller: { id: string }; node: string | null; peer: string; types: TypeStatusView[] }[] };
  trustBundle?: { roots: number; behind: string[] };
  /** src/control/waypoint-status.ts */
  waypoints?: {
    namespace: string;
    name: string;
    for: string | null;
    address: string | null;
    state: string;
    reason: string;
    bound: { object: string }[];
  }[];
}

export function register(program: Command): void {
  program
    .command("status")
    .description(
      "control plane health: CA, store, registry, connected ztunnels/waypoints with ACK/NACK state",
    )
    .option("-o, --output <format>", "json prints the raw status document")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (flags: StatusFlags) => {
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const s = await client.get<StatusView>("/v1/status");
      if (flags.output === "json") {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const out: string[] = [
        `control plane   xDS ${s.controlPlane.xdsAddress}, admin ${s.controlPlane.adminSocket}, trust domain ${s.controlPlane.trustDomain}, up since ${s.controlPlane.startedAt}`,
        `CA              root valid until ${s.ca.rootNotAfter}, cert TTL ${s.ca.certTtlSeconds}s, ${s.ca.issued} issued, ${s.ca.denied} refused`,
        `store           ${s.store.kind} ${s.store.location}, ${s.store.resources} resources${s.store.invalidFiles.length > 0 ? `, INVALID (ignored): ${s.store.invalidFiles.join(", ")}` : ""}`,
        `registry        v${s.controlPlane.registryVersion}: ${s.registry.nodes} nodes, ${s.registry.workloads} workloads, ${s.registry.services} services`,
      ];
      for (const p of s.registry.problems) out.push(`  problem: ${p.object}: ${p.message}`);
      if (s.trustBundle !== undefined) {
        out.push(
          `trust bundle    ${s.trustBundle.roots} root(s); ${s.trustBundle.behind.length === 0 ? "every node holds the current bundle" : `on an OLD bundle: ${s.trustBundle.behind.join(", ")}`}`,
        );
      }
      for (const w of s.waypoints ?? []) {
        const detail = w.state === "ready" ? `for ${w.for}, ${w.address}` : w.reason;
        const bound = w.bound.map((b) => b.object).join(", ") || "nothing bound";
        out.push(`waypoint        ${w.namespace}/${w.name} ${w.state} (${detail}): ${bound}`);
      }
      out.push("");
      process.stdout.write(`${out.join("\n")}\n`);
      if (s.xds.clients.length === 0) {
        process.stdout.write("no data-plane clients connected\n");
        return;
      }
      const rows: string[][] = [];
      for (const c of s.xds.clients) {
        for (const t of c.types) {
          rows.push([
            c.caller.id,
            c.node ?? "",
            c.peer,
            t.typeUrl.replace("type.googleapis.com/", ""),
            String(t.resources),
            t.lastSent?.version ?? "-",
            t.lastAcked?.version ?? "-",
            t.nack
              ? `NACK ${t.nack.version}: ${t.nack.message}`
              : t.lastSent && t.lastSent.version !== t.lastAcked?.version
                ? "PENDING"
                : "SYNCED",
          ]);
        }
      }
      process.stdout.write(
        table(["CLIENT", "NODE-ID", "PEER", "TYPE", "RESOURCES", "SENT", "ACKED", "STATE"], rows),
      );
    });
}
