/**
 * The `ambit` entry reduced to this area's commands. src/cli/main.ts loads every command file of
 * every area, so one colleague's half-written command would fail these tests for reasons that are
 * not the control plane's; this entry registers only ours, with main.ts's error printing.
 */
import { Command } from "commander";
import { register as apply } from "../../src/cli/commands/apply.js";
import { register as control } from "../../src/cli/commands/control.js";
import { register as del } from "../../src/cli/commands/delete.js";
import { register as get } from "../../src/cli/commands/get.js";
import { register as label } from "../../src/cli/commands/label.js";
import { register as status } from "../../src/cli/commands/status.js";
import { isAmbitError } from "../../src/errors.js";

const program = new Command("ambit").exitOverride();
for (const r of [apply, control, del, get, label, status]) r(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isAmbitError(e)) process.stderr.write(`error: ${e.message} [${e.code}]\n`);
  else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = process.exitCode || 1;
}
