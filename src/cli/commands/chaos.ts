/**
 * `ambit chaos list` / `ambit chaos run <scenario>`: fault scenarios against the local cluster
 * while a steady load runs through it, judged against each scenario's SLO (docs/chaos.md).
 * Progress goes to stderr; the verdict and report to stdout (text, or JSON with `-o json`).
 * Exit code: 0 pass, 1 fail (or the scenario could not run).
 */
import { join } from "node:path";
import type { Command } from "commander";
import { interruptibly } from "../process-io.js";

interface CommonFlags {
  dir?: string[];
  home?: string;
  output: string;
}

async function scenarios(flags: CommonFlags) {
  const { loadScenarios } = await import("../../chaos/scenario.js");
  const { checkAction } = await import("../../chaos/actions.js");
  const { builtinScenarioDir } = await import("../../chaos/run.js");
  const { repoRoot, resolveLocalHome } = await import("../../local/cluster-config.js");
  const dirs = [
    builtinScenarioDir(repoRoot()),
    join(resolveLocalHome(flags.home), "chaos"),
    ...(flags.dir ?? []),
  ];
  return loadScenarios(dirs, checkAction);
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function register(program: Command): void {
  const chaos = program
    .command("chaos")
    .description("fault scenarios against the local cluster under a steady load, judged against an SLO");

  chaos
    .command("list")
    .description("the scenarios: built-in, $AMBIT_HOME/chaos and --dir directories (YAML, one per file)")
    .option("--dir <dir>", "another directory of scenario files (repeatable)", collect)
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (flags: CommonFlags) => {
      const all = await scenarios(flags);
      if (flags.output === "json") {
        const out = all.map((s) => ({
          name: s.name,
          description: s.description,
          slo: {
            ...(s.slo.maxFailedRequests !== undefined
              ? { max_failed_requests: s.slo.maxFailedRequests }
              : {}),
            ...(s.slo.maxFailedRatio !== undefined ? { max_failed_ratio: s.slo.maxFailedRatio } : {}),
            ...(s.slo.maxP99Ms !== undefined ? { max_p99_ms: s.slo.maxP99Ms } : {}),
            ...(s.slo.maxRecoveryS !== undefined ? { max_recovery_s: s.slo.maxRecoveryS } : {}),
          },
        }));
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      const width = Math.max(...all.map((s) => s.name.length), 4);
      for (const s of all) process.stdout.write(`${s.name.padEnd(width)}  ${s.description}\n`);
    });

  chaos
    .command("run <scenario>")
    .description("run a scenario against the running local cluster (`ambit up`) and print the verdict")
    .option("--duration <d>", "run the load this long instead (e.g. 20s); step times scale with it")
    .option("--name <cluster>", "the cluster's name (checked against the data directory's cluster)")
    .option("--dir <dir>", "another directory of scenario files (repeatable)", collect)
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (name: string, flags: CommonFlags & { duration?: string; name?: string }) => {
      const { ChaosError, ChaosErrorCode } = await import("../../chaos/errors.js");
      const { parseDuration } = await import("../../chaos/scenario.js");
      const { runScenario } = await import("../../chaos/run.js");
      const { renderReport } = await import("../../chaos/verdict.js");
      const { resolveLocalHome } = await import("../../local/cluster-config.js");
      const { requireClusterState } = await import("../../local/cluster-state.js");
      const all = await scenarios(flags);
      const s = all.find((x) => x.name === name);
      if (s === undefined) {
        throw new ChaosError(
          ChaosErrorCode.NOT_FOUND,
          `no scenario "${name}"; \`ambit chaos list\` shows ${all.length} (add your own with --dir or $AMBIT_HOME/chaos)`,
        );
      }
      const home = resolveLocalHome(flags.home);
      const state = await requireClusterState(home);
      if (flags.name !== undefined && flags.name !== state.name) {
        throw new ChaosError(
          ChaosErrorCode.CLUSTER,
          `the cluster in ${home} is "${state.name}", not "${flags.name}"; pass its --home`,
        );
      }
      let durationS: number | undefined;
      if (flags.duration !== undefined) {
        durationS = parseDuration(flags.duration);
        if (durationS === undefined || durationS <= 0)
          throw new ChaosError(
            ChaosErrorCode.SCENARIO,
            `--duration "${flags.duration}" is not a duration like 20s or 2m`,
          );
      }
      // Ctrl-C (or SIGTERM) ends the run and undoes its faults; a second one leaves at once.
      const result = await interruptibly(
        {
          stopping: "stopping the load and undoing the faults",
          again: "leave at once",
          left: "faults still in place stay (a link down, a blocked port): `ambit down` and `ambit up` start afresh",
        },
        (signal) =>
          runScenario(s, {
            home,
            ...(durationS !== undefined ? { durationS } : {}),
            progress: (line) => process.stderr.write(`${line}\n`),
            signal,
          }),
      );
      if (flags.output === "json") process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(renderReport(result, s.slo));
      process.exitCode = result.verdict === "pass" ? 0 : 1;
    });
}
