/**
 * `ambit ca status|rotate-root|revoke|revoked`: the CA's signer, trusted roots and root rotation. A
 * rotation pushes the new root to every node first, switches signing only after every node ACKed
 * it, re-issues every workload certificate, and retires the old root once its last leaf has expired.
 * Revocation (an ambit extension; Istio has none for workload certificates) lists a serial in the
 * pushed trust bundle: every HBONE peer refuses it, and the node holding it renews at once.
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

interface CaView {
  phase: { state: string; startedAt?: string; switchedAt?: string; retireAfter?: string };
  signer: { subject: string; fingerprint: string; notAfter: string; intermediate: boolean };
  roots: Array<{
    fingerprint: string;
    subject: string;
    notAfter: string;
    role: string;
    retireAfter?: string;
  }>;
  trustBundle: { roots: number; behind: string[]; nodes: Array<{ caller: string; upToDate: boolean }> };
}

type CommonFlags = AdminSubcommandFlags;

interface RevokedView {
  serial: string;
  reason: string;
  revokedAt: string;
  notAfter: string | null;
  identity: string | null;
}

function revokedTable(list: readonly RevokedView[]): string {
  if (list.length === 0) return "no revoked certificates\n";
  return table(
    ["SERIAL", "IDENTITY", "REASON", "REVOKED", "DROPPED-AFTER"],
    list.map((r) => [r.serial, r.identity ?? "(unknown)", r.reason, r.revokedAt, r.notAfter ?? "(7 days)"]),
  );
}

function describe(ca: CaView): string {
  const p = ca.phase;
  const phase =
    p.state === "idle"
      ? "idle"
      : `${p.state} (started ${p.startedAt ?? "?"}${p.switchedAt ? `, signing with the new CA since ${p.switchedAt}` : ""}${p.retireAfter ? `, old root removed after ${p.retireAfter}` : ""})`;
  const rows = ca.roots.map((r) => [
    r.role,
    r.subject.replace(/\n/g, ","),
    r.fingerprint.slice(0, 23),
    r.notAfter,
  ]);
  return [
    `signer          ${ca.signer.subject.replace(/\n/g, ",")}${ca.signer.intermediate ? " (intermediate)" : ""}, valid until ${ca.signer.notAfter}`,
    `rotation        ${phase}`,
    `trust bundle    ${ca.trustBundle.behind.length === 0 ? "every node holds the current bundle" : `waiting for: ${ca.trustBundle.behind.join(", ")}`}`,
    "",
    table(["ROLE", "ROOT", "SHA-256", "NOT-AFTER"], rows),
  ].join("\n");
}

export function register(program: Command): void {
  const ca = withConnectionOptions(
    program.command("ca").description("the mesh CA: roots, signer and root rotation"),
  );

  withAdminOptions(
    ca.command("status").description("signer, trusted roots, rotation phase, nodes' bundles"),
  ).action(async (flags: CommonFlags, cmd: Command) => {
    const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
    const view = await client.get<CaView>("/v1/ca");
    process.stdout.write(flags.output === "json" ? `${JSON.stringify(view, null, 2)}\n` : describe(view));
  });

  withAdminOptions(
    ca
      .command("rotate-root")
      .description(
        "replace the root CA without breaking a connection (or, with --retire-now, end the overlap)",
      )
      .option(
        "--from-dir <dir>",
        "the new CA from files in Istio's cacerts layout (default: a new self-signed root)",
      )
      .option("--retire-now", "UNSAFE: drop the old root now; peers still holding its leaves fail handshakes")
      .option("--no-wait", "return once the rotation started")
      .option("--timeout <duration>", "how long to wait for the switch and re-issue", "5m"),
  ).action(
    async (
      flags: CommonFlags & { fromDir?: string; retireNow?: boolean; wait: boolean; timeout: string },
      cmd: Command,
    ) => {
      const timeoutS = parseDuration(flags.timeout);
      if (timeoutS === undefined) {
        throw new ControlError(
          ControlErrorCode.BAD_OPTIONS,
          `--timeout ${flags.timeout} is not a duration (e.g. 5m)`,
        );
      }
      const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
      const json = flags.output === "json";
      let view = await client.post<CaView>("/v1/ca/rotate-root", {
        ...(flags.fromDir !== undefined ? { fromDir: flags.fromDir } : {}),
        ...(flags.retireNow === true ? { retireNow: true } : {}),
      });
      const say = (line: string): void => {
        if (!json) process.stdout.write(`${line}\n`);
      };
      say(`root rotation: ${view.phase.state}`);
      if (flags.wait && flags.retireNow !== true) {
        const deadline = Date.now() + timeoutS * 1000;
        let last = view.phase.state;
        // Done for the caller once every node signs and holds leaves of the new root; retirement only waits for time.
        while (view.phase.state !== "retiring" && view.phase.state !== "idle") {
          if (Date.now() > deadline) {
            throw new ControlError(
              ControlErrorCode.ADMIN_ERROR,
              `root rotation still ${view.phase.state} after ${flags.timeout}; waiting for: ${view.trustBundle.behind.join(", ") || "certificates of the old root to be replaced"} (it continues in the background)`,
            );
          }
          await new Promise((r) => setTimeout(r, 250));
          view = await client.get<CaView>("/v1/ca");
          if (view.phase.state !== last) say(`root rotation: ${view.phase.state}`);
          last = view.phase.state;
        }
      }
      process.stdout.write(json ? `${JSON.stringify(view, null, 2)}\n` : describe(view));
    },
  );
  withAdminOptions(
    ca
      .command("revoke <serial>")
      .description(
        "revoke a workload certificate by serial (hex, as `ambit cert status` prints it): peers refuse it at once, its node renews",
      )
      .option("--reason <text>", "why, kept with the entry", "unspecified"),
  ).action(async (serialArg: string, flags: CommonFlags & { reason: string }, cmd: Command) => {
    const { normaliseSerial } = await import("../../identity/revocation.js");
    const serial = normaliseSerial(serialArg);
    const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
    const out = await client.post<{
      revoked: RevokedView;
      added: boolean;
      known: boolean;
      heldBy: Array<{ caller: string; identity: string }>;
    }>("/v1/ca/revoke", { serial, reason: flags.reason });
    if (flags.output === "json") {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const lines = [
      out.added
        ? `revoked ${out.revoked.serial}${out.revoked.identity !== null ? ` (${out.revoked.identity})` : ""}`
        : `${out.revoked.serial} was already revoked at ${out.revoked.revokedAt}`,
    ];
    if (!out.known) {
      lines.push(
        "warning: this control plane has not issued that serial since it started; it is listed anyway (kept 7 days)",
      );
    }
    for (const h of out.heldBy) lines.push(`renewing: ${h.identity} held by ${h.caller}`);
    process.stdout.write(`${lines.join("\n")}\n`);
  });

  withAdminOptions(
    ca.command("revoked").description("the revocation list (entries leave it when the certificate expires)"),
  ).action(async (flags: CommonFlags, cmd: Command) => {
    const client = await AdminClient.connect(adminOptionsOf(withGroupOptions(flags, cmd)));
    const view = await client.get<{ revoked: RevokedView[] }>("/v1/ca/revoked");
    process.stdout.write(
      flags.output === "json" ? `${JSON.stringify(view, null, 2)}\n` : revokedTable(view.revoked),
    );
  });
}
