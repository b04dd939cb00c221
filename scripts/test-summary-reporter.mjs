// A node:test reporter that prints, after every other line of output, what went wrong and where:
// each failed or cancelled test with its file, its path of suite names and its error, then the slowest files.
// CI keeps only the tail of a run's output; this puts the cause of a red run in that tail.
// AMBIT_TEST_FILES=1 also prints every file's count of tests and suites.
import { relative } from "node:path";

const fileOf = (data) => (data.file ? relative(process.cwd(), data.file) : "(unknown file)");

export default async function* summary(source) {
  const problems = [];
  const files = new Map(); // file -> { tests, suites, ms }
  const stacks = new Map(); // file -> names of the enclosing tests by nesting level (files interleave)
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail" && event.type !== "test:start") continue;
    const data = event.data;
    const file = fileOf(data);
    const stack = stacks.get(file) ?? [];
    stacks.set(file, stack);
    if (event.type === "test:start") {
      stack[data.nesting] = data.name;
      continue;
    }
    const entry = files.get(file) ?? { tests: 0, suites: 0, ms: 0 };
    files.set(file, entry);
    const isSuite = data.details?.type === "suite";
    if (isSuite) entry.suites += 1;
    else entry.tests += 1;
    if (data.nesting === 0) entry.ms += data.details?.duration_ms ?? 0;
    if (event.type === "test:fail") {
      const error = data.details?.error;
      const cause = error?.cause ?? error;
      problems.push({
        file,
        path: [...stack.slice(0, data.nesting), data.name].join(" > "),
        kind: error?.failureType ?? "failure",
        ms: Math.round(data.details?.duration_ms ?? 0),
        message: String(cause?.message ?? cause ?? "")
          .split("\n")
          .slice(0, 12)
          .join("\n#          "),
        isSuite,
      });
    }
  }
  yield "\n# ---- ambit test summary ----\n";
  const own = problems.filter((p) => !p.isSuite || p.kind !== "subtestsFailed");
  if (own.length === 0) yield "# no failed or cancelled test\n";
  for (const p of own) {
    yield `# ${p.kind === "cancelledByParent" || p.kind === "testTimeoutFailure" ? "CANCELLED" : "FAILED"} [${p.kind}] after ${p.ms} ms\n`;
    yield `#   file: ${p.file}\n#   test: ${p.path}\n#   error: ${p.message}\n`;
  }
  const slow = [...files].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  yield `# slowest files: ${slow.map(([f, e]) => `${f} ${(e.ms / 1000).toFixed(1)} s`).join(", ")}\n`;
  if (process.env.AMBIT_TEST_FILES === "1") {
    for (const [f, e] of [...files].sort()) yield `# file ${f}: ${e.tests} tests, ${e.suites} suites\n`;
  }
}
