/**
 * Every built-in scenario, run in a short form against one real local cluster. The assertions are on
 * what was measured, never on timing: failed requests, recovery, each step's outcome; a scenario
 * with an SLO it must breach yields "fail". netem scenarios report CHAOS_ERR_UNSUPPORTED on
 * kernels without sch_netem (and run where it exists).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { checkAction } from "../../src/chaos/actions.js";
import { ChaosErrorCode } from "../../src/chaos/errors.js";
import { builtinScenarioDir, runScenario } from "../../src/chaos/run.js";
import { loadScenarios, type Scenario } from "../../src/chaos/scenario.js";
import type { ChaosResult } from "../../src/chaos/verdict.js";
import { repoRoot } from "../../src/local/cluster-config.js";
import { interruptCli, needsRoot, runCli, TestCluster } from "../e2e/cluster.js";

describe("chaos scenarios against a local cluster (short forms)", { skip: needsRoot }, () => {
  let c: TestCluster;
  let all: Scenario[] = [];
  const table: string[] = [];

  before(async () => {
    c = await TestCluster.up([]);
    all = await loadScenarios([builtinScenarioDir(repoRoot())], checkAction);
  });

  after(async () => {
    process.stdout.write(
      `# scenario | failed/requests | p99 (baseline) ms | recovery s | verdict\n${table.join("\n")}\n`,
    );
    await c?.destroy();
  });

  const scenario = (name: string): Scenario => {
    const s = all.find((x) => x.name === name);
    assert.ok(s, name);
    return s;
  };

  /** Runs `name` (optionally changed) for `durationS`, checks what every run must satisfy. */
  const run = async (
    name: string,
    durationS: number,
    change: (s: Scenario) => Scenario = (s) => s,
  ): Promise<ChaosResult> => {
    // A 30 s request timeout: the CI machine is shared and slow; what must not happen is a refused
    // or reset connection, and those show at once.
    const s0 = change(scenario(name));
    const s = { ...s0, load: { ...s0.load, timeoutMs: Math.max(s0.load.timeoutMs, 30_000) } };
    const r = await runScenario(s, { home: c.home, durationS, settleTimeoutMs: 180_000 });
    table.push(
      `# ${name} | ${r.failed_requests}/${r.requests} | ${r.p99_ms} (${r.baseline_p99_ms}) | ${r.recovery_s} | ${r.verdict}`,
    );
    // The load ran: about rps × duration requests were started and each one was accounted for.
    assert.ok(r.requests >= s.load.rps * durationS * 0.5, `${name}: ${r.requests} requests`);
    assert.ok(r.failed_requests <= r.requests);
    assert.equal(r.verdict, r.breaches.length === 0 ? "pass" : "fail", JSON.stringify(r.breaches));
    assert.equal(r.steps.length, s.steps.length);
    for (const st of r.steps) assert.ok(st.ok, `${name}: step ${st.action}: ${st.detail}`);
    return r;
  };

  const noFailures = (r: ChaosResult): void => {
    assert.equal(r.failed_requests, 0, `${r.scenario}: ${JSON.stringify(r.errors)}`);
    assert.equal(r.recovery_s, 0);
    assert.ok(r.recovered);
  };

  test("baseline: nothing fails; a too-tight SLO on the same kind of run fails", async () => {
    noFailures(await run("baseline", 5));
    const tight = await run("baseline", 4, (s) => ({ ...s, slo: { maxP99Ms: 0.001 } }));
    assert.equal(tight.verdict, "fail");
    assert.match(tight.breaches.join(), /p99/);
  });

  test("restart-ztunnel-source / -destination: the hand-over fails no request", async () => {
    noFailures(await run("restart-ztunnel-source", 15));
    noFailures(await run("restart-ztunnel-destination", 15));
  });

  test("kill-ztunnel-source: requests fail, and an SLO of zero failures says fail", async () => {
    const r = await run("kill-ztunnel-source", 25, (s) => ({ ...s, slo: { maxFailedRequests: 0 } }));
    assert.ok(r.failed_requests > 0, "killing the source ztunnel breaks new connections");
    assert.equal(r.verdict, "fail");
    assert.ok(r.recovery_s > 0);
  });

  test("kill-ztunnel-destination: measured, step done", async () => {
    await run("kill-ztunnel-destination", 25);
  });

  test("control plane: kill (and restart), graceful restart, outage: the data plane does not notice", async () => {
    noFailures(await run("kill-control-plane", 15));
    noFailures(await run("restart-control-plane", 10));
    noFailures(await run("control-plane-outage", 8));
  });

  test("invalid config is refused; a policy burst changes nothing for the load", async () => {
    noFailures(await run("invalid-config", 6));
    // 1,000 changes in the shipped scenario; 150 here for CI time.
    const burst = await run("policy-burst", 10, (s) => ({
      ...s,
      steps: s.steps.map((st) => ({ ...st, args: { ...st.args, count: 150 } })),
    }));
    noFailures(burst);
    assert.match(burst.steps[0]?.detail ?? "", /^150 policy changes pushed/);
  });

  test("link down / flap: measured, links restored", async () => {
    await run("link-down", 15);
    await run("link-flap", 12);
    // Restored: the next run starts from a steady state again (runScenario waits for one).
  });

  test("Ctrl-C while a node's link is down: exit 130, the link is restored before the exit", async () => {
    // link-down at 10 s, link-up at 20 s of 60: interrupted in between, the step's undo must bring
    // the link back, or the next run finds no steady state.
    const r = await interruptCli(
      ["chaos", "run", "link-down", "--home", c.home, "--duration", "60s"],
      /link-down: link of node-2 down/,
      async () => undefined,
    );
    assert.equal(r.code, 130, r.output);
    assert.ok(Date.now() - r.sentAt < 20_000, "it stops at once, not at the end of the scenario");
    assert.match(r.output, /SIGINT: stopping the load and undoing the faults/);
    assert.match(
      r.output,
      /after 1 of 2 step\(s\); the load stopped and 1 fault\(s\) left by the steps were undone.*\[CHAOS_ERR_INTERRUPTED\]/,
    );
    noFailures(await run("baseline", 4));
  });

  test("slow readers and idle connections: measured; idle connections do not hurt new requests", async () => {
    // Slow readers at both ends once deadlocked the pooled session they shared with the load
    // (node:http2 stops reading while a write is pending; src/hbone/unblocked-writes.ts).
    const slow = await run("slow-reader", 8);
    noFailures(slow);
    // 5,000 in the shipped scenario; 500 here for CI time.
    const idle = await run("idle-connections", 10, (s) => ({
      ...s,
      steps: s.steps.map((st) => ({ ...st, args: { ...st.args, count: 500 } })),
    }));
    noFailures(idle);
    assert.match(idle.steps[0]?.detail ?? "", /^500 idle connections held/);
  });

  test("fd limit: the ztunnel survives and recovers", async () => {
    const r = await run("fd-limit", 20);
    assert.ok(r.recovered, JSON.stringify(r.errors));
  });

  test("kill-waypoint: measured, step done", async () => {
    await run("kill-waypoint", 20);
  });

  test("certificates: rotation every 10 s, root rotation and a CA outage during renewal fail nothing", async () => {
    noFailures(await run("cert-rotate-10s", 25));
    noFailures(await run("rotate-root", 15));
    noFailures(await run("ca-unreachable-renewal", 22));
  });

  test("netem scenarios: run, or CHAOS_ERR_UNSUPPORTED with the reason", async () => {
    for (const name of ["netem-delay", "netem-loss", "netem-reorder"]) {
      try {
        await run(name, 8);
      } catch (e) {
        assert.equal((e as { code?: string }).code, ChaosErrorCode.UNSUPPORTED, String(e));
        assert.match((e as Error).message, /netem/);
      }
    }
  });

  test("ambit chaos run -o json prints the verdict fields; list -o json the scenarios", async () => {
    const r = await runCli(["chaos", "run", "baseline", "--home", c.home, "--duration", "4s", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ["scenario", "verdict", "requests", "failed_requests", "p99_ms", "recovery_s"])
      assert.ok(k in v, k);
    assert.equal(v.verdict, "pass");
    assert.match(r.stderr, /t=\d+s|baseline: load/);
    const l = await runCli(["chaos", "list", "-o", "json", "--home", c.home]);
    const list = JSON.parse(l.stdout) as { name: string; description: string; slo: object }[];
    assert.ok(list.length >= 20);
    const tight = await runCli(["chaos", "run", "nope", "--home", c.home]);
    assert.equal(tight.code, 1);
    assert.match(tight.stderr, /CHAOS_ERR_NOT_FOUND/);
  });
});
