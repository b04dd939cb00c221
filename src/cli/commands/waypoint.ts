/**
 * `ambit waypoint`: runs the L7 proxy of one waypoint (a Gateway of class istio-waypoint) until
 * SIGINT/SIGTERM. Listeners are bound before the command reports itself started; a taken port or a
 * bad option exits 1 with a WP_ERR_ code. L7 resources come from `--config` files (see
 * docs/waypoint.md: there is no L7 xDS type yet).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { loadSources } from "../../api/load.js";
import { readEnv, readOtelEnv } from "../../telemetry/env.js";
import { createLogger } from "../../telemetry/logger.js";
import { createMeshMetrics } from "../../telemetry/metrics.js";
import { otlpAccessLogs } from "../../telemetry/otlp-access-log.js";
import { WaypointError, WaypointErrorCode } from "../../waypoint/errors.js";
import { Waypoint } from "../../waypoint/waypoint.js";
import { untilStopSignal } from "../process-io.js";

interface WaypointFlags {
  name: string;
  namespace: string;
  control: string;
  caRoots: string;
  tokenFile?: string;
  controlIdentity?: string;
  trustDomain: string;
  bindAddress: string;
  ports?: string;
  config?: string[];
  configDir?: string;
  configReloadMs: string;
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

export function register(program: Command): void {
  program
    .command("waypoint")
    .description("run a waypoint (L7 proxy): HBONE (15008), metrics (15020), readiness (15021)")
    .requiredOption("--name <name>", "the waypoint's Gateway name (also its service account)")
    .requiredOption("--namespace <ns>", "the waypoint's namespace")
    .requiredOption("--control <host:port>", "control plane xDS + CA endpoint (port 15012)")
    .requiredOption("--ca-roots <file>", "PEM trust bundle of the mesh CA")
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
    .option(
      "--config-dir <dir>",
      "a directory of resources (the control plane's file store) re-read while running; bad files are skipped",
    )
    .option("--config-reload-ms <ms>", "how often --config-dir is re-read", "2000")
    .option("--cert-ttl <seconds>", "requested certificate lifetime", "86400")
    .option("--log-level <level>", "trace, debug, info, warn, error (default $AMBIT_LOG_LEVEL or info)")
    .option(
      "--otlp-endpoint <url>",
      "also export access records as OTLP/HTTP JSON logs (default $OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    .action(async (flags: WaypointFlags) => {
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
      let lastProblems = "";
      const fromDir = async (): Promise<typeof resources> => {
        if (flags.configDir === undefined) return [];
        const loaded = await loadSources([flags.configDir]);
        // Warn once per distinct problem set: the directory is re-read every few seconds.
        const problems = loaded.errors.map((e) => e.message).join("; ");
        if (problems !== "" && problems !== lastProblems) logger.warn(`--config-dir: ${problems}`);
        lastProblems = problems;
        return loaded.resources;
      };
      let dirResources = await fromDir();
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
          resources: [...resources, ...dirResources],
          certificateTtlSeconds: Number(flags.certTtl),
        },
        { logger, metrics },
      );
      const a = wp.addresses;
      process.stderr.write(
        `ambit waypoint (${flags.namespace}/${flags.name}): hbone=${a.hbone.address}:${a.hbone.port} metrics=${a.metrics.address}:${a.metrics.port} readiness=${a.readiness.address}:${a.readiness.port}\n`,
      );
      let reload: NodeJS.Timeout | undefined;
      if (flags.configDir !== undefined) {
        let last = JSON.stringify(dirResources);
        const period = Number(flags.configReloadMs);
        const tick = (): void => {
          fromDir().then(
            (next) => {
              const text = JSON.stringify(next);
              if (text !== last) {
                last = text;
                dirResources = next;
                wp.setResources([...resources, ...dirResources]);
                logger.info({ resources: dirResources.length }, "L7 config reloaded");
              }
              reload = setTimeout(tick, period);
            },
            (e: Error) => {
              logger.warn(`--config-dir reload failed, keeping the last config: ${e.message}`);
              reload = setTimeout(tick, period);
            },
          );
        };
        reload = setTimeout(tick, period);
      }
      await untilStopSignal();
      if (reload !== undefined) clearTimeout(reload);
      await wp.close();
      // The last access records of the closed connections still go to the collector.
      await otlp?.exporter.shutdown();
      logger.flush();
    });
}
