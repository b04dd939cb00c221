import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { splice } from "./splice.js";

/** A Duplex whose reads are pushed by the test and whose writes are recorded, one entry per call. */
function recorder(opts: { stallWrites?: boolean; highWaterMark?: number } = {}): {
  side: Duplex;
  calls: string[][];
} {
  const calls: string[][] = [];
  const side = new Duplex({
    highWaterMark: opts.highWaterMark,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      if (!opts.stallWrites) cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      if (!opts.stallWrites) cb();
    },
  });
  return { side, calls };
}

test("the first chunk of a turn is written at once, the rest of the turn leave in one writev", async () => {
  const a = recorder();
  const b = recorder();
  const result = splice(a.side, b.side);
  await nextTurn(); // a is flowing
  a.side.push(Buffer.from("GET"));
  a.side.push(Buffer.from(" / "));
  a.side.push(Buffer.from("HTTP/1.1"));
  assert.deepEqual(b.calls, [["GET"]], "the first chunk does not wait for the turn to end");
  await nextTurn();
  assert.deepEqual(b.calls, [["GET"], [" / ", "HTTP/1.1"]]);
  // A later turn starts again with an immediate write.
  a.side.push(Buffer.from("x"));
  assert.deepEqual(b.calls.at(-1), ["x"]);
  assert.equal(result.aToB, 3 + 3 + 8 + 1);
});

test("a writer still full when the turn's batch is flushed pauses its reader until 'drain'", async () => {
  const a = recorder();
  const b = recorder({ stallWrites: true, highWaterMark: 4 });
  splice(a.side, b.side);
  await nextTurn();
  a.side.push(Buffer.from("12345"));
  a.side.push(Buffer.from("67890"));
  assert.equal(a.side.isPaused(), false, "a turn is not cut short");
  await nextTurn();
  assert.equal(a.side.isPaused(), true, "more than the high-water mark is queued: reading stops");
  b.side.emit("drain");
  assert.equal(a.side.isPaused(), false);
});

test("an end right behind corked chunks delivers them before the EOF", async () => {
  const a = recorder();
  const b = recorder();
  let finished = false;
  b.side.on("finish", () => {
    finished = true;
  });
  splice(a.side, b.side);
  await nextTurn();
  a.side.push(Buffer.from("one"));
  a.side.push(Buffer.from("two"));
  a.side.push(null);
  await nextTurn();
  await nextTurn();
  assert.deepEqual(b.calls.flat(), ["one", "two"]);
  assert.ok(finished, "b's write side ended after the data");
});

test("a side reset by its peer ('aborted') while its writes stall: that direction is over, the other still delivers, then it is destroyed", async () => {
  const a = recorder();
  // b stands for an HTTP/2 stream with no window left: its writes never complete.
  const b = recorder({ stallWrites: true, highWaterMark: 4 });
  let done: { aToB: number; bToA: number; error: Error | undefined } | undefined;
  splice(a.side, b.side, (r) => {
    done = r;
  });
  await nextTurn();
  a.side.push(Buffer.from("upload-1"));
  await nextTurn();
  assert.equal(a.side.isPaused(), true, "backpressure: a waits for a 'drain' that will never come");
  // The peer resets the stream; what it sent before the reset is still to be read.
  b.side.emit("aborted");
  assert.equal(a.side.isPaused(), false, "a is read again (and what it sends is dropped)");
  a.side.push(Buffer.from("upload-2"));
  b.side.push(Buffer.from("response"));
  b.side.push(null);
  a.side.push(null);
  await nextTurn();
  await nextTurn();
  assert.deepEqual(a.calls.flat(), ["response"], "bytes that arrived before the reset reach a");
  assert.equal(b.calls.flat().includes("upload-2"), false, "nothing more is written into the reset side");
  assert.equal(b.side.destroyed, true, "the reset side is destroyed once its bytes were read");
  assert.ok(done !== undefined, "both directions are over");
  assert.equal(done.error, undefined);
});
