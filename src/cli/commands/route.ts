/**
 * `ambit route check -f <routes> --request <file|json|-> [--samples N] [--seed S] [-o json]`: the
 * routing decision the waypoint would make for one request, offline, with the same engine. With
 * `--samples N` the decision is drawn N times from a seeded PRNG and the observed share of each backend
 * is reported. Exit 0 when the decision was computed (whatever its status), 2 when an input is invalid.
 */
import type { Command } from "commander";
import { formatConfigError } from "../../api/config-error.js";
import { loadSources } from "../../api/load.js";
import { isAmbitError } from "../../errors.js";
import {
  compileRoutes,
  parseRouteRequest,
  type RouteDecision,
  type RouteRequest,
  type RouteTable,
  RoutingError,
  RoutingErrorCode,
  route,
  seededRand,
} from "../../routing/index.js";
import { readRequestText } from "../process-io.js";

interface CheckFlags {
  filename: string[];
  request: string;
  samples?: string;
  seed?: string;
  output?: string;
}

const EXIT_INPUT = 2;
const MAX_SAMPLES = 10_000_000;

export function register(program: Command): void {
  const cmd = program
    .command("route")
    .description("L7 routing tools (VirtualService, HTTPRoute, TrafficSplit)");
  cmd
    .command("check")
    .description("show the route, backend, rewrites and redirect a request gets, as the waypoint decides it")
    .requiredOption(
      "-f, --filename <path>",
      "manifests: file, directory or - for stdin; repeatable (Services and DestinationRules are read too)",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .requiredOption("--request <file|json|->", "the request: a JSON file, inline JSON, or - for stdin")
    .option("--samples <n>", "draw the decision n times and report the observed backend distribution")
    .option("--seed <n>", "seed of the random draws (weights, fault and mirror percentages)", "1")
    .option("-o, --output <format>", "output format: text (default) or json")
    .action(async (flags: CheckFlags) => {
      process.exitCode = await runCheck(flags);
    });
}

function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return EXIT_INPUT;
}

function positiveInt(v: string | undefined, name: string, max: number): number | string | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max)
    return `--${name} expects an integer from 1 to ${max}, got ${JSON.stringify(v)}`;
  return Number(v);
}

async function runCheck(flags: CheckFlags): Promise<number> {
  const format = flags.output ?? "text";
  if (format !== "text" && format !== "json") {
    return fail(`unknown output format ${JSON.stringify(format)} (expected text or json)`);
  }
  const samples = positiveInt(flags.samples, "samples", MAX_SAMPLES);
  if (typeof samples === "string") return fail(samples);
  if (!/^\d+$/.test(flags.seed ?? "1"))
    return fail(`--seed expects a non-negative integer, got ${JSON.stringify(flags.seed)}`);
  const seed = Number(flags.seed ?? "1");
  if (flags.request === "-" && flags.filename.includes("-")) {
    return fail("stdin can feed either -f - or --request -, not both");
  }

  let request: RouteRequest;
  try {
    request = parseRouteRequest(await readRequest(flags.request));
  } catch (e) {
    if (isAmbitError(e)) return fail(`${e.message} [${e.code}]`);
    return fail(
      `cannot read the request: ${e instanceof Error ? e.message : String(e)} [${RoutingErrorCode.BAD_REQUEST}]`,
    );
  }

  const loaded = await loadSources(flags.filename, { stdin: process.stdin });
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) process.stderr.write(`${formatConfigError(e)} [${e.code}]\n`);
    return fail(
      `invalid manifests (${loaded.errors.length} error${loaded.errors.length === 1 ? "" : "s"}); nothing was routed`,
    );
  }
  const table = compileRoutes(loaded.resources);
  if (table.errors.length > 0) {
    for (const e of table.errors) process.stderr.write(`${formatRoutingError(e)}\n`);
    return fail(
      `invalid routes (${table.errors.length} error${table.errors.length === 1 ? "" : "s"}); nothing was routed`,
    );
  }

  const rand = seededRand(seed);
  const decision = route(table, request, rand);
  const distribution = samples === undefined ? null : sample(table, request, samples, rand, decision);
  process.stdout.write(
    format === "json"
      ? renderJson(decision, distribution, table)
      : renderText(decision, request, distribution, samples ?? 0, table),
  );
  return 0;
}

/** The share of each backend (or `status:<code>` when a draw has no backend) over n draws, the first being `first`. */
function sample(
  table: RouteTable,
  request: RouteRequest,
  n: number,
  rand: () => number,
  first: RouteDecision,
): Record<string, number> {
  const counts = new Map<string, number>();
  const label = (d: RouteDecision): string =>
    d.backend !== null && d.status < 300 ? d.backend : `status:${d.status}`;
  counts.set(label(first), 1);
  for (let i = 1; i < n; i++) {
    const l = label(route(table, request, rand));
    counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const out: Record<string, number> = {};
  for (const [k, c] of [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out[k] = Math.round((c / n) * 10_000) / 10_000;
  }
  return out;
}

async function readRequest(arg: string): Promise<unknown> {
  const text = await readRequestText(arg);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RoutingError(
      RoutingErrorCode.BAD_REQUEST,
      "",
      "(root)",
      `the request is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

export function formatRoutingError(e: RoutingError): string {
  const where = e.source === null ? "" : `${e.source.file}:${e.source.line}:${e.source.column}: `;
  return `${where}${e.message} [${e.code}]`;
}

export function renderJson(
  d: RouteDecision,
  distribution: Record<string, number> | null,
  table: RouteTable,
): string {
  // The first six keys are the stable contract; the rest may grow.
  const body: Record<string, unknown> = {
    status: d.status,
    route: d.route,
    backend: d.backend,
    upstream: d.upstream,
    redirect: d.redirect,
    distribution,
    destination: d.destination,
    origin: d.origin,
    reason: d.reason,
    loadBalancer: d.loadBalancer,
    responseHeaders: d.responseHeaders,
    mirrors: d.mirrors,
  };
  if (d.directResponse !== undefined) body["directResponse"] = d.directResponse;
  if (d.timeoutMs !== undefined) body["timeoutMs"] = d.timeoutMs;
  if (d.retries !== undefined) body["retries"] = d.retries;
  if (d.fault !== undefined) body["fault"] = d.fault;
  if (d.faultInjected !== undefined) body["faultInjected"] = d.faultInjected;
  if (table.warnings.length > 0) body["warnings"] = table.warnings;
  return `${JSON.stringify(body, null, 2)}\n`;
}

export function renderText(
  d: RouteDecision,
  r: RouteRequest,
  distribution: Record<string, number> | null,
  samples: number,
  table: RouteTable,
): string {
  const lines = [
    `${d.status}  ${r.method} ${r.host}:${r.port}${r.path}  (client namespace ${r.client.namespace})`,
  ];
  lines.push(`  route:    ${d.route ?? "(none)"}${d.origin === null ? "" : ` [${d.origin}]`}`);
  if (d.redirect !== null) lines.push(`  redirect: ${d.redirect.status} Location: ${d.redirect.location}`);
  else if (d.directResponse !== undefined)
    lines.push(
      `  direct response: ${d.directResponse.status}${d.directResponse.body === undefined ? "" : ` ${JSON.stringify(d.directResponse.body)}`}`,
    );
  else if (d.destination !== null) {
    const dst = d.destination;
    lines.push(
      `  backend:  ${d.backend} → ${dst.host}${dst.port === undefined ? "" : `:${dst.port}`}${dst.subset === undefined ? "" : ` subset ${dst.subset}`}, load balancer ${d.loadBalancer}`,
    );
    lines.push(
      `  upstream: ${d.upstream.path}${d.upstream.authority === undefined ? "" : ` (authority ${d.upstream.authority})`}`,
    );
    const hdrs = Object.entries(d.upstream.headers);
    if (hdrs.length > 0) lines.push(`  headers:  ${hdrs.map(([k, v]) => `${k}: ${v}`).join("; ")}`);
  }
  if (d.timeoutMs !== undefined) lines.push(`  timeout:  ${d.timeoutMs} ms`);
  if (d.retries !== undefined)
    lines.push(`  retries:  ${d.retries.attempts} on ${d.retries.retryOn.join(",")}`);
  for (const m of d.mirrors) lines.push(`  mirror:   ${m.backend} (${m.percent} %)`);
  lines.push(`  reason:   ${d.reason}`);
  if (distribution !== null) {
    const parts = Object.entries(distribution).map(([k, v]) => `${k} ${(v * 100).toFixed(2)} %`);
    lines.push(`  distribution over ${samples} draws: ${parts.join(", ")}`);
  }
  if (table.warnings.length > 0) {
    lines.push("warnings:");
    for (const w of table.warnings) lines.push(`  - ${w.resource}: ${w.message}`);
  }
  return `${lines.join("\n")}\n`;
}
