/**
 * `ambit up` stopped with Ctrl-C (SIGINT) half-way (root): it stops at the next step, tears down
 * what it had created — namespaces, the control plane, the node agent and ztunnels — and exits 130
 * with LOCAL_ERR_INTERRUPTED; the data directory holds no cluster, so `ambit up` can start afresh.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { requireClusterState } from "../../src/local/cluster-state.js";
import { processAlive } from "../../src/local/cluster-up.js";
import { eventually, interruptCli, needsRoot, netnsOfCluster, ROOT } from "./cluster.js";

test("ambit up: SIGINT after the control plane started tears everything down, exit 130", {
  skip: needsRoot,
}, async () => {
  const name = `i${randomBytes(3).toString("hex").slice(0, 5)}`;
  const home = await mkdtemp(join(tmpdir(), "ambit-up-interrupt-"));
  try {
    const r = await interruptCli(
      ["up", "--name", name, "--home", home, "-f", resolve(ROOT, "examples/payment-system")],
      /✓ control plane in /,
      async () => {
        const pid = (await requireClusterState(home)).control.pid ?? 0;
        assert.ok(pid > 0 && processAlive(pid), "the control plane runs");
        assert.ok((await netnsOfCluster(name)).length >= 4, "fabric, control and node namespaces exist");
        return pid;
      },
    );
    assert.equal(r.code, 130, r.output);
    assert.ok(Date.now() - r.sentAt < 60_000, "it stops at the next step, not when the cluster is up");
    assert.match(r.output, /SIGINT: stopping at the next step/);
    assert.match(r.output, /tearing down what was created/);
    assert.match(r.output, /\[LOCAL_ERR_INTERRUPTED\]/);
    assert.doesNotMatch(r.output, /is up in/, "it did not finish");
    assert.deepEqual(await netnsOfCluster(name), [], "no namespace of the cluster is left");
    await eventually(async () => !processAlive(r.before), 10_000);
    assert.equal(processAlive(r.before), false, "the control plane is gone");
    assert.equal(
      existsSync(join(home, "cluster.json")),
      false,
      "no cluster is recorded in the data directory",
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
