/**
 * `ambit health [-o json]`: the mesh health score and each indicator's value, threshold, state and
 * recommended action (docs/health.md). The exit code is the worst state: 0 ok, 1 notice,
 * 2 warning, 3 critical — so scripts and CI can gate on it.
 */
import type { Command } from "commander";
import type { HealthReport } from "../../telemetry/health/model.js";
import { exitCodeOf, worstState } from "../../telemetry/health/model.js";
import { AdminClient, adminOptionsOf, table } from "../admin-client.js";

interface HealthFlags {
  output?: string;
  home?: string;
  server?: string;
}

const UNITS: Record<string, string> = {
  certificate_expiry: "h",
  pool_hit_rate: "%",
  hbone_error_rate: "%",
  zone_imbalance: "%",
  config_freshness: " nodes",
};

export function register(program: Command): void {
  program
    .command("health")
    .description(
      "mesh health score (0-100) and its indicators; exit code 0 ok, 1 notice, 2 warning, 3 critical",
    )
    .option("-o, --output <format>", "json prints {score, indicators}")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket")
    .action(async (flags: HealthFlags) => {
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const report = await client.get<HealthReport>("/v1/health");
      if (flags.output === "json") {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        const rows = report.indicators.map((i) => [
          i.name,
          i.weight.toFixed(2),
          i.value === null ? "-" : `${i.value}${UNITS[i.name] ?? ""}`,
          `${i.threshold}${UNITS[i.name] ?? ""}`,
          i.state,
          i.action,
        ]);
        process.stdout.write(
          `mesh health score ${report.score}/100\n\n${table(["INDICATOR", "WEIGHT", "VALUE", "THRESHOLD", "STATE", "ACTION"], rows)}`,
        );
      }
      process.exitCode = exitCodeOf(worstState(report));
    });
}
