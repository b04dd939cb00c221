/**
 * `ambit authz check -f <policies> --request <file|json|-> [-o json] [--exit-code]`: evaluates one
 * request against AuthorizationPolicy / PeerAuthentication manifests offline, with the same engine
 * ztunnel and the waypoint run. Exit 0 whenever the evaluation ran (allow or deny; `--exit-code` makes
 * a deny exit 1), 2 when the input (manifests, policies or request) is invalid.
 */
import type { Command } from "commander";
import { formatConfigError } from "../../api/config-error.js";
import { loadSources } from "../../api/load.js";
import type { Resource } from "../../api/types.js";
import { isAmbitError } from "../../errors.js";
import {
  type AuthzRequest,
  compilePolicies,
  type Decision,
  evaluate,
  PolicyError,
  type PolicyWarning,
  parseAuthzRequest,
} from "../../policy/index.js";
import { readRequestText } from "../process-io.js";

interface CheckFlags {
  filename: string[];
  request: string;
  output?: string;
  rootNamespace?: string;
  exitCode?: boolean;
}

const EXIT_INPUT = 2;
const USE_WAYPOINT_LABEL = "istio.io/use-waypoint";

export function register(program: Command): void {
  const authz = program.command("authz").description("authorization policy tools");
  authz
    .command("check")
    .description("evaluate one request against AuthorizationPolicy and PeerAuthentication manifests")
    .requiredOption(
      "-f, --filename <path>",
      "manifests: file, directory or - for stdin; repeatable (other kinds are read for waypoint lookup)",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .requiredOption("--request <file|json|->", "the request: a JSON file, inline JSON, or - for stdin")
    .option("-o, --output <format>", "output format: text (default) or json")
    .option("--root-namespace <ns>", "Istio root namespace (mesh-wide policies)", "istio-system")
    .option("--exit-code", "exit 1 when the decision is deny (default: 0 for any decision)")
    .action(async (flags: CheckFlags) => {
      process.exitCode = await runCheck(flags);
    });
}

function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return EXIT_INPUT;
}

async function runCheck(flags: CheckFlags): Promise<number> {
  const format = flags.output ?? "text";
  if (format !== "text" && format !== "json") {
    return fail(`unknown output format ${JSON.stringify(format)} (expected text or json)`);
  }
  if (flags.request === "-" && flags.filename.includes("-")) {
    return fail("stdin can feed either -f - or --request -, not both");
  }

  let request: AuthzRequest;
  try {
    request = parseAuthzRequest(await readRequest(flags.request));
  } catch (e) {
    if (isAmbitError(e)) return fail(`${e.message} [${e.code}]`);
    return fail(
      `cannot read the request: ${e instanceof Error ? e.message : String(e)} [POL_ERR_BAD_REQUEST]`,
    );
  }

  const loaded = await loadSources(flags.filename, { stdin: process.stdin });
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) process.stderr.write(`${formatConfigError(e)} [${e.code}]\n`);
    return fail(
      `invalid manifests (${loaded.errors.length} error${loaded.errors.length === 1 ? "" : "s"}); nothing was evaluated`,
    );
  }
  const compiled = compilePolicies(loaded.resources, {
    rootNamespace: flags.rootNamespace ?? "istio-system",
  });
  if (compiled.errors.length > 0) {
    for (const e of compiled.errors) process.stderr.write(`${formatPolicyError(e)}\n`);
    return fail(
      `invalid policies (${compiled.errors.length} error${compiled.errors.length === 1 ? "" : "s"}); nothing was evaluated`,
    );
  }

  let waypointNote: string | null = null;
  if (request.enforcement === "waypoint" && !request.destination.waypoint) {
    const found = findWaypoint(loaded.resources, request);
    if (found !== null) {
      request.destination.waypoint = found.name;
      waypointNote = `waypoint ${request.destination.namespace}/${found.name} (from ${found.from})`;
    }
  }

  const decision = evaluate(compiled.set, request);
  const out =
    format === "json"
      ? renderJson(decision, compiled.warnings)
      : renderText(decision, request, waypointNote, {
          authz: compiled.set.policies.length,
          peerAuthn: compiled.set.peerAuthentications.length,
        });
  process.stdout.write(out);
  return flags.exitCode === true && decision.decision === "deny" ? 1 : 0;
}

async function readRequest(arg: string): Promise<unknown> {
  const text = await readRequestText(arg);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new PolicyError(
      "POL_ERR_BAD_REQUEST",
      "",
      "(root)",
      `the request is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * Which waypoint handles the request, as Istio decides it: the Service's `istio.io/use-waypoint`
 * label, else its Namespace's (istio.io/latest/docs/ambient/usage/waypoint/#configure-a-pod-to-use-a-waypoint).
 */
function findWaypoint(
  resources: readonly Resource[],
  request: AuthzRequest,
): { name: string; from: string } | null {
  const ns = request.destination.namespace;
  const svc = request.destination.service;
  if (svc) {
    const s = resources.find(
      (r) => r.kind === "Service" && r.metadata.name === svc && (r.metadata.namespace ?? "default") === ns,
    );
    const label = s?.metadata.labels?.[USE_WAYPOINT_LABEL];
    if (label !== undefined && label !== "none")
      return { name: label, from: `Service ${ns}/${svc} label ${USE_WAYPOINT_LABEL}` };
  }
  const n = resources.find((r) => r.kind === "Namespace" && r.metadata.name === ns);
  const label = n?.metadata.labels?.[USE_WAYPOINT_LABEL];
  if (label !== undefined && label !== "none")
    return { name: label, from: `Namespace ${ns} label ${USE_WAYPOINT_LABEL}` };
  return null;
}

export function formatPolicyError(e: PolicyError): string {
  const where = e.source === null ? "" : `${e.source.file}:${e.source.line}:${e.source.column}: `;
  return `${where}${e.message} [${e.code}]`;
}

export function renderJson(d: Decision, policyWarnings: readonly PolicyWarning[]): string {
  // The first four keys are the stable contract; the rest may grow.
  const body: Record<string, unknown> = {
    decision: d.decision,
    policy: d.policy,
    rule: d.rule,
    reason: d.reason,
    reasonCode: d.reasonCode,
    enforcement: d.enforcement,
    warnings: d.warnings,
  };
  if (d.dryRun !== undefined) {
    body["dryRun"] = d.dryRun;
    body["dryRunDecision"] = d.dryRunDecision;
  }
  if (d.audit !== undefined) body["audit"] = d.audit;
  if (policyWarnings.length > 0) body["policyWarnings"] = policyWarnings;
  return `${JSON.stringify(body, null, 2)}\n`;
}

export function renderText(
  d: Decision,
  request: AuthzRequest,
  waypointNote: string | null,
  counts: { authz: number; peerAuthn: number },
): string {
  const src = request.source.principal ?? `plaintext ${request.source.ip}`;
  const dst = `${request.destination.namespace}/${request.destination.service ?? request.destination.ip}:${request.destination.port}`;
  const what = request.http
    ? ` ${request.http.method}${request.http.path === "" ? "" : ` ${request.http.path}`}`
    : "";
  const lines = [
    `${d.decision.toUpperCase()}  ${src} → ${dst}${what} at ${d.enforcement}`,
    `  reason: ${d.reason}`,
  ];
  if (d.policy !== null) lines.push(`  policy: ${d.policy}${d.rule === null ? "" : `, rule ${d.rule}`}`);
  if (waypointNote !== null) lines.push(`  ${waypointNote}`);
  lines.push(`  loaded ${counts.authz} AuthorizationPolicy, ${counts.peerAuthn} PeerAuthentication`);
  for (const r of d.dryRun ?? []) {
    lines.push(
      `  dry-run: ${r.action} ${r.policy} ${r.matched ? `matched (rule ${r.rule})` : "did not match"}`,
    );
  }
  if (d.dryRunDecision !== undefined) lines.push(`  with dry-run policies enforced: ${d.dryRunDecision}`);
  for (const a of d.audit ?? []) lines.push(`  audit: ${a.policy} (rule ${a.rule})`);
  if (d.warnings.length > 0) {
    lines.push("warnings:");
    for (const w of d.warnings) lines.push(`  - ${w}`);
  }
  return `${lines.join("\n")}\n`;
}
