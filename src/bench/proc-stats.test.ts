import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuMeter, cpuSeconds, RssSampler, rssMiB } from "./proc-stats.js";

test("proc-stats: CPU and RSS of a live process from /proc; 0 for a missing one", () => {
  const meter = new CpuMeter([process.pid]);
  const sampler = new RssSampler([process.pid], 10);
  const end = performance.now() + 300;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1); // 300 ms of wall time on the CPU
  const hold = Buffer.alloc(32 << 20, 1); // touched: counts in RSS
  const used = meter.stop();
  const peak = sampler.stop().get(process.pid) ?? 0;
  assert.ok(used >= 0.1, `busy loop used ${used} CPU s`);
  assert.ok(peak >= 32 && rssMiB(process.pid) >= 32, `peak RSS ${peak} MiB with a 32 MiB buffer held`);
  assert.ok(x > 0 && hold[0] === 1);
  assert.equal(cpuSeconds(2 ** 22 + 12345), 0);
  assert.equal(rssMiB(2 ** 22 + 12345), 0);
});
