/**
 * `ambit bench`: direct, ambient L4, ambient L7 (waypoint) and the sidecar model (HAProxy and
 * stunnel pairs) measured side by side on a fresh local cluster (docs/bench.md). Needs root.
 */
import type { Command } from "commander";
import type { BenchFlags } from "../../bench/options.js";
import { interruptibly } from "../process-io.js";

interface Flags extends BenchFlags {
  output?: string;
  html?: string;
  out?: string;
  save?: boolean;
}

const TOOLS: Record<string, readonly string[]> = {
  direct: ["iperf3"],
  "ambient-l4": ["iperf3"],
  "ambient-l7": ["iperf3"],
  sidecar: ["iperf3", "haproxy"],
  "sidecar-stunnel": ["iperf3", "stunnel4"],
};

export function register(program: Command): void {
  program
    .command("bench")
    .description("benchmark direct vs ambient (L4, L7) vs sidecar proxies on a fresh local cluster (root)")
    .option(
      "--scenario <list>",
      "comma-separated: direct, ambient-l4, ambient-l7, sidecar, sidecar-stunnel (default all)",
    )
    .option(
      "--pods <list>",
      "also compare total proxy memory/CPU of ambient vs sidecar at these pod counts, e.g. 10,50,100",
    )
    .option("--duration <d>", "length of each load phase, e.g. 10s", "10s")
    .option("--rate <n>", "open-loop request rate for the latency phase (req/s)", "1000")
    .option("--connections <n>", "keep-alive connections of the load phases", "16")
    .option("--new-connections <n>", "new connections measured one at a time", "300")
    .option("--iperf-seconds <n>", "length of each iperf3 test (one stream, then several)", "5")
    .option("--iperf-streams <n>", "parallel streams of the multi-stream iperf3 test (iperf3 -P)", "4")
    .option("--body-bytes <n>", "response size", "1024")
    .option("--scale-rate <n>", "total req/s of the --pods comparison", "200")
    .option(
      "--capture <mode>",
      "capture mode of the bench cluster: inpod or node (ambit up --capture)",
      "inpod",
    )
    .option(
      "--rounds <n>",
      "measure every scenario this many times, interleaved, and report the medians (the per-round figures are kept)",
      "1",
    )
    .option("-o, --output <format>", "text, md, json or html", "text")
    .option("--html <file>", "also write the HTML report (plots) to this file")
    .option("--out <file>", "write the output to this file instead of stdout")
    .option("--save", "also write bench/results/bench-<date>.{json,md,html} in the repository")
    .action(async (flags: Flags) => {
      const { benchConfig } = await import("../../bench/options.js");
      const { BenchError, BenchErrorCode } = await import("../../bench/errors.js");
      const format = flags.output ?? "text";
      if (!["text", "md", "json", "html"].includes(format))
        throw new BenchError(
          BenchErrorCode.BadOption,
          `-o ${JSON.stringify(format)}: expected text, md, json or html`,
        );
      const config = benchConfig(flags);
      if (process.getuid?.() !== 0)
        throw new BenchError(
          BenchErrorCode.Prerequisite,
          "ambit bench needs root: it builds network namespaces (run it with sudo)",
        );
      const { spawnSync } = await import("node:child_process");
      const tools = new Set([
        ...config.scenarios.flatMap((s) => TOOLS[s] ?? []),
        ...(config.pods.length > 0 ? ["haproxy"] : []),
      ]);
      const missing = [...tools].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
      if (missing.length > 0)
        throw new BenchError(
          BenchErrorCode.Prerequisite,
          `missing ${missing.join(", ")}: run scripts/setup.sh (installs the Debian packages in scripts/packages.txt)`,
        );
      const { runBench } = await import("../../bench/run.js");
      const report = await import("../../bench/report.js");
      const { repoRoot } = await import("../../local/cluster-config.js");
      const { writeFileSync, mkdirSync } = await import("node:fs");
      const { join } = await import("node:path");
      const started = Date.now();
      const progress = (line: string): void => {
        process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
      };
      // Ctrl-C (or SIGTERM) stops the run and removes what it built; a second one leaves at once.
      let results: Awaited<ReturnType<typeof runBench>>;
      try {
        results = await interruptibly(
          {
            stopping: "stopping and removing the bench cluster",
            again: "leave without removing it",
            left: "`ip netns list` shows what is left",
          },
          (signal) => runBench(config, progress, signal),
        );
      } catch (e) {
        if ((e as { code?: unknown }).code !== BenchErrorCode.Interrupted) throw e;
        // Steps abandoned by the interruption may still hold timers and sockets: do not wait for them.
        process.stderr.write(`error: ${(e as Error).message} [${BenchErrorCode.Interrupted}]\n`);
        process.exit(130);
      }
      const doc = report.benchDocument(config, results, report.gitCommit(repoRoot()));
      const text =
        format === "json"
          ? report.toJson(doc)
          : format === "html"
            ? report.toHtml(doc)
            : report.toMarkdown(doc);
      if (flags.out !== undefined) writeFileSync(flags.out, text);
      else process.stdout.write(text);
      if (flags.html !== undefined) writeFileSync(flags.html, report.toHtml(doc));
      if ((config.rounds ?? 1) === 1 && config.scenarios.length > 1)
        process.stderr.write(
          "one round: on a small shared machine single-stream throughput and new-connection latency vary by ±25 % from run to run; --rounds 3 reports medians (docs/bench.md)\n",
        );
      if (flags.save) {
        const dir = join(repoRoot(), "bench", "results");
        mkdirSync(dir, { recursive: true });
        const stem = join(dir, `bench-${doc.date.slice(0, 19).replace(/:/g, "-")}`);
        writeFileSync(`${stem}.json`, report.toJson(doc));
        writeFileSync(`${stem}.md`, report.toMarkdown(doc));
        writeFileSync(`${stem}.html`, report.toHtml(doc));
        process.stderr.write(`saved ${stem}.{json,md,html}\n`);
      }
    });
}
