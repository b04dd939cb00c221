/**
 * Slow readers at both ends of a pooled session must not stall its other streams. node:http2
 * stops reading a session's socket while one of its writes is pending; with both directions of
 * some streams full (clients that write and never read, an echo that answers them), a session
 * whose writes can stay pending deadlocks with its server, PINGs and new streams included
 * (src/hbone/unblocked-writes.ts). Two ways out, both checked here: `UnblockedWrites` (the
 * default), and a kernel send buffer that holds all the server's window lets the session send
 * (`reserveSendBuffer`, root: SO_SNDBUFFORCE). The control, a session on its TLS socket with the
 * kernel's default buffer, shows the workload deadlocks without either.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { promisify } from "node:util";

const notRoot = process.getuid?.() !== 0 ? "needs root (SO_SNDBUFFORCE needs CAP_NET_ADMIN)" : false;

/** The workload in a process of its own (slow-readers-workload.ts): a stuck session dies with it. */
async function run(mode: "unblocked" | "kernel" | "control"): Promise<{ result: string; onKernel: number }> {
  const program = new URL("./slow-readers-workload.js", import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, [program, mode], { timeout: 60_000 });
  return JSON.parse(stdout) as { result: string; onKernel: number };
}

describe("HBONE session under slow readers at both ends", () => {
  test("default pool (UnblockedWrites): other streams keep moving", async () => {
    const r = await run("unblocked");
    assert.equal(r.onKernel, 0);
    assert.equal(r.result, "answered");
  });

  test("kernel send buffer reserved (SO_SNDBUFFORCE): on the TLS socket, other streams keep moving", {
    skip: notRoot,
  }, async () => {
    const r = await run("kernel");
    assert.equal(r.onKernel, 1, "the session runs on its TLS socket");
    assert.equal(r.result, "answered");
  });

  test("control: on the TLS socket with the kernel's default buffer, the session deadlocks", async () => {
    const r = await run("control");
    assert.equal(r.onKernel, 1);
    assert.equal(r.result, "stalled");
  });
});
