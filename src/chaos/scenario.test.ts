import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../local/cluster-config.js";
import { ACTIONS, checkAction } from "./actions.js";
import { ChaosErrorCode } from "./errors.js";
import { builtinScenarioDir } from "./run.js";
import { loadScenarios, parseDuration, parseScenario } from "./scenario.js";
import { judge } from "./verdict.js";

const GOOD = `name: t
description: a test
slo:
  max_failed_requests: 0
load:
  rps: 5
  duration: 10s
steps:
  - at: 2s
    action: kill-ztunnel
    args:
      node: node-2
`;

function errorOf(text: string): { code: string; message: string } {
  try {
    parseScenario(text, "s.yaml", checkAction);
  } catch (e) {
    return e as { code: string; message: string };
  }
  assert.fail("expected an error");
}

test("a valid scenario loads with defaults for the load's endpoints", () => {
  const s = parseScenario(GOOD, "s.yaml", checkAction);
  assert.equal(s.load.durationS, 10);
  assert.deepEqual(s.load.from, { namespace: "chaos", pod: "chaos-client" });
  assert.equal(s.steps[0]?.atS, 2);
  assert.deepEqual(s.steps[0]?.args, { node: "node-2" });
});

test("loader errors name file:line:col and the field", () => {
  const table: [string, string, RegExp][] = [
    [
      "unknown action",
      GOOD.replace("kill-ztunnel", "kill-everything"),
      /^s\.yaml:10:13: steps\[0\]\.action: unknown action/,
    ],
    [
      "missing arg",
      GOOD.replace("    args:\n      node: node-2\n", ""),
      /^s\.yaml:9:5: steps\[0\]: action kill-ztunnel needs args\.node/,
    ],
    [
      "unknown arg",
      GOOD.replace("node: node-2", "nod: node-2"),
      /^s\.yaml:12:12: steps\[0\]\.args\.nod: action kill-ztunnel has no argument "nod"/,
    ],
    [
      "bad duration",
      GOOD.replace("duration: 10s", "duration: ten"),
      /^s\.yaml:7:13: load\.duration: expected a duration/,
    ],
    [
      "step after the end",
      GOOD.replace("at: 2s", "at: 20s"),
      /^s\.yaml:9:9: steps\[0\]\.at: 20 s is after the load ends/,
    ],
    [
      "unknown slo field",
      GOOD.replace("max_failed_requests", "max_fails"),
      /^s\.yaml:4:14: slo\.max_fails: unknown field/,
    ],
    [
      "bad name",
      GOOD.replace("name: t", "name: Bad_Name"),
      /^s\.yaml:1:7: name: "Bad_Name" is not a lower-case DNS-1123 name/,
    ],
    [
      "rps out of range",
      GOOD.replace("rps: 5", "rps: 0"),
      /^s\.yaml:6:8: load\.rps: expected a number 1\.\.500/,
    ],
    ["not yaml", "name: [\n", /^s\.yaml:\d+:\d+: not valid YAML/],
    [
      "both service and pod",
      GOOD.replace(
        "  duration: 10s\n",
        "  duration: 10s\n  to: { namespace: a, service: b, pod: c, port: 1 }\n",
      ),
      /load\.to: give exactly one of service, pod/,
    ],
  ];
  for (const [what, text, pattern] of table) {
    const e = errorOf(text);
    assert.equal(e.code, ChaosErrorCode.SCENARIO, what);
    assert.match(e.message, pattern, what);
  }
});

test("durations", () => {
  assert.equal(parseDuration("500ms"), 0.5);
  assert.equal(parseDuration("2m"), 120);
  assert.equal(parseDuration(3), 3);
  assert.equal(parseDuration("3 hours"), undefined);
});

test("the built-in scenarios load: at least 20, every action known, names match files", async () => {
  const all = await loadScenarios([builtinScenarioDir(repoRoot())], checkAction);
  assert.ok(all.length >= 20, `${all.length} scenarios`);
  const used = new Set(all.flatMap((s) => s.steps.map((st) => st.action)));
  for (const a of used) assert.ok(ACTIONS[a] !== undefined, a);
});

test("every chaos error code is documented in docs/chaos.md", () => {
  const doc = readFileSync(join(repoRoot(), "docs", "chaos.md"), "utf8");
  const documented = new Set(doc.match(/CHAOS_ERR_[A-Z_]+/g) ?? []);
  assert.deepEqual([...documented].sort(), Object.values(ChaosErrorCode).sort());
});

test("verdict: computed from the samples; a breached limit fails, recovery is fault → last failure", () => {
  const samples = [
    ...Array.from({ length: 50 }, (_, i) => ({ at: i * 100, latencyMs: 10, ok: true })),
    { at: 5000, latencyMs: 200, ok: false, error: "ECONNRESET" },
    { at: 6000, latencyMs: 500, ok: false, error: "ECONNRESET" },
    ...Array.from({ length: 50 }, (_, i) => ({ at: 7000 + i * 100, latencyMs: 20, ok: true })),
  ];
  const base = { scenario: "x", samples, faultAtMs: 4000, durationMs: 12_000, steps: [] };
  const pass = judge({ ...base, slo: { maxFailedRequests: 2, maxRecoveryS: 3 } });
  assert.equal(pass.verdict, "pass");
  assert.equal(pass.requests, 102);
  assert.equal(pass.failed_requests, 2);
  assert.equal(pass.recovery_s, 2.5);
  assert.equal(pass.baseline_p99_ms, 10);
  assert.equal(pass.p99_ms, 20);
  const fail = judge({ ...base, slo: { maxFailedRequests: 1, maxP99Ms: 15, maxRecoveryS: 1 } });
  assert.equal(fail.verdict, "fail");
  assert.equal(fail.breaches.length, 3);
  const stuck = judge({
    ...base,
    samples: [...samples, { at: 11_500, latencyMs: 1, ok: false }],
    slo: { maxFailedRatio: 1 },
  });
  assert.equal(stuck.verdict, "fail");
  assert.equal(stuck.recovered, false);
});
