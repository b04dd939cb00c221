/**
 * Mesh benchmark on a fresh local cluster (`ambit up`, 2 nodes), in ONE run, side by side:
 *   mesh    client pod (node-1, ambient) → ztunnel(node-1) ⇒ HBONE/mTLS ⇒ ztunnel(node-2) → server pod
 *   direct  client pod (node-1, not enrolled) → server pod (node-2, not enrolled): routed, no proxy
 * Both servers are `ambit demo-app http`. The load generator is this process, its sockets created
 * inside the client pods' network namespaces (the addon's connectFrom), so it measures the data
 * path, not process start-up. Measures:
 *   - HTTP/1.1 keep-alive request/response at a fixed concurrency (req/s, latency p50/p99)
 *   - new-connection latency: TCP connect + request + first response byte, one at a time
 *   - ztunnel RSS on both nodes, idle and the peak under load
 *   - with --idle N: N idle connections held through the mesh; each ztunnel's RSS growth per connection
 * Root only. Run: node dist/bench/mesh.js [--seconds 10] [--concurrency 16] [--conns 300] [--idle 10000] [--no-write]
 * Writes bench/results/mesh-<date>.json and appends a row per path to bench/README.md.
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
import type { Socket } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AdminClient } from "../src/cli/admin-client.js";
import { cliEntry, repoRoot } from "../src/local/cluster-config.js";
import { podNames } from "../src/local/cluster-plan.js";
import { readAgentStatus } from "../src/local/cluster-up.js";
import { connectFrom } from "../src/platform/netns-sockets.js";
import { keepAlive as keepAliveFor, pct, rssMiB } from "./cluster-load.js";

const keepAlive = (netns: string, host: string) =>
  keepAliveFor(netns, host, { seconds: SECONDS, concurrency: CONCURRENCY });

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16" },
    conns: { type: "string", default: "300" },
    idle: { type: "string", default: "0" },
    "no-write": { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const CONNS = Number(args.conns);
const IDLE = Number(args.idle);
const ROOT = repoRoot();
const CLI = cliEntry(ROOT);

function cli(argv: string[], home: string): string {
  const r = spawnSync(process.execPath, [CLI, ...argv.slice(0, 1), "--home", home, ...argv.slice(1)], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ambit ${argv.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function pod(name: string, ns: string, node: string, command: string[]): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  labels:\n    app: ${name}\nspec:\n  nodeName: ${node}\n  containers:\n    - name: c\n      command: ${JSON.stringify(command)}\n`;
}

const manifests = [
  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: meshb\n  labels:\n    istio.io/dataplane-mode: ambient\n",
  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plainb\n",
  pod("server", "meshb", "node-2", [
    "ambit",
    "demo-app",
    "http",
    "--service",
    "server",
    "--version",
    "v1",
    "--port",
    "8080",
  ]),
  pod("client", "meshb", "node-1", ["sleep", "infinity"]),
  pod("server", "plainb", "node-2", [
    "ambit",
    "demo-app",
    "http",
    "--service",
    "server",
    "--version",
    "v1",
    "--port",
    "8080",
  ]),
  pod("client", "plainb", "node-1", ["sleep", "infinity"]),
].join("---\n");

async function newConnections(
  netns: string,
  host: string,
): Promise<{ p50: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  for (let i = 0; i < CONNS; i++) {
    await new Promise<void>((resolve) => {
      const t0 = performance.now();
      const s = connectFrom({ netns, host, port: 8080 });
      s.on("connect", () => s.write("GET / HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n"));
      s.once("data", () => {
        lat.push(performance.now() - t0);
        s.destroy();
        resolve();
      });
      s.on("error", () => {
        errors += 1;
        resolve();
      });
    });
  }
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), errors };
}

/**
 * Opens `n` connections through the mesh and leaves them idle (after one byte, so the far ztunnel
 * has its upstream connection too); returns how many are open after they settled, and a release.
 */
async function holdIdle(netns: string, host: string, n: number): Promise<{ open: number; release(): void }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(200, n - i) },
        () =>
          new Promise<Socket | undefined>((resolve) => {
            const s = connectFrom({ netns, host, port: 8080 });
            s.once("error", () => resolve(undefined));
            s.once("connect", () => {
              s.on("error", () => {});
              // A partial request line: the pod waits for the rest, the connection stays idle.
              s.write("G");
              resolve(s);
            });
          }),
      ),
    );
    for (const s of batch) if (s !== undefined) sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 3000));
  return {
    open: sockets.filter((s) => !s.destroyed).length,
    release: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/mesh needs root (network namespaces)");
  const name = `b${randomBytes(3).toString("hex").slice(0, 5)}`;
  const home = mkdtempSync(join(os.tmpdir(), "ambit-bench-"));
  try {
    process.stderr.write(cli(["up", "--name", name, "--nodes", "2"], home));
    const admin = await AdminClient.connect({ home });
    await admin.post("/v1/apply", { sources: [{ filename: "<bench>", yaml: manifests }] });
    const ip = async (id: string): Promise<string> => {
      for (;;) {
        const s = await readAgentStatus(home);
        const p = s?.pods[id];
        if (p?.state === "running") return p.ip;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const meshServer = await ip("meshb/server");
    const plainServer = await ip("plainb/server");
    await ip("meshb/client");
    await ip("plainb/client");
    await new Promise((r) => setTimeout(r, 3000)); // servers listening, certificates fetched
    const status = await readAgentStatus(home);
    const zt = [status?.ztunnels["node-1"]?.pid ?? null, status?.ztunnels["node-2"]?.pid ?? null];
    const idle = zt.map(rssMiB);
    const paths = [
      { path: "mesh", netns: podNames(name, "meshb", "client").netns, host: meshServer },
      { path: "direct", netns: podNames(name, "plainb", "client").netns, host: plainServer },
    ];
    for (const p of paths) await keepAlive(p.netns, p.host).catch(() => undefined); // warm-up
    const results: Record<string, unknown>[] = [];
    let peak = [0, 0];
    for (const p of paths) {
      const sampler = setInterval(() => {
        peak = peak.map((v, i) => Math.max(v, rssMiB(zt[i] ?? null)));
      }, 250);
      const ka = await keepAlive(p.netns, p.host);
      clearInterval(sampler);
      const nc = await newConnections(p.netns, p.host);
      results.push({ path: p.path, keepAlive: ka, newConnection: nc });
      process.stderr.write(
        `${p.path}: ${ka.rps.toFixed(0)} req/s (c=${CONCURRENCY}) p50 ${ka.p50.toFixed(2)} ms p99 ${ka.p99.toFixed(2)} ms; new conn p50 ${nc.p50.toFixed(2)} ms p99 ${nc.p99.toFixed(2)} ms\n`,
      );
    }
    let idleConnections: Record<string, unknown> | undefined;
    if (IDLE > 0) {
      await new Promise((r) => setTimeout(r, 2000));
      const before = zt.map(rssMiB);
      const held = await holdIdle(paths[0]!.netns, paths[0]!.host, IDLE);
      const after = zt.map(rssMiB);
      held.release();
      const perConnKiB = after.map((a, i) => ((a - (before[i] ?? 0)) * 1024) / Math.max(1, held.open));
      idleConnections = {
        requested: IDLE,
        open: held.open,
        rssBeforeMiB: before,
        rssAfterMiB: after,
        perConnKiB,
      };
      process.stderr.write(
        `idle: ${held.open}/${IDLE} held; ztunnel RSS ${before.map((v) => v.toFixed(0)).join(", ")} → ${after.map((v) => v.toFixed(0)).join(", ")} MiB; ${perConnKiB.map((v) => v.toFixed(2)).join(" + ")} KiB per connection\n`,
      );
    }
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    const cpu = os.cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "?";
    const doc = {
      date: new Date().toISOString(),
      commit,
      machine: { cpu, cores: os.cpus().length, node: process.version, load1: os.loadavg()[0] ?? 0 },
      settings: { seconds: SECONDS, concurrency: CONCURRENCY, newConnections: CONNS },
      ztunnelRssMiB: { idle, peakUnderLoad: peak },
      results,
      ...(idleConnections !== undefined ? { idleConnections } : {}),
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    if (!args["no-write"]) {
      const dir = join(ROOT, "bench", "results");
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `mesh-${doc.date.slice(0, 19).replace(/:/g, "-")}.json`);
      writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
      const readme = join(ROOT, "bench", "README.md");
      let text = existsSync(readme) ? readFileSync(readme, "utf8") : "";
      if (!text.includes("## Mesh data path (`bench/mesh.ts`)")) {
        text = [
          "",
          "## Mesh data path (`bench/mesh.ts`)",
          "",
          "A fresh 2-node local cluster (`ambit up`); pod on node-1 → pod on node-2, HTTP/1.1 to `ambit demo-app http`.",
          "`mesh`: both pods enrolled (ztunnel → HBONE/mTLS → ztunnel); `direct`: neither enrolled (routed, no proxy).",
          "Keep-alive at a fixed concurrency; new connection = connect + request + first byte, sequential.",
          "Run `sudo node dist/bench/mesh.js --seconds 10 --concurrency 16 --conns 300`; raw JSON in `results/mesh-*.json`.",
          "",
          "| date | commit | machine | load (1 min) | path | keep-alive req/s | p50 / p99 ms | new conn p50 / p99 ms | ztunnel RSS idle / peak MiB (node-1, node-2) |",
          "|---|---|---|---|---|---|---|---|---|",
          "",
        ].join("\n");
        appendFileSync(readme, text);
      }
      for (const r of results as {
        path: string;
        keepAlive: { rps: number; p50: number; p99: number };
        newConnection: { p50: number; p99: number };
      }[]) {
        appendFileSync(
          readme,
          `| ${doc.date.slice(0, 16).replace("T", " ")} | ${commit} | ${cpu.split(" ").slice(0, 2).join(" ")}, ${doc.machine.cores} cores, Node ${process.version} | ${doc.machine.load1.toFixed(1)} | ${r.path} | ${r.keepAlive.rps.toFixed(0)} | ${r.keepAlive.p50.toFixed(2)} / ${r.keepAlive.p99.toFixed(2)} | ${r.newConnection.p50.toFixed(2)} / ${r.newConnection.p99.toFixed(2)} | ${idle.map((v) => v.toFixed(0)).join(", ")} / ${peak.map((v) => v.toFixed(0)).join(", ")} |\n`,
        );
      }
      process.stderr.write(`wrote ${file} and a row per path in bench/README.md\n`);
    }
  } finally {
    spawnSync(process.execPath, [CLI, "down", "--home", home, "--name", name], { stdio: "ignore" });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
