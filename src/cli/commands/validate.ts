/**
 * `ambit validate -f <path> [-f <path> …] [-o json]`: checks manifests offline, exactly as `ambit
 * apply` would before applying anything. Exit 0 when the whole input is valid, 1 otherwise.
 */
import type { Command } from "commander";
import { formatConfigError } from "../../api/config-error.js";
import { type LoadResult, loadSources } from "../../api/load.js";
import type { Resource } from "../../api/types.js";

interface ValidateFlags {
  filename: string[];
  output?: string;
}

export function register(program: Command): void {
  program
    .command("validate")
    .description("validate manifests (files, directories, or - for stdin) without applying them")
    .requiredOption(
      "-f, --filename <path>",
      "file, directory (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option("-o, --output <format>", "output format: text (default) or json")
    .action(async (flags: ValidateFlags) => {
      const format = flags.output ?? "text";
      if (format !== "text" && format !== "json") {
        process.stderr.write(
          `error: unknown output format ${JSON.stringify(format)} (expected text or json)\n`,
        );
        process.exitCode = 2;
        return;
      }
      const result = await loadSources(flags.filename, { stdin: process.stdin });
      process.stdout.write(format === "json" ? renderJson(result) : renderText(result));
      process.exitCode = result.errors.length === 0 ? 0 : 1;
    });
}

function displayName(r: Resource): string {
  return r.metadata.namespace === undefined ? r.metadata.name : `${r.metadata.namespace}/${r.metadata.name}`;
}

export function renderText(result: LoadResult): string {
  if (result.errors.length > 0) {
    const lines = result.errors.map((e) => formatConfigError(e));
    lines.push(
      `${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; the input is invalid and nothing of it would be applied`,
    );
    return `${lines.join("\n")}\n`;
  }
  const counts = new Map<string, number>();
  for (const r of result.resources) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  const lines = [`valid: ${result.resources.length} resource${result.resources.length === 1 ? "" : "s"}`];
  for (const [kind, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${kind}: ${n}`);
  for (const r of result.resources) lines.push(`${r.kind} ${displayName(r)}`);
  return `${lines.join("\n")}\n`;
}

export function renderJson(result: LoadResult): string {
  const valid = result.errors.length === 0;
  const body = {
    valid,
    resources: valid
      ? result.resources.map((r) => ({
          kind: r.kind,
          ...(r.metadata.namespace === undefined ? {} : { namespace: r.metadata.namespace }),
          name: r.metadata.name,
        }))
      : [],
    errors: result.errors,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
