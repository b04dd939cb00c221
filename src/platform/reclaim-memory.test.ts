import assert from "node:assert/strict";
import { test } from "node:test";
import { nativeAvailable } from "./native.js";
import { MemoryReclaimer } from "./reclaim-memory.js";

const MiB = 1024 * 1024;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("reclaims once growth past the threshold has stopped, trims after the collection, then waits for new growth", async () => {
  let rss = 60 * MiB;
  const calls: string[] = [];
  const reclaimed: [number, number][] = [];
  const r = new MemoryReclaimer({
    intervalMs: 3_600_000,
    thresholdBytes: 16 * MiB,
    trimDelayMs: 5,
    rss: () => rss,
    collect: () => calls.push("collect"),
    trim: () => {
      calls.push("trim");
      rss = 64 * MiB; // what was live
    },
    onReclaim: (before, after) => reclaimed.push([before / MiB, after / MiB]),
  });
  try {
    assert.equal(r.check(), false, "first look: the baseline");
    rss = 70 * MiB;
    assert.equal(r.check(), false, "growing, and only 10 MiB above the baseline");
    rss = 100 * MiB;
    assert.equal(r.check(), false, "still growing: a burst under way");
    rss += 512 * 1024;
    assert.equal(r.check(), true, "quiet (half a MiB more is logs and scrapes), 40 MiB above the baseline");
    assert.deepEqual(calls, ["collect"]);
    assert.equal(r.check(), false, "one reclaim at a time");
    await tick(30);
    assert.deepEqual(calls, ["collect", "trim"]);
    assert.deepEqual(reclaimed, [[100.5, 64]]);
    rss = 75 * MiB;
    r.check();
    assert.equal(r.check(), false, "quiet, but only 11 MiB above what the reclaim left");
    rss = 90 * MiB;
    r.check();
    assert.equal(r.check(), true, "26 MiB above it");
    assert.equal(r.reclaims, 2);
  } finally {
    r.stop();
  }
});

test("memory that stays live is not reclaimed for again and again", async () => {
  let rss = 40 * MiB;
  let collections = 0;
  const r = new MemoryReclaimer({
    intervalMs: 3_600_000,
    thresholdBytes: 16 * MiB,
    trimDelayMs: 1,
    rss: () => rss,
    collect: () => {
      collections += 1;
    },
    trim: () => {},
  });
  try {
    r.check();
    rss = 90 * MiB; // 10,000 held connections, say: nothing to free
    for (let i = 0; i < 10; i++) {
      r.check();
      await tick(5);
    }
    assert.equal(collections, 1);
  } finally {
    r.stop();
  }
});

test("a trim that throws (an addon without mallocTrim) is skipped, not fatal", async () => {
  let rss = 40 * MiB;
  const done: number[] = [];
  const r = new MemoryReclaimer({
    intervalMs: 3_600_000,
    thresholdBytes: 16 * MiB,
    trimDelayMs: 1,
    rss: () => rss,
    collect: () => {},
    trim: () => {
      throw new TypeError("native.mallocTrim is not a function");
    },
    onReclaim: (_before, after) => done.push(after),
  });
  try {
    rss = 80 * MiB;
    r.check(); // growing
    assert.equal(r.check(), true);
    await tick(20);
    assert.deepEqual(done, [80 * MiB], "the reclaim finished");
  } finally {
    r.stop();
  }
});

test("a real reclaim gives a dropped burst's Buffers back to the system (V8, glibc)", async (t) => {
  if (!nativeAvailable()) return t.skip("native addon not built (scripts/setup.sh builds it)");
  const r = new MemoryReclaimer({ intervalMs: 3_600_000, thresholdBytes: 16 * MiB, trimDelayMs: 200 });
  try {
    await tick(50);
    r.check(); // baseline
    // 48 MiB of 64 KiB chunks that survive several scavenges, as chunks queued behind a slow
    // writer do, then become garbage.
    let held: Buffer[] = [];
    for (let i = 0; i < 768; i++) held.push(Buffer.alloc(64 * 1024, i));
    let sink = 0;
    for (let i = 0; i < 3_000_000; i++) sink += [i, i + 1].length;
    assert.equal(held.length + sink, 768 + 6_000_000);
    held = [];
    const before = process.memoryUsage.rss();
    r.check(); // grown: a burst
    assert.equal(r.check(), true, "quiet and grown by ≥ 16 MiB");
    let after = before;
    for (let i = 0; i < 100 && before - after < 32 * MiB; i++) {
      await tick(20);
      after = process.memoryUsage.rss();
    }
    assert.ok(
      before - after >= 32 * MiB,
      `RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB`,
    );
  } finally {
    r.stop();
  }
});
