/**
 * An idle daemon's telemetry lets its event loop sleep. A proxy's logger and process metrics are set
 * up in a child process exactly as `ambit ztunnel` does; after one log line, the child's main thread
 * is counted while it idles, through the kernel's count of its voluntary context switches (each is
 * the loop going to sleep in epoll_wait, so each wake-up adds one).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { spawnTelemetryChild } from "./child.test-support.js";

async function voluntarySwitches(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/task/${pid}/status`, "utf8");
  const m = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status);
  if (m === null) throw new Error(`no voluntary_ctxt_switches in /proc/${pid}/task/${pid}/status`);
  return Number(m[1]);
}

test("a logger and process metrics wake an idle process at most a few times a second", async () => {
  const child =
    spawnTelemetryChild(`const metrics = createMeshMetrics({ processMetrics: true, defaultLabels: {} });
await metrics.registry.metrics();
log.info("ready");
setTimeout(() => {}, 10000);`);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
    });
    // Let the start-up's last work (the ready line's flush) settle.
    await new Promise((r) => setTimeout(r, 500));
    const before = await voluntarySwitches(child.pid ?? 0);
    await new Promise((r) => setTimeout(r, 3000));
    const woken = (await voluntarySwitches(child.pid ?? 0)) - before;
    // The event-loop delay sampler fires once a second; prom-client's default (every 10 ms) and a
    // flush timer left running (every 100 ms) came to ~330 here.
    assert.ok(woken <= 15, `the idle main thread was woken ${woken} times in 3 s`);
  } finally {
    child.kill();
  }
});
