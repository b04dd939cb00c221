/**
 * The cluster `ambit bench` measures on: a fresh 2-node local cluster (`ambit up`, real network
 * namespaces), a client pod on node-1 and a server pod on node-2 per path, so every path crosses
 * the same fabric:
 *   bench-direct   neither pod enrolled                       client → server
 *   bench-l4       namespace enrolled (ambient)               client → ztunnel ⇒ HBONE ⇒ ztunnel → server
 *   bench-l7       enrolled + a waypoint for its Service      client → ztunnel ⇒ waypoint ⇒ ztunnel → server
 *   bench-sidecar  not enrolled; the bench starts proxies in both pods (sidecar.ts)
 * Servers are `ambit demo-app http --body-bytes N` (and iperf3 -s, started here in the pod's netns).
 */

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminClient } from "../cli/admin-client.js";
import { waypointGatewayYaml } from "../cli/waypoint-gateway.js";
import { type CaptureMode, cliEntry, repoRoot } from "../local/cluster-config.js";
import { podNames } from "../local/cluster-plan.js";
import { requireClusterState } from "../local/cluster-state.js";
import { readAgentStatus } from "../local/cluster-up.js";
import { connectFrom } from "../platform/netns-sockets.js";
import { interrupted } from "./errors.js";
import { pathAnswers } from "./http-load.js";

export const APP_PORT = 8080;
export const IPERF_PORT = 5201;
export const PATH_NAMESPACES = {
  direct: "bench-direct",
  l4: "bench-l4",
  l7: "bench-l7",
  /** The HAProxy pair's pods (scenario `sidecar`). */
  sidecar: "bench-sidecar",
  /** The stunnel pair's pods (`sidecar-stunnel`): each pair captures the same server port, so each has its own pods. */
  sidecarStunnel: "bench-sidecar-stunnel",
} as const;

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly netns: string;
}

export interface BenchCluster {
  readonly name: string;
  readonly home: string;
  readonly client: Record<keyof typeof PATH_NAMESPACES, PodRef>;
  readonly server: Record<keyof typeof PATH_NAMESPACES, PodRef>;
  /** VIP of `server.bench-l7` (traffic to it goes through the waypoint). */
  readonly l7Vip: string;
  /** pids of the ztunnels (node-1, node-2) and the waypoint. */
  readonly ztunnelPids: readonly number[];
  readonly waypointPid: number;
  /** Network namespaces of node-1 and node-2 (their ztunnels' admin port 15000 is on loopback there). */
  readonly nodeNetns: readonly string[];
  apply(yaml: string): Promise<void>;
  remove(yaml: string): Promise<void>;
  waitForPods(namespace: string, names: readonly string[]): Promise<PodRef[]>;
  /** Starts iperf3 -s in a pod's netns (stopped by `down`). */
  startIperfServer(pod: PodRef): void;
  down(): Promise<void>;
}

function podYaml(name: string, ns: string, node: string, command: readonly string[]): string {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${ns}`,
    "  labels:",
    `    app: ${name.replace(/-\d+$/, "")}`,
    "spec:",
    `  nodeName: ${node}`,
    "  containers:",
    "    - name: c",
    `      command: ${JSON.stringify(command)}`,
    "",
  ].join("\n");
}

export function serverCommand(bodyBytes: number): string[] {
  return [
    "ambit",
    "demo-app",
    "http",
    "--service",
    "server",
    "--version",
    "v1",
    "--port",
    String(APP_PORT),
    "--body-bytes",
    String(bodyBytes),
  ];
}

export function benchManifests(bodyBytes: number): string {
  const docs: string[] = [];
  for (const [path, ns] of Object.entries(PATH_NAMESPACES)) {
    const labels =
      path === "l4"
        ? "  labels:\n    istio.io/dataplane-mode: ambient\n"
        : path === "l7"
          ? "  labels:\n    istio.io/dataplane-mode: ambient\n    istio.io/use-waypoint: waypoint\n"
          : "";
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n${labels}`);
    docs.push(podYaml("server", ns, "node-2", serverCommand(bodyBytes)));
    docs.push(podYaml("client", ns, "node-1", ["sleep", "infinity"]));
  }
  const l7 = PATH_NAMESPACES.l7;
  docs.push(
    [
      "apiVersion: v1",
      "kind: Service",
      "metadata:",
      "  name: server",
      `  namespace: ${l7}`,
      "spec:",
      "  selector:",
      "    app: server",
      "  ports:",
      `    - name: http`,
      `      port: ${APP_PORT}`,
      `    - name: tcp-iperf`,
      `      port: ${IPERF_PORT}`,
      "",
    ].join("\n"),
  );
  docs.push(waypointGatewayYaml({ name: "waypoint", namespace: l7, for: "service" }));
  return docs.join("---\n");
}

function cli(args: readonly string[], home: string): string {
  const r = spawnSync(process.execPath, [cliEntry(repoRoot()), ...args, "--home", home], {
    encoding: "utf8",
    env: { ...process.env, AMBIT_LOG_LEVEL: "warn" },
  });
  if (r.status !== 0) throw new Error(`ambit ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | undefined>,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw interrupted();
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `ambit up` a fresh cluster and apply the bench topology; `down()` removes all of it. */
export async function startBenchCluster(o: {
  bodyBytes: number;
  /** `ambit up --capture`; default in-pod (as `ambit up`). */
  capture?: CaptureMode;
  progress: (line: string) => void;
  /** Aborting it stops the set-up at its next step, and what was built is removed. */
  signal?: AbortSignal;
}): Promise<BenchCluster> {
  const name = `bn${randomBytes(3).toString("hex").slice(0, 5)}`;
  const home = mkdtempSync(join(tmpdir(), "ambit-bench-"));
  const iperfs: ReturnType<typeof spawn>[] = [];
  const down = async (): Promise<void> => {
    for (const p of iperfs) p.kill("SIGKILL");
    spawnSync(process.execPath, [cliEntry(repoRoot()), "down", "--name", name, "--home", home], {
      stdio: "ignore",
    });
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const capture = o.capture ?? "inpod";
    o.progress(`starting a 2-node local cluster "${name}" (ambit up, ${capture} capture)`);
    cli(["up", "--name", name, "--nodes", "2", "--capture", capture], home);
    if (o.signal?.aborted) throw interrupted();
    const admin = await AdminClient.connect({ home });
    const apply = async (yaml: string): Promise<void> => {
      await admin.post("/v1/apply", { sources: [{ filename: "<bench>", yaml }] });
    };
    const remove = async (yaml: string): Promise<void> => {
      await admin.post("/v1/delete", { sources: [{ filename: "<bench>", yaml }] });
    };
    await apply(benchManifests(o.bodyBytes));
    const waitForPods = async (namespace: string, names: readonly string[]): Promise<PodRef[]> =>
      until(
        `pods ${names.join(", ")} in ${namespace}`,
        180_000,
        async () => {
          const s = await readAgentStatus(home);
          const out: PodRef[] = [];
          for (const n of names) {
            const p = s?.pods[`${namespace}/${n}`];
            if (p?.state !== "running") return undefined;
            out.push({ namespace, name: n, ip: p.ip, netns: podNames(name, namespace, n).netns });
          }
          return out;
        },
        o.signal,
      );
    o.progress("waiting for the bench pods and the waypoint");
    const client = {} as Record<keyof typeof PATH_NAMESPACES, PodRef>;
    const server = {} as Record<keyof typeof PATH_NAMESPACES, PodRef>;
    for (const [path, ns] of Object.entries(PATH_NAMESPACES) as [keyof typeof PATH_NAMESPACES, string][]) {
      const [c, s] = await waitForPods(ns, ["client", "server"]);
      client[path] = c as PodRef;
      server[path] = s as PodRef;
    }
    await waitForPods(PATH_NAMESPACES.l7, ["waypoint-0"]);
    const l7Vip = await until(
      "the VIP of server.bench-l7",
      30_000,
      async () => {
        const r = (await admin.get(`/v1/registry/services?namespace=${PATH_NAMESPACES.l7}`)) as {
          items: { name: string; vip?: string }[];
        };
        return r.items.find((x) => x.name === "server")?.vip;
      },
      o.signal,
    );
    // Running pods are not yet a working mesh path (the waypoint's config and certificate, the
    // ztunnels' view of it): measure nothing until each path has answered a request.
    const paths: [string, PodRef, string, string][] = [
      ["direct", client.direct, server.direct.ip, "server"],
      ["ambient-l4", client.l4, server.l4.ip, "server"],
      ["ambient-l7", client.l7, l7Vip, `server.${PATH_NAMESPACES.l7}.svc.cluster.local`],
    ];
    for (const [path, from, host, hostHeader] of paths) {
      o.progress(`waiting for the ${path} path to answer`);
      await until(
        `a 2xx answer through the ${path} path`,
        90_000,
        async () => {
          const target = {
            connect: () => connectFrom({ netns: from.netns, host, port: APP_PORT }),
            host: hostHeader,
          };
          return (await pathAnswers(target)) ? true : undefined;
        },
        o.signal,
      );
    }
    const status = await readAgentStatus(home);
    const ztunnelPids = ["node-1", "node-2"].map((n) => status?.ztunnels[n]?.pid ?? 0);
    const waypointPid = status?.pods[`${PATH_NAMESPACES.l7}/waypoint-0`]?.pid ?? 0;
    const state = await requireClusterState(home);
    return {
      name,
      home,
      nodeNetns: state.nodes.map((n) => n.netns),
      client,
      server,
      l7Vip,
      ztunnelPids,
      waypointPid,
      apply,
      remove,
      waitForPods,
      startIperfServer(pod) {
        const p = spawn("ip", ["netns", "exec", pod.netns, "iperf3", "-s", "-p", String(IPERF_PORT)], {
          stdio: "ignore",
        });
        iperfs.push(p);
      },
      down,
    };
  } catch (e) {
    await down();
    throw e;
  }
}
