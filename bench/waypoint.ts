/**
 * Waypoint benchmark on a fresh 2-node local cluster (`ambit up`), three paths in ONE run, client
 * pod on node-1 → `ambit demo-app http` on node-2, HTTP/1.1 keep-alive at a fixed concurrency:
 *   direct    client (not enrolled) → server pod IP (routed, no proxy)
 *   l4        client (ambient) → VIP of `server-l4` → ztunnel(node-1) ⇒ HBONE ⇒ ztunnel(node-2) → server
 *   waypoint  client (ambient) → VIP of `server-wp` (istio.io/use-waypoint) → ztunnel(node-1) ⇒ HBONE ⇒
 *             waypoint (HTTP parse, routing, L7 authz) ⇒ HBONE ⇒ ztunnel(node-2) → server
 * Both services select the same server pod. Measures req/s, latency p50/p99, and the waypoint
 * process's RSS and CPU (CPU-seconds per second of load, normalised per 1,000 req/s).
 * Root only. Run: node dist/bench/waypoint.js [--seconds 10] [--concurrency 16] [--no-write]
 * Writes bench/results/waypoint-<date>.json and appends a row per path to bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AdminClient } from "../src/cli/admin-client.js";
import { cliEntry, repoRoot } from "../src/local/cluster-config.js";
import { podNames } from "../src/local/cluster-plan.js";
import { readAgentStatus } from "../src/local/cluster-up.js";
import { cpuSeconds, type KeepAliveResult, keepAlive, rssMiB } from "./cluster-load.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16" },
    "no-write": { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const ROOT = repoRoot();
const CLI = cliEntry(ROOT);

const SERVER = ["ambit", "demo-app", "http", "--service", "server", "--version", "v1", "--port", "8080"];

function doc(kind: string, apiVersion: string, meta: string, spec: string): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: ${meta}\n${spec}`;
}

const manifests = [
  doc("Namespace", "v1", "{name: wpb, labels: {istio.io/dataplane-mode: ambient}}", ""),
  doc("Namespace", "v1", "{name: plainb}", ""),
  doc(
    "Gateway",
    "gateway.networking.k8s.io/v1",
    "{name: waypoint, namespace: wpb, labels: {istio.io/waypoint-for: service}}",
    "spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n",
  ),
  doc(
    "Pod",
    "v1",
    "{name: server, namespace: wpb, labels: {app: server, version: v1}}",
    `spec: {nodeName: node-2, containers: [{name: c, command: ${JSON.stringify(SERVER)}}]}\n`,
  ),
  doc(
    "Pod",
    "v1",
    "{name: client, namespace: wpb, labels: {app: client}}",
    'spec: {nodeName: node-1, containers: [{name: c, command: ["sleep", "infinity"]}]}\n',
  ),
  doc(
    "Service",
    "v1",
    "{name: server-wp, namespace: wpb, labels: {istio.io/use-waypoint: waypoint}}",
    "spec: {selector: {app: server}, ports: [{name: http, port: 8080, targetPort: 8080}]}\n",
  ),
  doc(
    "Service",
    "v1",
    "{name: server-l4, namespace: wpb}",
    "spec: {selector: {app: server}, ports: [{name: http, port: 8080, targetPort: 8080}]}\n",
  ),
  doc(
    "Pod",
    "v1",
    "{name: server, namespace: plainb, labels: {app: server}}",
    `spec: {nodeName: node-2, containers: [{name: c, command: ${JSON.stringify(SERVER)}}]}\n`,
  ),
  doc(
    "Pod",
    "v1",
    "{name: client, namespace: plainb}",
    'spec: {nodeName: node-1, containers: [{name: c, command: ["sleep", "infinity"]}]}\n',
  ),
].join("---\n");

function cli(argv: string[], home: string): string {
  const r = spawnSync(process.execPath, [CLI, ...argv.slice(0, 1), "--home", home, ...argv.slice(1)], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ambit ${argv.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/waypoint needs root (network namespaces)");
  const name = `w${randomBytes(3).toString("hex").slice(0, 5)}`;
  const home = mkdtempSync(join(os.tmpdir(), "ambit-bench-"));
  try {
    process.stderr.write(cli(["up", "--name", name, "--nodes", "2"], home));
    const admin = await AdminClient.connect({ home });
    await admin.post("/v1/apply", { sources: [{ filename: "<bench>", yaml: manifests }] });
    const running = (id: string) =>
      until(id, async () => {
        const p = (await readAgentStatus(home))?.pods[id];
        return p?.state === "running" ? p : undefined;
      });
    const plainServer = (await running("plainb/server")).ip;
    await running("wpb/server");
    await running("wpb/client");
    await running("plainb/client");
    const wpPid = (await running("wpb/waypoint-0")).pid;
    await until("the waypoint ready", async () => {
      const s = await admin.get<{ waypoints?: { name: string; state: string }[] }>("/v1/status");
      return s.waypoints?.some((w) => w.name === "waypoint" && w.state === "ready") ? true : undefined;
    });
    const { items } = await admin.get<{ items: { name: string; vip?: string }[] }>(
      "/v1/registry/services?namespace=wpb",
    );
    const vip = (n: string): string => items.find((s) => s.name === n)?.vip ?? "";
    await new Promise((r) => setTimeout(r, 2000)); // servers listening, certificates fetched
    const meshNs = podNames(name, "wpb", "client").netns;
    const paths = [
      { path: "direct", netns: podNames(name, "plainb", "client").netns, host: plainServer },
      { path: "l4", netns: meshNs, host: vip("server-l4") },
      { path: "waypoint", netns: meshNs, host: vip("server-wp") },
    ];
    const load = (p: (typeof paths)[number], seconds: number) =>
      keepAlive(p.netns, p.host, { seconds, concurrency: CONCURRENCY, hostHeader: "server:8080" });
    for (const p of paths) await load(p, 2).catch(() => undefined); // warm-up: pools, JIT
    const wpIdle = rssMiB(wpPid);
    const results: { path: string; keepAlive: KeepAliveResult; waypoint?: Record<string, number> }[] = [];
    for (const p of paths) {
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(wpPid));
      }, 250);
      const cpu0 = cpuSeconds(wpPid);
      const t0 = performance.now();
      const ka = await load(p, SECONDS);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(wpPid) - cpu0;
      clearInterval(sampler);
      const entry: (typeof results)[number] = { path: p.path, keepAlive: ka };
      if (p.path === "waypoint") {
        const coresBusy = cpu / wall;
        entry.waypoint = {
          rssIdleMiB: wpIdle,
          rssPeakMiB: peak,
          cpuSeconds: cpu,
          coresBusy,
          coresPer1000Rps: ka.rps > 0 ? coresBusy / (ka.rps / 1000) : 0,
        };
      }
      results.push(entry);
      process.stderr.write(
        `${p.path}: ${ka.rps.toFixed(0)} req/s (c=${CONCURRENCY}) p50 ${ka.p50.toFixed(2)} ms p99 ${ka.p99.toFixed(2)} ms errors ${ka.errors}${entry.waypoint ? ` waypoint RSS ${peak.toFixed(0)} MiB, ${entry.waypoint.coresPer1000Rps?.toFixed(3)} cores per 1000 req/s` : ""}\n`,
      );
    }
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    const cpuModel = os.cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "?";
    const out = {
      date: new Date().toISOString(),
      commit,
      machine: { cpu: cpuModel, cores: os.cpus().length, node: process.version, load1: os.loadavg()[0] ?? 0 },
      settings: { seconds: SECONDS, concurrency: CONCURRENCY },
      results,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (args["no-write"]) return;
    const dir = join(ROOT, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `waypoint-${out.date.slice(0, 19).replace(/:/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    const readme = join(ROOT, "bench", "README.md");
    const text = existsSync(readme) ? readFileSync(readme, "utf8") : "";
    if (!text.includes("## Waypoint (`bench/waypoint.ts`)")) {
      appendFileSync(
        readme,
        [
          "",
          "## Waypoint (`bench/waypoint.ts`)",
          "",
          "A fresh 2-node local cluster; client pod on node-1 → `ambit demo-app http` on node-2, HTTP/1.1 keep-alive at a",
          "fixed concurrency, three paths in one run: `direct` (no proxy), `l4` (ztunnel ⇒ HBONE ⇒ ztunnel, service VIP),",
          "`waypoint` (ztunnel ⇒ HBONE ⇒ waypoint ⇒ HBONE ⇒ ztunnel, a service with `istio.io/use-waypoint`). Waypoint CPU is",
          "its process's user+system time during the run; `cores per 1k req/s` = cores busy ÷ (req/s ÷ 1000).",
          "Run `sudo node dist/bench/waypoint.js --seconds 10 --concurrency 16`; raw JSON in `results/waypoint-*.json`.",
          "",
          "| date | commit | machine | load (1 min) | path | req/s | p50 / p99 ms | errors | waypoint RSS idle / peak MiB | waypoint cores per 1k req/s |",
          "|---|---|---|---|---|---|---|---|---|---|",
          "",
        ].join("\n"),
      );
    }
    for (const r of results) {
      const wp = r.waypoint;
      appendFileSync(
        readme,
        `| ${out.date.slice(0, 16).replace("T", " ")} | ${commit} | ${cpuModel.split(" ").slice(0, 2).join(" ")}, ${out.machine.cores} cores, Node ${process.version} | ${out.machine.load1.toFixed(1)} | ${r.path} | ${r.keepAlive.rps.toFixed(0)} | ${r.keepAlive.p50.toFixed(2)} / ${r.keepAlive.p99.toFixed(2)} | ${r.keepAlive.errors} | ${wp ? `${wp["rssIdleMiB"]?.toFixed(0)} / ${wp["rssPeakMiB"]?.toFixed(0)}` : "-"} | ${wp ? wp["coresPer1000Rps"]?.toFixed(3) : "-"} |\n`,
      );
    }
    process.stderr.write(`wrote ${file} and a row per path in bench/README.md\n`);
  } finally {
    spawnSync(process.execPath, [CLI, "down", "--home", home, "--name", name], { stdio: "ignore" });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
