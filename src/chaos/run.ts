/**
 * Runs one scenario against the local cluster in `home`: checks the actions can run here, makes
 * sure the load's workloads exist (the `chaos` fixture), waits for a steady state (a request goes
 * through), then starts the load, fires each step at its time, stops the load, undoes what the
 * steps left behind, and judges the samples against the SLO.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { AdminClient } from "../cli/admin-client.js";
import type { Registry } from "../control/registry.js";
import { podNames } from "../local/cluster-plan.js";
import { requireClusterState } from "../local/cluster-state.js";
import { readAgentStatus } from "../local/cluster-up.js";
import { ACTIONS, type ActionContext } from "./actions.js";
import { ChaosError, ChaosErrorCode } from "./errors.js";
import { chaosFixture } from "./fixture.js";
import { connectInNetns, LoadGenerator, type LoadTarget, oneRequest } from "./load.js";
import type { Scenario } from "./scenario.js";
import { type ChaosResult, judge, type StepOutcome } from "./verdict.js";

export interface RunOptions {
  readonly home: string;
  /** Shortens or stretches the scenario: the load runs this long, step times scale with it. */
  readonly durationS?: number;
  readonly progress?: (line: string) => void;
  /** How long to wait for the fixture and a first successful request (default 120 s). */
  readonly settleTimeoutMs?: number;
  /**
   * Aborting it (the CLI's Ctrl-C) ends the run early: no further step fires, the step in progress
   * is told to stop, the load stops, every fault left is undone, and the run rejects with
   * CHAOS_ERR_INTERRUPTED. Nothing is judged.
   */
  readonly signal?: AbortSignal;
}

/** The built-in scenarios' directory (from src/chaos or dist/src/chaos). */
export function builtinScenarioDir(repoRoot: string): string {
  return join(repoRoot, "chaos", "scenarios");
}

/** Waits `ms`, or less if `signal` aborts first (the abort is not an error here). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal === undefined ? {} : { signal }).catch(() => {});
}

function interruptedBeforeLoad(name: string): ChaosError {
  return new ChaosError(
    ChaosErrorCode.INTERRUPTED,
    `${name}: interrupted before the load started; no fault was made`,
  );
}

async function resolveTarget(
  home: string,
  s: Scenario,
  prefix: string,
  deadline: number,
): Promise<LoadTarget> {
  const { from, to } = s.load;
  const netns = podNames(prefix, from.namespace, from.pod).netns;
  for (;;) {
    let host: string | undefined;
    if ("service" in to) {
      const reg = await (await AdminClient.connect({ home }))
        .get<Registry>("/v1/registry")
        .catch(() => undefined);
      host = reg?.services.find((x) => x.namespace === to.namespace && x.name === to.service)?.vip;
    } else {
      host = (await readAgentStatus(home))?.pods[`${to.namespace}/${to.pod}`]?.ip;
    }
    const status = await readAgentStatus(home);
    const source = status?.pods[`${from.namespace}/${from.pod}`];
    if (host !== undefined && source !== undefined && ["running", "no-command"].includes(source.state))
      return { netns, host, port: to.port };
    if (Date.now() > deadline) {
      const what =
        "service" in to ? `service ${to.namespace}/${to.service}` : `pod ${to.namespace}/${to.pod}`;
      throw new ChaosError(
        ChaosErrorCode.CLUSTER,
        `the load needs pod ${from.namespace}/${from.pod} running and ${what} with an address; check \`ambit get workloads -A\``,
      );
    }
    await sleep(250);
  }
}

export async function runScenario(s: Scenario, o: RunOptions): Promise<ChaosResult> {
  const progress = o.progress ?? (() => {});
  const state = await requireClusterState(o.home);
  for (const step of s.steps) {
    const why = await ACTIONS[step.action]?.unsupported?.(state, step.args);
    if (why !== undefined)
      throw new ChaosError(
        ChaosErrorCode.UNSUPPORTED,
        `${s.name}: ${step.where}: ${step.action}: unsupported here: ${why}`,
      );
  }
  const settleDeadline = Date.now() + (o.settleTimeoutMs ?? 120_000);
  if ([s.load.from.namespace, s.load.to.namespace].some((ns) => ns === "chaos" || ns === "chaos-l7")) {
    await (await AdminClient.connect({ home: o.home })).post("/v1/apply", {
      sources: [{ filename: "<chaos fixture>", yaml: chaosFixture(state.nodes.map((n) => n.name)) }],
    });
  }
  const target = await resolveTarget(o.home, s, state.prefix, settleDeadline);
  progress(
    `${s.name}: waiting for a steady state (${target.host}:${target.port} from ${s.load.from.namespace}/${s.load.from.pod})`,
  );
  const probe = Buffer.from("chaos steady-state probe");
  for (;;) {
    if (o.signal?.aborted) throw interruptedBeforeLoad(s.name);
    const r = await oneRequest(target, probe, 5000, connectInNetns);
    if (r.ok) break;
    if (Date.now() > settleDeadline)
      throw new ChaosError(
        ChaosErrorCode.CLUSTER,
        `no steady state: requests to ${target.host}:${target.port} fail (${r.error})`,
      );
    await sleep(500, o.signal);
  }
  if (o.signal?.aborted) throw interruptedBeforeLoad(s.name);

  const scale = o.durationS !== undefined ? o.durationS / s.load.durationS : 1;
  const durationMs = s.load.durationS * scale * 1000;
  const load = new LoadGenerator({ ...target, rps: s.load.rps, timeoutMs: s.load.timeoutMs });
  const abort = new AbortController();
  // The user's interruption reaches a step in progress through the steps' own signal.
  const interrupt = (): void => abort.abort();
  o.signal?.addEventListener("abort", interrupt, { once: true });
  const cleanups: (() => Promise<void>)[] = [];
  const ctx: ActionContext = {
    home: o.home,
    state,
    target,
    progress,
    onCleanup: (undo) => cleanups.push(undo),
    signal: abort.signal,
  };
  const outcomes: StepOutcome[] = [];
  progress(
    `${s.name}: load ${s.load.rps} rps for ${(durationMs / 1000).toFixed(0)} s, ${s.steps.length} step(s)`,
  );
  load.start();
  const ticker = setInterval(() => {
    const done = load.samples;
    const failed = done.filter((x) => !x.ok).length;
    progress(`  t=${(load.elapsed() / 1000).toFixed(0)}s requests=${done.length} failed=${failed}`);
  }, 5000);
  let faultAtMs: number | undefined;
  try {
    for (const step of s.steps) {
      const at = step.atS * scale * 1000;
      const wait = at - load.elapsed();
      if (wait > 0) await sleep(wait, abort.signal);
      if (abort.signal.aborted) break;
      faultAtMs ??= load.elapsed();
      const atS = Math.round(load.elapsed() / 100) / 10;
      try {
        const detail = await ACTIONS[step.action]?.run(ctx, step.args);
        outcomes.push({ atS, action: step.action, ok: true, detail: detail ?? "" });
        progress(`  t=${atS}s ${step.action}: ${detail}`);
      } catch (e) {
        const detail = `${(e as { code?: string }).code ?? "error"}: ${(e as Error).message}`;
        outcomes.push({ atS, action: step.action, ok: false, detail });
        progress(`  t=${atS}s ${step.action} FAILED: ${detail}`);
      }
    }
    const left = durationMs - load.elapsed();
    if (left > 0) await sleep(left, abort.signal);
  } finally {
    clearInterval(ticker);
    o.signal?.removeEventListener("abort", interrupt);
    abort.abort();
  }
  const summary = await load.stop();
  const undone = cleanups.length;
  for (const undo of cleanups.reverse()) await undo().catch(() => {});
  if (o.signal?.aborted) {
    throw new ChaosError(
      ChaosErrorCode.INTERRUPTED,
      `${s.name}: interrupted at t=${(load.elapsed() / 1000).toFixed(1)}s after ${outcomes.length} of ${s.steps.length} step(s); the load stopped and ${undone} fault(s) left by the steps were undone; nothing was judged`,
    );
  }
  return judge({
    scenario: s.name,
    slo: s.slo,
    samples: summary.samples,
    faultAtMs,
    durationMs,
    steps: outcomes,
  });
}
