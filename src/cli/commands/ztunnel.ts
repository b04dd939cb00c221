/**
 * `ambit ztunnel`: runs the node proxy until SIGINT/SIGTERM. Every listener is bound before the
 * command reports itself started; a taken port or a bad option exits 1 with a ZT_ERR_ code.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { reclaimAfterBursts } from "../../platform/reclaim-memory.js";
import { readEnv, readOtelEnv } from "../../telemetry/env.js";
import { createLogger } from "../../telemetry/logger.js";
import { createMeshMetrics } from "../../telemetry/metrics.js";
import { otlpAccessLogs } from "../../telemetry/otlp-access-log.js";
import { stderrTraceSink, watchTrace } from "../../telemetry/trace.js";
import { type HboneWrites, LISTENERS, type ListenerName } from "../../ztunnel/config.js";
import { ZtunnelError, ZtunnelErrorCode } from "../../ztunnel/errors.js";
import { Ztunnel } from "../../ztunnel/ztunnel.js";
import { untilStopSignal } from "../process-io.js";

interface ZtunnelFlags {
  node?: string;
  control?: string;
  tokenFile?: string;
  caRoots?: string;
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
  reusePort?: boolean;
  hboneWrites?: string;
  inpod?: boolean;
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

/** `--node`, `--control`, `--ca-roots` are required to run a ztunnel, not for its subcommands. */
function required(flags: ZtunnelFlags): { node: string; control: string; caRoots: string } {
  const missing = (["node", "control", "caRoots"] as const).filter((k) => flags[k] === undefined);
  if (missing.length > 0) {
    throw new ZtunnelError(
      ZtunnelErrorCode.Config,
      `missing ${missing.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")}; see \`ambit ztunnel --help\``,
    );
  }
  return { node: flags.node as string, control: flags.control as string, caRoots: flags.caRoots as string };
}

export function register(program: Command): void {
  const ztunnel = program
    .command("ztunnel")
    .description(
      "run the node proxy: capture (15001/15006), HBONE (15008), SOCKS5 (15080), metrics, readiness, admin",
    )
    .option("--node <name>", "this node's name, as the control plane knows it (required)")
    .option("--control <host:port>", "control plane xDS + CA endpoint (port 15012) (required)")
    .option(
      "--ca-roots <file>",
      "PEM trust bundle of the mesh CA (verifies the control plane and peers) (required)",
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
    .option(
      "--hbone-writes <mode>",
      "how pooled HBONE sessions write: unblocked (through JavaScript, never blocked) or kernel (on the TLS socket with a send buffer reserved, CAP_NET_ADMIN; see docs/performance.md for what each costs)",
      "unblocked",
    )
    .option(
      "--inpod",
      "in-pod mode: serve the pods the node agent names over the IPC channel from sockets inside their netns (docs/ztunnel.md)",
    )
    .option(
      "--reuse-port",
      "bind with SO_REUSEPORT so a successor can take over (the node agent's hand-over; docs/ztunnel.md)",
    )
    .action(async (flags: ZtunnelFlags) => {
      const { node, control, caRoots } = required(flags);
      // In-pod mode without the node agent's IPC channel fails here, before anything starts.
      const inPod = flags.inpod === true ? await import("../../ztunnel/inpod.js") : undefined;
      inPod?.requireInPodChannel();
      const env = readEnv();
      const stopTrace = env.trace.length > 0 ? watchTrace(env.trace, stderrTraceSink) : () => {};
      const level = flags.logLevel ?? env.logLevel;
      const metrics = createMeshMetrics({ processMetrics: true, defaultLabels: {} });
      const otlp = otlpAccessLogs({
        otel: readOtelEnv(),
        endpoint: flags.otlpEndpoint,
        serviceName: "ambit-ztunnel",
        resource: { "k8s.node.name": node, "service.instance.id": node },
        registry: metrics.registry,
      });
      const logger = createLogger({
        ...(otlp !== undefined ? { also: [otlp.destination] } : {}),
        name: "ztunnel",
        level: level as typeof env.logLevel,
        base: { node },
      });
      const tokenFile = flags.tokenFile;
      const zt = await Ztunnel.start(
        {
          node,
          control: {
            address: control,
            tls: {
              rootsPem: readPem(caRoots, "--ca-roots"),
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
          reusePort: flags.reusePort === true,
          hboneWrites: flags.hboneWrites as HboneWrites, // checked by ztunnelConfig
        },
        { logger, metrics },
      );
      const listening = Object.entries(zt.addresses)
        .map(([k, a]) => `${k}=${a.address}:${a.port}`)
        .join(" ");
      process.stderr.write(`ambit ztunnel (${node}): ${listening}\n`);
      // A finished burst's dead Buffers and free malloc pages go back once the node stops growing.
      const reclaimer = reclaimAfterBursts(logger);
      const { serveHandover } = await import("../../ztunnel/handover.js");
      // In-pod mode: the node agent names the pods whose netns this ztunnel opens sockets in; it
      // is ready (and a hand-over successor says so) only once it listens in all of them.
      inPod?.serveInPod(zt);
      const drained = serveHandover(zt);
      await Promise.race([untilStopSignal(), drained]);
      reclaimer.stop();
      await zt.close();
      // The last access records of the closed connections still go to the collector.
      await otlp?.exporter.shutdown();
      stopTrace();
      logger.flush();
    });

  ztunnel
    .command("restart")
    .description(
      "hand a node's ztunnel over to a new process without dropping connections (local cluster): the new one binds beside the old (SO_REUSEPORT), becomes ready, then the old one stops accepting and drains",
    )
    .option("--node <name>", "the node whose ztunnel to restart (required)")
    .option("--drain-deadline <seconds>", "how long live connections may stay on the old ztunnel", "30")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (_flags: unknown, cmd: Command) => {
      // The parent command owns --node too (it runs a ztunnel): read it from either.
      const flags = cmd.optsWithGlobals<{
        node?: string;
        drainDeadline: string;
        home?: string;
        output: string;
      }>();
      if (flags.node === undefined) throw new ZtunnelError(ZtunnelErrorCode.Config, "missing --node <name>");
      const seconds = Number(flags.drainDeadline);
      if (!Number.isFinite(seconds) || seconds < 0) {
        throw new ZtunnelError(
          ZtunnelErrorCode.Config,
          `--drain-deadline "${flags.drainDeadline}" is not a number of seconds ≥ 0`,
        );
      }
      const { requestZtunnelRestart } = await import("../../local/agent-control.js");
      const { resolveLocalHome } = await import("../../local/cluster-config.js");
      const r = await requestZtunnelRestart(
        resolveLocalHome(flags.home),
        flags.node,
        Math.round(seconds * 1000),
      );
      if (flags.output === "json") process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        process.stdout.write(
          `ztunnel on ${r.node} handed over: pid ${r.oldPid} → ${r.newPid} in ${(r.durationMs / 1000).toFixed(1)} s; ` +
            `${r.liveAtHandover ?? "?"} live connection(s) drained, ${r.cutAtDeadline ?? "?"} cut at the deadline\n`,
        );
      }
    });
}
