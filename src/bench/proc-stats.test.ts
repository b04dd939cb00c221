import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CpuMeter,
  cpuSeconds,
  MachineCpuMeter,
  memoryMiB,
  RssSampler,
  rssMiB,
  waitForReclaim,
} from "./proc-stats.js";

test("proc-stats: CPU and RSS of a live process from /proc; 0 for a missing one", () => {
  const meter = new CpuMeter([process.pid]);
  const machine = new MachineCpuMeter();
  const sampler = new RssSampler([process.pid], 10);
  const end = performance.now() + 300;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1); // 300 ms of wall time on the CPU
  const hold = Buffer.alloc(32 << 20, 1); // touched: counts in RSS
  const used = meter.stop();
  const machineCores = machine.stop();
  const peak = sampler.stop().get(process.pid) ?? { rss: 0, anon: 0 };
  assert.ok(used >= 0.1, `busy loop used ${used} CPU s`);
  // This process kept one core busy for most of the interval; the machine counts it too.
  assert.ok(machineCores >= 0.3, `machine busy cores ${machineCores} during a busy loop`);
  assert.ok(
    peak.rss >= 32 && rssMiB(process.pid) >= 32,
    `peak RSS ${peak.rss} MiB with a 32 MiB buffer held`,
  );
  // The buffer is anonymous memory; the node binary's pages are file-backed, in RSS but not in anon.
  assert.ok(peak.anon >= 32, `peak anonymous memory ${peak.anon} MiB with a 32 MiB buffer held`);
  const now = memoryMiB(process.pid);
  assert.ok(now.anon < now.rss, `anon ${now.anon} MiB < RSS ${now.rss} MiB`);
  assert.ok(x > 0 && hold[0] === 1);
  assert.equal(cpuSeconds(2 ** 22 + 12345), 0);
  assert.equal(rssMiB(2 ** 22 + 12345), 0);
  assert.deepEqual(memoryMiB(2 ** 22 + 12345), { rss: 0, anon: 0 });
});

test("proc-stats: machine busy cores over a given span count the same busy time", async () => {
  const machine = new MachineCpuMeter();
  await new Promise((r) => setTimeout(r, 400)); // idle: a span the measured work did not use
  const start = performance.now();
  let x = 0;
  while (performance.now() < start + 300) x += Math.sqrt(x + 1);
  const busyFor = (performance.now() - start) / 1000;
  const coresOverSpan = machine.stop(busyFor);
  // Over the busy 300 ms alone this process kept about one core busy (the idle 400 ms before it
  // would halve that in an average over the whole interval).
  assert.ok(coresOverSpan >= 0.6, `busy cores over the busy span: ${coresOverSpan}`);
  assert.equal(machine.stop(0), 0);
  assert.ok(x > 0);
});

test("proc-stats: waitForReclaim waits for each process to come back near its start or to drop, and no longer than asked", async () => {
  const series = (values: number[]) => {
    let i = 0;
    return () => values[Math.min(i++, values.length - 1)] as number;
  };
  // pid 1: 60 above its start, then a reclaim drops it to 80 (still 20 above: settled by the drop);
  // pid 2: already near its start.
  const rss1 = series([130, 130, 130, 80, 80]);
  const slept: number[] = [];
  const r = await waitForReclaim(
    new Map([
      [1, 70],
      [2, 70],
    ]),
    {
      thresholdMiB: 16,
      dropMiB: 8,
      maxMs: 30_000,
      rss: (pid) => (pid === 1 ? rss1() : 75),
      sleep: async (ms) => {
        slept.push(ms);
      },
    },
  );
  assert.deepEqual(r, { waitedMs: 2000, settled: true });
  // A process that never gives anything back: the wait ends at maxMs, unsettled.
  const stuck = await waitForReclaim(new Map([[1, 70]]), {
    thresholdMiB: 16,
    dropMiB: 8,
    maxMs: 5000,
    rss: () => 130,
    sleep: async () => {},
  });
  assert.deepEqual(stuck, { waitedMs: 5000, settled: false });
});
