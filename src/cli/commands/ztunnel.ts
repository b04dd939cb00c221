/**
 * `ambit ztunnel`: runs the node proxy until SIGINT/SIGTERM. Every listener is bound before the
 * command reports itself started; a taken port or a bad option exits 1 with a ZT_ERR_ code.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { readEnv, readOtelEnv } from "../../telemetry/env.js";
import { createLogger } from "../../telemetry/logger.js";
import { createMeshMetrics } from "../../telemetry/metrics.js";
import { otlpAccessLogs } from "../../telemetry/otlp-access-log.js";
import { stderrTraceSink, watchTrace } from "../../telemetry/trace.js";
import { LISTENERS, type ListenerName } from "../../ztunnel/config.js";
import { ZtunnelError, ZtunnelErrorCode } from "../../ztunnel/errors.js";
import { Ztunnel } from "../../ztunnel/ztunnel.js";
import { untilStopSignal } from "../process-io.js";

interface ZtunnelFlags {
  node: string;
  control: string;
  tokenFile?: string;
  caRoots: string;
  controlIdentity?: string;
  trustDomain: string;
  bindAddress: string;
  socks5Address: string;
  adminAddress: string;
  ports?: string;
  disable?: string;
  certTtl: string;
  logLevel?: string;
  otlpEndpoint?: string;
}

function parsePorts(text: string | undefined): Partial<Record<ListenerName, number>> {
  const out: Partial<Record<ListenerName, number>> = {};
  if (text === undefined) return out;
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const [name, value] = part.split("=").map((s) => s.trim());
    if (
      !(LISTENERS as readonly string[]).includes(name ?? "") ||
      value === undefined ||
      !/^\d+$/.test(value)
    ) {
      throw new ZtunnelError(
        ZtunnelErrorCode.Config,
        `--ports entry "${part}" is not <listener>=<port>; listeners: ${LISTENERS.join(", ")}`,
      );
    }
    out[name as ListenerName] = Number(value);
  }
  return out;
}

function parseDisabled(text: string | undefined): ListenerName[] {
  if (text === undefined) return [];
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const n of names) {
    if (!(LISTENERS as readonly string[]).includes(n)) {
      throw new ZtunnelError(
        ZtunnelErrorCode.Config,
        `--disable "${n}" is not a listener; use ${LISTENERS.join(", ")}`,
      );
    }
  }
  return names as ListenerName[];
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ZtunnelError(ZtunnelErrorCode.Config, `cannot read ${what} ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export function register(program: Command): void {
  program
    .command("ztunnel")
    .description(
      "run the node proxy: capture (15001/15006), HBONE (15008), SOCKS5 (15080), metrics, readiness, admin",
    )
    .requiredOption("--node <name>", "this node's name, as the control plane knows it")
    .requiredOption("--control <host:port>", "control plane xDS + CA endpoint (port 15012)")
    .requiredOption(
      "--ca-roots <file>",
      "PEM trust bundle of the mesh CA (verifies the control plane and peers)",
    )
    .option("--token-file <file>", "bearer token identifying this node (re-read at every reconnect)")
    .option(
      "--control-identity <spiffe>",
      "SPIFFE id the control plane must present (default spiffe://<td>/ns/istio-system/sa/istiod)",
    )
    .option("--trust-domain <domain>", "mesh trust domain", "cluster.local")
    .option(
      "--bind-address <ip>",
      "address of the capture and HBONE listeners (inside the node netns)",
      "0.0.0.0",
    )
    .option("--socks5-address <ip>", "address of the SOCKS5 listener", "127.0.0.1")
    .option("--admin-address <ip>", "address of the admin listener (loopback only)", "127.0.0.1")
    .option("--ports <list>", "port overrides, e.g. socks5=1080,admin=0 (0 = ephemeral)")
    .option("--disable <list>", "listeners not to open, e.g. outbound,inboundPlaintext")
    .option("--cert-ttl <seconds>", "requested workload certificate lifetime", "3600")
    .option("--log-level <level>", "trace, debug, info, warn, error (default $AMBIT_LOG_LEVEL or info)")
    .option(
      "--otlp-endpoint <url>",
      "also export access records as OTLP/HTTP JSON logs (default $OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    .action(async (flags: ZtunnelFlags) => {
      const env = readEnv();
      const stopTrace = env.trace.length > 0 ? watchTrace(env.trace, stderrTraceSink) : () => {};
      const level = flags.logLevel ?? env.logLevel;
      const metrics = createMeshMetrics({ processMetrics: true, defaultLabels: {} });
      const otlp = otlpAccessLogs({
        otel: readOtelEnv(),
        endpoint: flags.otlpEndpoint,
        serviceName: "ambit-ztunnel",
        resource: { "k8s.node.name": flags.node, "service.instance.id": flags.node },
        registry: metrics.registry,
      });
      const logger = createLogger({
        ...(otlp !== undefined ? { also: [otlp.destination] } : {}),
        name: "ztunnel",
        level: level as typeof env.logLevel,
        base: { node: flags.node },
      });
      const tokenFile = flags.tokenFile;
      const zt = await Ztunnel.start(
        {
          node: flags.node,
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
          socks5Address: flags.socks5Address,
          adminAddress: flags.adminAddress,
          ports: parsePorts(flags.ports),
          disabled: parseDisabled(flags.disable),
          certificateTtlSeconds: Number(flags.certTtl),
        },
        { logger, metrics },
      );
      const listening = Object.entries(zt.addresses)
        .map(([k, a]) => `${k}=${a.address}:${a.port}`)
        .join(" ");
      process.stderr.write(`ambit ztunnel (${flags.node}): ${listening}\n`);
      await untilStopSignal();
      await zt.close();
      // The last access records of the closed connections still go to the collector.
      await otlp?.exporter.shutdown();
      stopTrace();
      logger.flush();
    });
}
