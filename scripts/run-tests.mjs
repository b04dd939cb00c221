// Runs every compiled test file with node's test runner.
// Unit tests sit next to their source (dist/src/**/*.test.js); integration and netns tests in dist/test/.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...walk("dist/src", []), ...walk("dist/test", [])]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files found (did the build run?)");
  process.exit(1);
}
// A file still running 60 s before its timeout reports what it waits on (scripts/test-watchdog.mjs).
const timeoutSeconds = Number(process.env.AMBIT_TEST_TIMEOUT_S ?? "600");
process.env.AMBIT_TEST_WATCHDOG_S ??= String(Math.max(1, timeoutSeconds - 60));
const r = spawnSync(
  process.execPath,
  [
    "--enable-source-maps",
    "--import=./scripts/test-watchdog.mjs",
    "--test",
    "--test-concurrency=2",
    `--test-timeout=${timeoutSeconds * 1000}`,
    "--test-reporter=tap",
    "--test-reporter-destination=stdout",
    "--test-reporter=./scripts/test-summary-reporter.mjs",
    "--test-reporter-destination=stdout",
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
