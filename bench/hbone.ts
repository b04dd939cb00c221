/**
 * HBONE benchmark: in ONE run, side by side on loopback,
 *   direct      client → target                                   (plain TCP, the floor)
 *   hbone       client → [HbonePool] ⇒ [HboneServer] → target     (ambit, tuned windows/frames; each
 *               proxy in its own worker thread, like the two stunnel processes)
 *   hbone-untuned  same with Node's HTTP/2 defaults (64 KiB windows, 16 KiB frames): the "before"
 *   stunnel     client → stunnel(client) ⇒ stunnel(server) → target (classic sidecar mTLS pair)
 * measuring one-stream throughput, 64-byte round-trip latency on an open connection, and the time
 * to open a new tunnelled connection (connect + first echoed byte; HBONE on a pooled session,
 * stunnel with its default session resumption).
 *
 * Run: node dist/bench/hbone.js [--mb 1024] [--rtt 3000] [--conns 500] [--rounds 3] [--no-write]
 *        [--paths direct,hbone,hbone-untuned,hbone-16k-frames,stunnel]   (stunnel is always measured: ratios)
 * Each metric is measured in every round, paths interleaved; the best round per path is kept.
 * Writes bench/results/hbone-<date>.json and appends a row block to bench/README.md.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import type { HbonePoolOptions } from "../src/hbone/pool.js";
import type { HboneServerOptions } from "../src/hbone/server.js";
import { DEFAULT_CIPHER_SUITES } from "../src/hbone/tls.js";
import { SpiffeId } from "../src/identity/spiffe.js";
import { createTestPki } from "../src/identity/testing.js";
import type { PeerData, PlainCredential } from "./hbone-peer.js";

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "1024" },
    rtt: { type: "string", default: "3000" },
    conns: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
    paths: { type: "string", default: "direct,hbone,hbone-untuned,stunnel" },
    "no-write": { type: "boolean", default: false },
  },
});
const TOTAL = Number(args.mb) * 1024 * 1024;
const RTT_ROUNDS = Number(args.rtt);
const CONN_ROUNDS = Number(args.conns);
const ROUNDS = Number(args.rounds);

/**
 * The target speaks a one-byte preamble: 'S' = sink (count bytes until FIN, answer the count),
 * 'E' = echo. One target lets every path, stunnel included, reach both modes through one port.
 */
async function startTarget(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on("error", () => {});
    s.once("readable", function first() {
      const head = s.read(1) as Buffer | null;
      if (head === null) {
        s.once("readable", first);
        return;
      }
      if (head[0] === 0x53) {
        let n = 0;
        s.on("data", (c: Buffer) => {
          n += c.length;
        });
        s.on("end", () => s.end(String(n)));
      } else {
        s.pipe(s);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

type Dial = () => Promise<Duplex>;

function tcpDial(port: number): Dial {
  return () =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, noDelay: true, allowHalfOpen: true });
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
}

async function throughput(dial: Dial): Promise<number> {
  const s = await dial();
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const t0 = process.hrtime.bigint();
  s.write("S");
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!s.write(chunk)) {
          s.once("drain", pump);
          return;
        }
      }
      s.end();
      resolve();
    };
    pump();
  });
  let reply = "";
  s.on("data", (c: Buffer) => {
    reply += c.toString();
  });
  await once(s, "end");
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (Number(reply) !== TOTAL) throw new Error(`sink counted ${reply}, sent ${TOTAL}`);
  return TOTAL / 1e6 / secs;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function roundTrips(dial: Dial): Promise<{ p50: number; p99: number }> {
  const s = await dial();
  s.write("E");
  const msg = Buffer.alloc(64, 0x62);
  const samples: number[] = [];
  let pending = 0;
  let done: (() => void) | undefined;
  s.on("data", (c: Buffer) => {
    pending -= c.length;
    if (pending <= 0 && done !== undefined) done();
  });
  for (let i = 0; i < RTT_ROUNDS + 100; i++) {
    const t0 = process.hrtime.bigint();
    pending = 64;
    await new Promise<void>((resolve) => {
      done = resolve;
      s.write(msg);
    });
    if (i >= 100) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  s.end();
  s.resume();
  await once(s, "end").catch(() => {});
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function newConnections(dial: Dial): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < CONN_ROUNDS + 20; i++) {
    const t0 = process.hrtime.bigint();
    const s = await dial();
    s.write("Ex");
    // The echoed 'x' proves the whole path (and, for tunnels, the far side's upstream) is open.
    await once(s, "data");
    if (i >= 20) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    s.end();
    s.resume();
    await once(s, "close");
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, "close");
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`stunnel did not open port ${port}`);
}

interface Stunnel {
  port: number;
  stop(): Promise<void>;
}

async function startStunnelPair(
  targetPort: number,
  dir: string,
  files: Record<string, string>,
): Promise<Stunnel> {
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
  const serverPort = await freePort();
  const clientPort = await freePort();
  const common = [
    "foreground = yes",
    "pid =",
    "debug = 3",
    "syslog = no",
    "sslVersionMin = TLSv1.3",
    `ciphersuites = ${DEFAULT_CIPHER_SUITES}`,
    "socket = l:TCP_NODELAY=1",
    "socket = r:TCP_NODELAY=1",
  ];
  writeFileSync(
    join(dir, "server.conf"),
    [
      ...common,
      "[hbone-peer]",
      `accept = 127.0.0.1:${serverPort}`,
      `connect = 127.0.0.1:${targetPort}`,
      `cert = ${join(dir, "server.pem")}`,
      `key = ${join(dir, "server.key")}`,
      `CAfile = ${join(dir, "roots.pem")}`,
      "verifyChain = yes",
      "requireCert = yes",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "client.conf"),
    [
      ...common,
      "[sidecar]",
      "client = yes",
      `accept = 127.0.0.1:${clientPort}`,
      `connect = 127.0.0.1:${serverPort}`,
      `cert = ${join(dir, "client.pem")}`,
      `key = ${join(dir, "client.key")}`,
      `CAfile = ${join(dir, "roots.pem")}`,
      "verifyChain = yes",
    ].join("\n"),
  );
  const procs: ChildProcess[] = [];
  for (const conf of ["server.conf", "client.conf"]) {
    const p = spawn("stunnel4", [join(dir, conf)], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      if (err.length > 10_000) err = err.slice(-5_000);
    });
    p.once("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`stunnel ${conf} exited ${code}: ${err}\n`);
    });
    procs.push(p);
  }
  await waitForPort(serverPort);
  await waitForPort(clientPort);
  return {
    port: clientPort,
    async stop() {
      for (const p of procs) {
        if (p.exitCode === null) {
          p.kill("SIGTERM");
          await once(p, "exit");
        }
      }
    },
  };
}

const README = "bench/README.md";
const SECTION = "## HBONE tunnel (`bench/hbone.ts`)";
const SECTION_TEXT = `${SECTION}

One connection's path, each proxy in its own thread/process, all on loopback:
\`direct\` app → target; \`hbone\` app → HBONE client (HbonePool) ⇒ mTLS HTTP/2 CONNECT ⇒ HboneServer → target
(8 MiB stream / 16 MiB session windows, 1 MiB frames); \`hbone-untuned\` the same with Node's HTTP/2 defaults
(64 KiB windows, 16 KiB frames); \`stunnel\` app → stunnel4 client ⇒ TLS 1.3 mTLS ⇒ stunnel4 server → target
(a classic sidecar pair, default session resumption). Throughput: one stream, 1 GiB. rtt: 64-byte echo on an
open connection. new conn: connect + first echoed byte (HBONE on a pooled session; stunnel a new TLS
connection). Best of 3 interleaved rounds per path (the machine is shared: see the load column).
Run \`npx tsc -p . && node dist/bench/hbone.js\`; raw JSON in \`bench/results/hbone-*.json\`.

| date | commit | machine | load (1 min) | path | MB/s | vs stunnel | 64 B rtt p50 / p99 ms | new conn p50 / p99 ms | new conn vs stunnel |
|---|---|---|---|---|---|---|---|---|---|
`;

/** Adds rows at the end of this benchmark's table, creating the section if needed; other sections stay as they are. */
function insertRows(readme: string, rows: string[]): string {
  let text = readme;
  if (!text.includes(SECTION)) text = `${text.trimEnd()}\n\n${SECTION_TEXT}`;
  const start = text.indexOf(SECTION);
  const next = text.indexOf("\n## ", start + SECTION.length);
  const end = next === -1 ? text.length : next;
  const section = text.slice(start, end).trimEnd();
  return `${text.slice(0, start)}${section}\n${rows.join("\n")}\n${next === -1 ? "" : `\n${text.slice(next + 1)}`}`;
}

interface PathResult {
  throughputMBps: number;
  rttMs: { p50: number; p99: number };
  newConnMs: { p50: number; p99: number };
}

const UNTUNED = {
  streamWindowSize: 65_535,
  connectionWindowSize: 65_535,
  maxFrameSize: 16_384,
} as const satisfies Partial<HbonePoolOptions> & Partial<HboneServerOptions>;

async function main(): Promise<void> {
  const target = await startTarget();
  const targetPort = (target.address() as net.AddressInfo).port;
  const pki = createTestPki();
  const serverId = SpiffeId.of("bench", "server");
  const clientId = SpiffeId.of("bench", "client");
  const serverCred = pki.issue(serverId);
  const clientCred = pki.issue(clientId);

  const plain = (c: typeof serverCred): PlainCredential => ({
    identity: c.identity.toString(),
    keyPem: c.keyPem,
    certChainPem: c.certChainPem,
    rootsPem: c.rootsPem,
    serial: String(c.serial),
  });
  const peer = async (data: PeerData): Promise<{ port: number; stop(): Promise<void> }> => {
    const worker = new Worker(new URL("./hbone-peer.js", import.meta.url), { workerData: data });
    const [msg] = (await once(worker, "message")) as [{ port: number }];
    return {
      port: msg.port,
      async stop() {
        worker.postMessage("close");
        await once(worker, "exit");
      },
    };
  };
  // Topology identical to stunnel's: app → client proxy (own thread) ⇒ server proxy (own thread) → target.
  const hbone = async (tuning: PeerData["tuning"]) => {
    const server = await peer({
      role: "server",
      credential: plain(serverCred),
      peerIdentity: clientId.toString(),
      hbonePort: 0,
      targetPort,
      tuning,
    });
    const client = await peer({
      role: "client",
      credential: plain(clientCred),
      peerIdentity: serverId.toString(),
      hbonePort: server.port,
      targetPort,
      tuning,
    });
    return {
      dial: tcpDial(client.port),
      async close() {
        await client.stop();
        await server.stop();
      },
    };
  };

  const dir = mkdtempSync(join(os.tmpdir(), "ambit-bench-stunnel-"));
  const stunnel = await startStunnelPair(targetPort, dir, {
    "server.pem": serverCred.certChainPem,
    "server.key": serverCred.keyPem,
    "client.pem": clientCred.certChainPem,
    "client.key": clientCred.keyPem,
    "roots.pem": pki.rootsPem,
  });
  const tuned = await hbone({});
  const untuned = await hbone(UNTUNED);
  const smallFrames = await hbone({ maxFrameSize: 16_384 });
  const all: Record<string, Dial> = {
    direct: tcpDial(targetPort),
    hbone: tuned.dial,
    "hbone-untuned": untuned.dial,
    // Large windows, default 16 KiB frames: separates the effect of windows from that of frame size.
    "hbone-16k-frames": smallFrames.dial,
    stunnel: tcpDial(stunnel.port),
  };
  const wanted = String(args.paths).split(",");
  if (!wanted.includes("stunnel")) wanted.push("stunnel");
  const paths = Object.fromEntries(Object.entries(all).filter(([name]) => wanted.includes(name)));
  const results: Record<string, PathResult> = {};
  try {
    for (const name of Object.keys(paths)) {
      results[name] = { throughputMBps: 0, rttMs: { p50: 0, p99: 0 }, newConnMs: { p50: 0, p99: 0 } };
    }
    // Background load on a shared machine swings by 2-3x within a minute: interleave the paths in
    // ROUNDS and keep each path's best round, so every path gets the same chances.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, dial] of Object.entries(paths)) {
        process.stderr.write(`round ${round + 1}/${ROUNDS}: ${name}…\n`);
        const r = results[name] as PathResult;
        r.throughputMBps = Math.max(r.throughputMBps, await throughput(dial));
        const rtt = await roundTrips(dial);
        if (round === 0 || rtt.p50 < r.rttMs.p50) r.rttMs = rtt;
        const nc = await newConnections(dial);
        if (round === 0 || nc.p50 < r.newConnMs.p50) r.newConnMs = nc;
      }
    }
  } finally {
    await tuned.close();
    await untuned.close();
    await smallFrames.close();
    await stunnel.stop();
    target.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const st = results["stunnel"] as PathResult;
  const rows = Object.entries(results).map(([name, r]) => ({
    path: name,
    "MB/s": r.throughputMBps.toFixed(0),
    "vs stunnel": (r.throughputMBps / st.throughputMBps).toFixed(2),
    "rtt p50 ms": r.rttMs.p50.toFixed(3),
    "rtt p99 ms": r.rttMs.p99.toFixed(3),
    "new conn p50 ms": r.newConnMs.p50.toFixed(3),
    "new conn p99 ms": r.newConnMs.p99.toFixed(3),
    "new conn vs stunnel": (r.newConnMs.p50 / st.newConnMs.p50).toFixed(2),
  }));
  console.table(rows);

  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    // Not a git checkout: the result still records everything else.
  }
  const date = new Date().toISOString();
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    node: process.version,
    loadavg1: os.loadavg()[0],
  };
  const record = {
    bench: "hbone",
    date,
    commit,
    machine,
    params: {
      bytes: TOTAL,
      rttRounds: RTT_ROUNDS,
      connRounds: CONN_ROUNDS,
      rounds: ROUNDS,
      untuned: UNTUNED,
    },
    results,
  };
  console.log(JSON.stringify({ date, commit, machine }, null, 0));
  if (args["no-write"]) return;
  mkdirSync("bench/results", { recursive: true });
  const file = join("bench/results", `hbone-${date.replace(/[:]/g, "-").replace(/\..*/, "")}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  const runRows = rows.map(
    (r) =>
      `| ${date.slice(0, 16).replace("T", " ")} | ${commit} | ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} | ${machine.loadavg1?.toFixed(1)} | ${r.path} | ${r["MB/s"]} | ${r["vs stunnel"]} | ${r["rtt p50 ms"]} / ${r["rtt p99 ms"]} | ${r["new conn p50 ms"]} / ${r["new conn p99 ms"]} | ${r["new conn vs stunnel"]} |`,
  );
  writeFileSync(
    README,
    insertRows(existsSync(README) ? readFileSync(README, "utf8") : "# Benchmarks\n", runRows),
  );
  console.log(`wrote ${file} and added ${runRows.length} rows to ${README}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
