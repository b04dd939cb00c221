/**
 * `ambit cert status|rotate`: the workload certificates the CA issued (identity, node, serial, expiry,
 * time left) and forced renewal. Rotation is pushed to the nodes in the trust-bundle resource; the
 * command then waits until the CA has issued a new leaf for every (node, identity) it targeted.
 */
import type { Command } from "commander";
import { parseDuration } from "../../control/config.js";
import { ControlError, ControlErrorCode } from "../../control/errors.js";
import {
  AdminClient,
  type AdminSubcommandFlags,
  adminOptionsOf,
  table,
  withAdminOptions,
  withConnectionOptions,
  withGroupOptions,
} from "../admin-client.js";

interface CertView {
  caller: string;
  node: string | null;
  identity: string;
  serial: string;
  notAfter: string;
  issuedAt: string | null;
  timeLeftSeconds: number;
  root: string;
}

interface RotateAnswer {
  generation: number;
  namespace: string | null;
  requestedAt: string;
  targets: Array<{ caller: string; identity: string; serial: string }>;
}

type CommonFlags = AdminSubcommandFlags;

export function formatTimeLeft(seconds: number): string {
  if (seconds <= 0) return "expired";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(s).padStart(2, "0")}s`
      : `${s}s`;
}

/** Targets not yet replaced by a leaf issued after the request. */
export function pendingTargets(answer: RotateAnswer, certs: readonly CertView[]): RotateAnswer["targets"] {
  const requested = Date.parse(answer.requestedAt);
  return answer.targets.filter((t) => {
    const now = certs.find((c) => c.caller === t.caller && c.identity === t.identity);
    // Gone (the workload left the node) counts as done: nothing holds the old leaf any more.
    if (now === undefined) return false;
    return now.serial === t.serial || now.issuedAt === null || Date.parse(now.issuedAt) < requested;
  });
}

export function register(program: Command): void {
  const cert = withConnectionOptions(
    program.command("cert").description("workload certificates: status and forced rotation"),
  );

  withAdminOptions(
    cert
      .command("status")
      .description("every certificate in use: identity, node, serial, not-after, time left, root")
      .option("-n, --namespace <ns>", "only identities of this namespace"),
  ).action(async (flags: CommonFlags & { namespace?: string }, cmd: Command) => {
    const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
    const { certificates } = await client.get<{ certificates: CertView[] }>("/v1/certs");
    const shown = certificates.filter(
      (c) => flags.namespace === undefined || c.identity.includes(`/ns/${flags.namespace}/sa/`),
    );
    if (flags.output === "json") {
      process.stdout.write(`${JSON.stringify({ certificates: shown }, null, 2)}\n`);
      return;
    }
    if (shown.length === 0) {
      process.stdout.write(
        "no certificates issued yet (the ledger starts empty after a control-plane restart)\n",
      );
      return;
    }
    const rows = shown.map((c) => [
      c.identity,
      c.node ?? c.caller,
      c.serial,
      c.notAfter,
      formatTimeLeft(c.timeLeftSeconds),
      c.root,
    ]);
    process.stdout.write(table(["IDENTITY", "NODE", "SERIAL", "NOT-AFTER", "TIME-LEFT", "ROOT"], rows));
  });

  withAdminOptions(
    cert
      .command("rotate")
      .description("renew certificates now (hot swap: live connections keep theirs)")
      .option("-n, --namespace <ns>", "rotate the certificates of this namespace")
      .option("--all", "rotate every certificate")
      .option("--no-wait", "return once the nodes were asked, without waiting for the new serials")
      .option("--timeout <duration>", "how long to wait for every node", "60s"),
  ).action(
    async (
      flags: CommonFlags & { namespace?: string; all?: boolean; wait: boolean; timeout: string },
      cmd: Command,
    ) => {
      if ((flags.namespace === undefined) === (flags.all !== true)) {
        throw new ControlError(ControlErrorCode.BAD_OPTIONS, "give exactly one of --namespace <ns> or --all");
      }
      const timeoutS = parseDuration(flags.timeout);
      if (timeoutS === undefined) {
        throw new ControlError(
          ControlErrorCode.BAD_OPTIONS,
          `--timeout ${flags.timeout} is not a duration (e.g. 60s)`,
        );
      }
      const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
      const answer = await client.post<RotateAnswer>(
        "/v1/certs/rotate",
        flags.all === true ? { all: true } : { namespace: flags.namespace },
      );
      const json = flags.output === "json";
      const say = (line: string): void => {
        if (!json) process.stdout.write(`${line}\n`);
      };
      say(
        `rotation ${answer.generation} requested for ${answer.namespace ?? "every namespace"}: ${answer.targets.length} certificate(s)`,
      );
      let pending = answer.targets;
      if (flags.wait) {
        const deadline = Date.now() + timeoutS * 1000;
        let reported = -1;
        for (;;) {
          const { certificates } = await client.get<{ certificates: CertView[] }>("/v1/certs");
          pending = pendingTargets(answer, certificates);
          const done = answer.targets.length - pending.length;
          if (done !== reported) say(`  ${done}/${answer.targets.length} renewed`);
          reported = done;
          if (pending.length === 0 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      if (json) process.stdout.write(`${JSON.stringify({ ...answer, pending }, null, 2)}\n`);
      if (flags.wait && pending.length > 0) {
        throw new ControlError(
          ControlErrorCode.ADMIN_ERROR,
          `not renewed within ${flags.timeout}: ${pending.map((p) => `${p.identity} on ${p.caller}`).join(", ")}; check those nodes with \`ambit status\``,
        );
      }
      if (flags.wait) say("every targeted certificate was renewed");
    },
  );
}
