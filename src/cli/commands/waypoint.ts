/**
 * `ambit waypoint`: runs the L7 proxy of one waypoint (a Gateway of class istio-waypoint) until
 * SIGINT/SIGTERM. Listeners are bound before the command reports itself started; a taken port or a
 * bad option exits 1 with a WP_ERR_ code. L7 resources come over xDS (ambit.waypoint.L7Resource),
 * plus `--config` files read once for standalone use (docs/waypoint.md).
 *
 * `ambit waypoint apply|list|delete` manage the Gateways, like `istioctl waypoint …`.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { loadSources } from "../../api/load.js";
import { reclaimAfterBursts } from "../../platform/reclaim-memory.js";
import { readEnv, readOtelEnv } from "../../telemetry/env.js";
import { createLogger } from "../../telemetry/logger.js";
import { createMeshMetrics } from "../../telemetry/metrics.js";
import { otlpAccessLogs } from "../../telemetry/otlp-access-log.js";
import { WaypointError, WaypointErrorCode } from "../../waypoint/errors.js";
import { Waypoint } from "../../waypoint/waypoint.js";
import { AdminClient, adminOptionsOf, table } from "../admin-client.js";
import { untilStopSignal } from "../process-io.js";
import { isWaypointFor, WAYPOINT_FOR, waypointGatewayYaml } from "../waypoint-gateway.js";

interface WaypointFlags {
  name?: string;
  namespace?: string;
  control?: string;
  caRoots?: string;
  tokenFile?: string;
  controlIdentity?: string;
  trustDomain: string;
  bindAddress: string;
  ports?: string;
  config?: string[];
  certTtl: string;
  logLevel?: string;
  otlpEndpoint?: string;
}

const PORT_NAMES = ["hbone", "metrics", "readiness"] as const;

function parsePorts(text: string | undefined): { hbone?: number; metrics?: number; readiness?: number } {
  const out: { hbone?: number; metrics?: number; readiness?: number } = {};
  for (const part of (text ?? "").split(",").filter((p) => p.trim() !== "")) {
    const [name, value] = part.split("=").map((s) => s.trim());
    if (
      !(PORT_NAMES as readonly string[]).includes(name ?? "") ||
      value === undefined ||
      !/^\d+$/.test(value)
    )
      throw new WaypointError(
        WaypointErrorCode.Config,
        `--ports entry "${part}" is not <listener>=<port>; listeners: ${PORT_NAMES.join(", ")}`,
      );
    out[name as (typeof PORT_NAMES)[number]] = Number(value);
  }
  return out;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new WaypointError(
      WaypointErrorCode.Config,
      `cannot read ${what} ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

interface ManageFlags {
  namespace: string;
  name: string;
  for: string;
  enrollNamespace?: boolean;
  output?: string;
  home?: string;
  server?: string;
}

interface WaypointStatusView {
  namespace: string;
  name: string;
  for: string | null;
  address: string | null;
  state: string;
  reason: string;
  bound: { object: string }[];
}

function manage(cmd: Command): Command {
  return cmd
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket");
}

function registerManagement(waypoint: Command): void {
  manage(
    waypoint
      .command("apply")
      .description(
        "create or update a waypoint (Gateway of class istio-waypoint), like istioctl waypoint apply",
      )
      .option("-n, --namespace <ns>", "the waypoint's namespace", "default")
      .option("--name <name>", "the waypoint's name", "waypoint")
      .option("--for <traffic>", `traffic it takes: ${WAYPOINT_FOR.join(", ")}`, "service")
      .option("--enroll-namespace", "also label the namespace istio.io/use-waypoint=<name>"),
  ).action(async (flags: ManageFlags) => {
    if (!isWaypointFor(flags.for))
      throw new WaypointError(
        WaypointErrorCode.Config,
        `--for ${JSON.stringify(flags.for)} is not one of ${WAYPOINT_FOR.join(", ")}`,
      );
    const client = await AdminClient.connect(adminOptionsOf(flags));
    const yaml = waypointGatewayYaml({ namespace: flags.namespace, name: flags.name, for: flags.for });
    const { results } = await client.post<{ results: { action: string }[] }>("/v1/apply", {
      sources: [{ filename: "waypoint-apply", yaml }],
    });
    process.stdout.write(
      `waypoint ${flags.namespace}/${flags.name} ${results[0]?.action ?? "applied"} (for ${flags.for})\n`,
    );
    if (flags.enrollNamespace === true) {
      await client.post("/v1/label", {
        kind: "Namespace",
        name: flags.namespace,
        set: { "istio.io/use-waypoint": flags.name },
        remove: [],
        overwrite: true,
      });
      process.stdout.write(`namespace ${flags.namespace} labeled istio.io/use-waypoint=${flags.name}\n`);
    }
  });

  manage(
    waypoint
      .command("list")
      .description("list waypoints with their state (ready, not ready, missing) and what is bound to them")
      .option("-n, --namespace <ns>", "only this namespace")
      .option("-o, --output <format>", "json prints the list as JSON"),
  ).action(async (flags: Partial<ManageFlags>) => {
    const client = await AdminClient.connect(adminOptionsOf(flags));
    const status = await client.get<{ waypoints?: WaypointStatusView[] }>("/v1/status");
    const list = (status.waypoints ?? []).filter(
      (w) => flags.namespace === undefined || w.namespace === flags.namespace,
    );
    if (flags.output === "json") {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    if (list.length === 0) {
      process.stdout.write("no waypoints\n");
      return;
    }
    process.stdout.write(
      table(
        ["NAMESPACE", "NAME", "FOR", "ADDRESS", "STATE", "BOUND"],
        list.map((w) => [
          w.namespace,
          w.name,
          w.for ?? "-",
          w.address ?? "-",
          w.state,
          w.bound.map((b) => b.object).join(",") || "-",
        ]),
      ),
    );
  });

  manage(
    waypoint
      .command("delete <name>")
      .description("delete a waypoint's Gateway (bound traffic then bypasses it, as in Istio)")
      .option("-n, --namespace <ns>", "the waypoint's namespace", "default"),
  ).action(async (name: string, flags: ManageFlags) => {
    const client = await AdminClient.connect(adminOptionsOf(flags));
    const path = `/v1/resources/Gateway/${encodeURIComponent(name)}?namespace=${encodeURIComponent(flags.namespace)}`;
    const gw = await client.get<{ spec?: { gatewayClassName?: string } }>(path);
    if (gw.spec?.gatewayClassName !== "istio-waypoint")
      throw new WaypointError(
        WaypointErrorCode.Config,
        `Gateway ${flags.namespace}/${name} is not a waypoint (class ${gw.spec?.gatewayClassName ?? "unset"}); use ambit delete`,
      );
    await client.delete(path);
    process.stdout.write(`waypoint ${flags.namespace}/${name} deleted\n`);
  });
}

export function register(program: Command): void {
  // Positional: `--name` after `apply` is the subcommand's, not the proxy's.
  const waypoint = program.command("waypoint").enablePositionalOptions();
  registerManagement(waypoint);
  waypoint
    .description("run a waypoint (L7 proxy): HBONE (15008), metrics (15020), readiness (15021)")
    .option("--name <name>", "the waypoint's Gateway name (also its service account)")
    .option("--namespace <ns>", "the waypoint's namespace")
    .option("--control <host:port>", "control plane xDS + CA endpoint (port 15012)")
    .option("--ca-roots <file>", "PEM trust bundle of the mesh CA")
    .option("--token-file <file>", "waypoint token made by the control plane (re-read at every reconnect)")
    .option(
      "--control-identity <spiffe>",
      "SPIFFE id the control plane must present (default spiffe://<td>/ns/istio-system/sa/istiod)",
    )
    .option("--trust-domain <domain>", "mesh trust domain", "cluster.local")
    .option("--bind-address <ip>", "address of the listeners", "0.0.0.0")
    .option("--ports <list>", "port overrides, e.g. hbone=0,metrics=0 (0 = ephemeral)")
    .option(
      "--config <file...>",
      "YAML files/directories with VirtualService, HTTPRoute, TrafficSplit, DestinationRule, AuthorizationPolicy",
    )
    .option("--cert-ttl <seconds>", "requested certificate lifetime", "86400")
    .option("--log-level <level>", "trace, debug, info, warn, error (default $AMBIT_LOG_LEVEL or info)")
    .option(
      "--otlp-endpoint <url>",
      "also export access records as OTLP/HTTP JSON logs (default $OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    .action(async (given: WaypointFlags) => {
      // Not commander's requiredOption: commander checks a parent's mandatory options before it
      // dispatches to a subcommand, which would make `ambit waypoint apply` demand them too.
      const missing = (["name", "namespace", "control", "caRoots"] as const).filter(
        (k) => given[k] === undefined,
      );
      if (missing.length > 0)
        throw new WaypointError(
          WaypointErrorCode.Config,
          `required option(s) ${missing.map((k) => `--${k === "caRoots" ? "ca-roots" : k}`).join(", ")} not given (see ambit waypoint --help; to create a waypoint use ambit waypoint apply)`,
        );
      const flags = given as WaypointFlags &
        Required<Pick<WaypointFlags, "name" | "namespace" | "control" | "caRoots">>;
      const env = readEnv();
      const metrics = createMeshMetrics({ processMetrics: true, defaultLabels: {} });
      const otlp = otlpAccessLogs({
        otel: readOtelEnv(),
        endpoint: flags.otlpEndpoint,
        serviceName: "ambit-waypoint",
        resource: {
          "k8s.namespace.name": flags.namespace,
          "service.instance.id": `${flags.namespace}/${flags.name}`,
        },
        registry: metrics.registry,
      });
      const logger = createLogger({
        ...(otlp !== undefined ? { also: [otlp.destination] } : {}),
        name: "waypoint",
        level: (flags.logLevel ?? env.logLevel) as typeof env.logLevel,
        base: { waypoint: `${flags.namespace}/${flags.name}` },
      });
      let resources: Awaited<ReturnType<typeof loadSources>>["resources"] = [];
      if (flags.config !== undefined && flags.config.length > 0) {
        const loaded = await loadSources(flags.config);
        if (loaded.errors.length > 0)
          throw new WaypointError(
            WaypointErrorCode.Config,
            `--config has errors: ${loaded.errors.map((e) => e.message).join("; ")}`,
          );
        resources = loaded.resources;
      }
      const tokenFile = flags.tokenFile;
      const wp = await Waypoint.start(
        {
          name: flags.name,
          namespace: flags.namespace,
          trustDomain: flags.trustDomain,
          control: {
            address: flags.control,
            tls: {
              rootsPem: readPem(flags.caRoots, "--ca-roots"),
              serverIdentity:
                flags.controlIdentity ?? `spiffe://${flags.trustDomain}/ns/istio-system/sa/istiod`,
            },
            ...(tokenFile !== undefined
              ? { token: async () => (await readFile(tokenFile, "utf8")).trim() }
              : {}),
          },
          bindAddress: flags.bindAddress,
          ports: parsePorts(flags.ports),
          resources,
          certificateTtlSeconds: Number(flags.certTtl),
        },
        { logger, metrics },
      );
      const a = wp.addresses;
      process.stderr.write(
        `ambit waypoint (${flags.namespace}/${flags.name}): hbone=${a.hbone.address}:${a.hbone.port} metrics=${a.metrics.address}:${a.metrics.port} readiness=${a.readiness.address}:${a.readiness.port}\n`,
      );
      // A finished burst's dead Buffers and free malloc pages go back once the process stops growing.
      const reclaimer = reclaimAfterBursts(logger);
      await untilStopSignal();
      reclaimer.stop();
      await wp.close();
      // The last access records of the closed connections still go to the collector.
      await otlp?.exporter.shutdown();
      logger.flush();
    });
}
