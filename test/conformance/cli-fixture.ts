/**
 * Shared by the `ambit … check` CLI tests: run the built CLI as a real process, and write small
 * manifests to a per-file temporary directory removed after the file's tests.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
export const example = join(root, "examples/payment-system");
const cli = join(root, "dist/src/cli/main.js");

export function runCli(
  args: string[],
  input?: string,
  timeoutMs = 60_000,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    input: input ?? "",
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Registers before/after hooks for a temporary directory; returns a writer of files in it. */
export function tempManifests(prefix: string): (name: string, text: string) => string {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return (name, text) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
}
