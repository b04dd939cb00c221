/**
 * `ambit control`: runs the control plane (store, registry, CA, xDS on :15012, admin API) until
 * SIGINT/SIGTERM. Fails at start-up, exit 1, when a port is taken or an option is invalid.
 */
import { type Command, Option } from "commander";
import { ControlPlane } from "../../control/control-plane.js";
import { defaultLogger } from "../../control/log.js";
import { untilStopSignal } from "../process-io.js";

interface ControlFlags {
  home?: string;
  xdsAddress: string;
  adminAddress?: string;
  trustDomain: string;
  certTtl: string;
  caDir?: string;
  testOnlyMinCertTtl?: string;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command("control")
    .description("run the control plane: config store, registry, CA, xDS server (:15012) and admin API")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("--xds-address <host:port>", "xDS + CA gRPC/TLS listener", "0.0.0.0:15012")
    .option("--admin-address <host:port>", "also serve the admin API on this TCP address (loopback advised)")
    .option("--trust-domain <domain>", "SPIFFE trust domain", "cluster.local")
    .option("--cert-ttl <duration>", "workload certificate lifetime (also the maximum), 5m to 90d", "1h")
    .option("--ca-dir <dir>", "plug-in CA in Istio's cacerts layout, imported into <home>/ca on first start")
    .addOption(
      new Option(
        "--test-only-min-cert-ttl <seconds>",
        "lower the 5m floor of --cert-ttl (tests only)",
      ).hideHelp(),
    )
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .action(async (flags: ControlFlags) => {
      const cp = await ControlPlane.start(
        {
          ...(flags.home !== undefined ? { home: flags.home } : {}),
          xdsAddress: flags.xdsAddress,
          ...(flags.adminAddress !== undefined ? { adminAddress: flags.adminAddress } : {}),
          trustDomain: flags.trustDomain,
          certTtl: flags.certTtl,
          ...(flags.caDir !== undefined ? { caDir: flags.caDir } : {}),
          ...(flags.testOnlyMinCertTtl !== undefined
            ? { testOnlyMinCertTtlSeconds: Number(flags.testOnlyMinCertTtl) }
            : {}),
        },
        { log: defaultLogger(flags.logLevel) },
      );
      process.stderr.write(
        `ambit control: xDS on ${cp.config.xdsHost}:${cp.xdsPort}, admin on ${cp.adminSocket}${cp.adminAddress ? ` and ${cp.adminAddress}` : ""}\n`,
      );
      await untilStopSignal();
      await cp.close();
    });
}
