/**
 * `ambit bench` stopped with Ctrl-C (SIGINT) in the middle of measuring (root, a real local
 * cluster): it exits 130 with BENCH_ERR_INTERRUPTED, and leaves nothing behind — no network
 * namespace of its cluster, none of the processes that ran in them (ztunnels, pods, the HAProxy
 * sidecars it started).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { processAlive } from "../../src/local/cluster-up.js";
import { CLI, eventually, needsRoot } from "../e2e/cluster.js";

function netnsOf(cluster: string): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${cluster}-`));
}

function pidsIn(netns: string): number[] {
  const out = spawnSync("ip", ["netns", "pids", netns], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(Number);
}

test("ambit bench: SIGINT while measuring removes the cluster and the sidecars, exit 130", {
  skip: needsRoot,
}, async () => {
  const child = spawn(
    process.execPath,
    [CLI, "bench", "--scenario", "sidecar", "--duration", "30s", "--rate", "50", "--connections", "2"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  try {
    // Measuring: the open-loop phase of the sidecar path has started.
    const measuring = await eventually(async () => /sidecar: 50 req\/s open loop/.test(stderr), 240_000);
    assert.ok(measuring, `the sidecar path's open loop never started:\n${stderr}`);
    const cluster = /local cluster "([a-z0-9]+)"/.exec(stderr)?.[1] ?? "";
    assert.notEqual(cluster, "", stderr);
    const namespaces = netnsOf(cluster);
    const pids = namespaces.flatMap(pidsIn);
    const sidecars = pidsIn(`${cluster}-client.bench-sidecar`);
    assert.ok(sidecars.length > 0, "the HAProxy client sidecar runs in the client pod");
    assert.ok(pids.length >= 8, `processes in the cluster's namespaces: ${pids.length}`);
    child.kill("SIGINT");
    const code = await exited;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGINT: stopping/);
    assert.match(stderr, /\[BENCH_ERR_INTERRUPTED\]/);
    assert.deepEqual(netnsOf(cluster), [], "no network namespace of the bench cluster is left");
    // Processes that were killed may take a moment to be reaped by their parents.
    await eventually(async () => !pids.some(processAlive), 10_000);
    assert.deepEqual(pids.filter(processAlive), [], "every process that ran in them is gone");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
