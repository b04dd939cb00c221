/**
 * The slow-reader workload of slow-readers.test.ts: streams that write to an echo and never read
 * the answer fill both directions of a pooled session; a probe on the same session then either
 * answers or stalls. Run as a program (`node slow-readers-workload.js unblocked|kernel|control`),
 * it prints the result as JSON and exits.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { HbonePoolOptions } from "../../src/hbone/pool.js";
import { reserveSendBuffer } from "../../src/platform/send-buffer.js";
import { type Harness, roundTrip, startHarness } from "./fixtures.js";

const SLOW_READERS = 8;
const BYTES_EACH = 8 * 1024 * 1024;

/** Streams that write `BYTES_EACH` to the echo and never read what comes back. */
async function startSlowReaders(h: Harness): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const streams = await Promise.all(Array.from({ length: SLOW_READERS }, () => h.connect()));
  for (const s of streams) {
    s.on("error", () => {});
    s.pause();
    let sent = 0;
    const pump = (): void => {
      while (sent < BYTES_EACH && !s.destroyed) {
        sent += chunk.length;
        if (!s.write(chunk)) {
          s.once("drain", pump);
          return;
        }
      }
    };
    pump();
  }
}

/** One echo round trip on the same pooled session, or "stalled" after `ms`. */
async function probe(h: Harness, ms: number): Promise<"answered" | "stalled"> {
  const payload = Buffer.from("still moving?");
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), ms);
  });
  const answered = (async () => {
    const s = await h.connect();
    try {
      const back = await roundTrip(s, payload);
      assert.deepEqual(back, payload);
      return "answered" as const;
    } finally {
      s.destroy();
    }
  })();
  answered.catch(() => {});
  try {
    return await Promise.race([answered, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Slow readers on a pooled session, then one probe on the same session. Nothing is torn down: a
 * deadlocked node:http2 session cannot even be destroyed (it waits for its pending write to
 * finish), so each run is a process of its own that exits when it has its answer.
 */
async function underSlowReaders(pool: HbonePoolOptions): Promise<{ result: string; onKernel: number }> {
  const h = await startHarness({ pool, server: { drainTimeoutMs: 500 } });
  await startSlowReaders(h);
  // Long enough for both directions of the slow streams to fill every buffer on the path.
  await new Promise((r) => setTimeout(r, 1500));
  const result = await probe(h, 4000);
  return { result, onKernel: h.pool.stats.sessionsOnKernelBuffer };
}

const MODES: Record<string, HbonePoolOptions> = {
  unblocked: {},
  kernel: { reserveSendBuffer },
  // A reserveSendBuffer that reserves nothing and says it did: the unsafe configuration.
  control: { reserveSendBuffer: () => true },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pool = MODES[process.argv[2] ?? ""];
  if (pool === undefined) throw new Error(`usage: slow-readers-workload.js ${Object.keys(MODES).join("|")}`);
  const r = await underSlowReaders(pool);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  // Whatever the workload left stuck (a deadlocked session cannot be destroyed) ends with us.
  process.exit(0);
}
