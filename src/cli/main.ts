#!/usr/bin/env node
/**
 * The `ambit` executable. Every file in ./commands exports `register(program)`; they are loaded
 * here so that each area owns its commands without touching a shared list.
 *
 * A run of one command loads only that command's module when its file has the command's name
 * (`ambit ztunnel …` → commands/ztunnel.js): a long-running ztunnel or waypoint then does not carry
 * every other command's dependencies (~8 MB of RSS each, docs/performance.md). Help, root options
 * and commands whose file is named otherwise load them all.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command } from "commander";
import { isAmbitError } from "../errors.js";

interface CommandModule {
  register(program: Command): void;
}

export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command("ambit")
    .description("ambit: a sidecarless (ambient) service mesh — ztunnel, HBONE, waypoints, SPIFFE CA")
    .version("0.1.0")
    .showHelpAfterError()
    // Root options only before a subcommand, so `demo-app http --version v1` reaches the subcommand.
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: true });
  const dir = join(dirname(fileURLToPath(import.meta.url)), "commands");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".js") && !f.endsWith(".test.js"))
    .sort();
  const own = command !== undefined && /^[a-z][a-z0-9-]*$/.test(command) ? `${command}.js` : undefined;
  if (own !== undefined && files.includes(own)) {
    await load(program, dir, [own]);
    if (program.commands.some((c) => c.name() === command || c.aliases().includes(command as string))) {
      return program;
    }
  }
  await load(
    program,
    dir,
    files.filter((f) => f !== own),
  );
  return program;
}

async function load(program: Command, dir: string, files: readonly string[]): Promise<void> {
  for (const f of files) {
    // One broken command module must not take every other command down with it; it is reported
    // (and the test in main.test.ts fails) instead.
    try {
      const mod = (await import(pathToFileURL(join(dir, f)).href)) as Partial<CommandModule>;
      if (typeof mod.register === "function") mod.register(program);
    } catch (e) {
      loadFailures.push({ file: f, error: e });
      process.stderr.write(
        `ambit: could not load the commands in ${f}: ${e instanceof Error ? e.message : String(e)}\n`,
      );
    }
  }
}

/** Command modules that failed to load in buildProgram (empty when all is well). */
export const loadFailures: { file: string; error: unknown }[] = [];

async function main(): Promise<void> {
  const program = await buildProgram(process.argv[2]);
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (isAmbitError(e)) {
      process.stderr.write(`error: ${e.message} [${e.code}]\n`);
    } else {
      process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    process.exitCode = process.exitCode || 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
