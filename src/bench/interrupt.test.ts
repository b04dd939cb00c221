import assert from "node:assert/strict";
import { test } from "node:test";
import { isAmbitError } from "../errors.js";
import { interruptible } from "./interrupt.js";

const isInterrupted = (e: unknown): boolean => isAmbitError(e, "BENCH_ERR_INTERRUPTED");

test("bench interruption: a step in progress rejects as soon as the signal aborts", async () => {
  const stop = new AbortController();
  const run = interruptible(stop.signal);
  const never = new Promise<number>(() => {});
  const step = run.step(never);
  stop.abort();
  await assert.rejects(step, isInterrupted);
  // Every later step too, without waiting for its work.
  await assert.rejects(run.step(new Promise<number>(() => {})), isInterrupted);
  run.dispose();
});

test("bench interruption: steps pass through untouched while the signal is not aborted", async () => {
  const stop = new AbortController();
  const run = interruptible(stop.signal);
  assert.equal(await run.step(Promise.resolve(7)), 7);
  await assert.rejects(run.step(Promise.reject(new Error("measured badly"))), /measured badly/);
  run.dispose();
  assert.equal(await interruptible(undefined).step(Promise.resolve(9)), 9, "no signal: plain await");
});

test("bench interruption: a signal aborted before the run rejects its first step", async () => {
  const stop = new AbortController();
  stop.abort();
  await assert.rejects(interruptible(stop.signal).step(Promise.resolve(1)), isInterrupted);
});
