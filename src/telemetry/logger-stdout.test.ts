/**
 * The default destination (batched stdout) in a real child process: every line reaches the pipe
 * while the process lives on idle, including lines queued behind a write in flight, and what is
 * buffered at exit is written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnTelemetryChild } from "./child.test-support.js";

interface Seen {
  readonly lines: string[];
  /** For each `msg`, the milliseconds from its record's `time` to its arrival here. */
  readonly at: Map<string, number>;
  readonly exited: Promise<number | null>;
}

/** Runs `body` (JavaScript with `log`, a logger) in a child process and collects its stdout lines. */
function runChild(body: string, options: { pauseAfterReadyMs?: number } = {}): Seen {
  const child = spawnTelemetryChild(body);
  const seen: Seen = {
    lines: [],
    at: new Map(),
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  let rest = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) {
      seen.lines.push(line);
      const record = JSON.parse(line) as { msg: string; time: string };
      if (record.msg === "ready" && options.pauseAfterReadyMs !== undefined) {
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), options.pauseAfterReadyMs);
      }
      seen.at.set(record.msg, Date.now() - Date.parse(record.time));
    }
  });
  return seen;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a lone line reaches stdout within the flush interval while the process stays idle", async () => {
  const seen = runChild(
    `log.info("ready"); setTimeout(() => log.info("lone"), 200); setTimeout(() => {}, 3000);`,
  );
  await until("the lone line", () => seen.at.has("lone"), 2000);
  // Flushed at most 100 ms after it was written (plus scheduling on a busy machine), long before
  // the child exits and the exit flush would write it.
  const at = seen.at.get("lone") ?? Number.NaN;
  assert.ok(at < 1000, `the lone line arrived ${at} ms after it was logged`);
  assert.equal(await seen.exited, 0);
});

test("a line queued behind a write in flight is flushed without another line to push it", async () => {
  // The parent stops reading, so one 1 MiB line (more than a socket pair holds) fills the pipe and the child's write of it stays
  // in flight. A short line logged meanwhile waits in the buffer through flushes that find the
  // write busy; when the write completes it is below the batch size, and it must still come out
  // at once, with nothing logged after it, not when the child exits 4 s later.
  const seen = runChild(
    `log.info("ready");
setTimeout(() => {
  log.info({ pad: "x".repeat(1024 * 1024) }, "big");
  setTimeout(() => log.info("behind"), 300);
}, 100);
setTimeout(() => {}, 4000);`,
    { pauseAfterReadyMs: 700 },
  );
  await until("the line behind the big write", () => seen.at.has("behind"), 3000);
  assert.ok(seen.at.has("big"));
  const at = seen.at.get("behind") ?? Number.NaN;
  assert.ok(at < 2000, `the line behind arrived ${at} ms after it was logged`);
  assert.equal(await seen.exited, 0);
});

test("what is buffered at exit is written", async () => {
  const seen = runChild(`log.info("ready"); log.info("last words"); setTimeout(() => process.exit(0), 20);`);
  assert.equal(await seen.exited, 0);
  assert.deepEqual(
    seen.lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
    ["ready", "last words"],
  );
});
