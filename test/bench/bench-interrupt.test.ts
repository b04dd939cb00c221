/**
 * `ambit bench` stopped with Ctrl-C (SIGINT) in the middle of measuring (root, a real local
 * cluster): it exits 130 with BENCH_ERR_INTERRUPTED, and leaves nothing behind — no network
 * namespace of its cluster, none of the processes that ran in them (ztunnels, pods, the HAProxy
 * sidecars it started).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { processAlive } from "../../src/local/cluster-up.js";
import { eventually, interruptCli, needsRoot, netnsOfCluster, pidsInNetns } from "../e2e/cluster.js";

test("ambit bench: SIGINT while measuring removes the cluster and the sidecars, exit 130", {
  skip: needsRoot,
}, async () => {
  let cluster = "";
  const r = await interruptCli(
    ["bench", "--scenario", "sidecar", "--duration", "30s", "--rate", "50", "--connections", "2"],
    // Measuring: the open-loop phase of the sidecar path has started.
    /sidecar: 50 req\/s open loop/,
    async (output) => {
      cluster = /local cluster "([a-z0-9]+)"/.exec(output)?.[1] ?? "";
      assert.notEqual(cluster, "", output);
      const sidecars = await pidsInNetns(`${cluster}-client.bench-sidecar`);
      assert.ok(sidecars.length > 0, "the HAProxy client sidecar runs in the client pod");
      const pids = (await Promise.all((await netnsOfCluster(cluster)).map(pidsInNetns))).flat();
      assert.ok(pids.length >= 8, `processes in the cluster's namespaces: ${pids.length}`);
      return pids;
    },
  );
  assert.equal(r.code, 130, r.output);
  assert.match(r.output, /SIGINT: stopping/);
  assert.match(r.output, /\[BENCH_ERR_INTERRUPTED\]/);
  assert.deepEqual(await netnsOfCluster(cluster), [], "no network namespace of the bench cluster is left");
  // Processes that were killed may take a moment to be reaped by their parents.
  await eventually(async () => !r.before.some(processAlive), 10_000);
  assert.deepEqual(r.before.filter(processAlive), [], "every process that ran in them is gone");
});
