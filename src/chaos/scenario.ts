/**
 * Chaos scenarios: one YAML file each (chaos/scenarios/ ships the built-in ones; users add theirs
 * with `--dir` or `$AMBIT_HOME/chaos`). Loading validates everything before anything runs; an
 * error names the file, the line and the field, and what was expected.
 *
 *   name: kill-ztunnel
 *   description: SIGKILL the ztunnel of the destination node; the agent restarts it.
 *   slo: { max_failed_requests: 40, max_p99_ms: 3000, max_recovery_s: 20 }
 *   load: { rps: 10, duration: 20s, from: { namespace: chaos, pod: chaos-client },
 *           to: { namespace: chaos, service: chaos-echo, port: 9000 } }
 *   steps:
 *     - { at: 5s, action: kill-ztunnel, args: { node: node-2 } }
 */
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { isMap, LineCounter, type Node, parseDocument } from "yaml";
import { ChaosError, ChaosErrorCode } from "./errors.js";

export interface Slo {
  readonly maxFailedRequests?: number;
  /** Failed / total requests, 0..1. */
  readonly maxFailedRatio?: number;
  readonly maxP99Ms?: number;
  readonly maxRecoveryS?: number;
}

export type LoadDestination =
  | { readonly namespace: string; readonly service: string; readonly port: number }
  | { readonly namespace: string; readonly pod: string; readonly port: number };

export interface LoadSpec {
  readonly rps: number;
  readonly durationS: number;
  readonly from: { readonly namespace: string; readonly pod: string };
  readonly to: LoadDestination;
  readonly timeoutMs: number;
}

export interface Step {
  readonly atS: number;
  readonly action: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** Where the step is written (for errors at run time). */
  readonly where: string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly slo: Slo;
  readonly load: LoadSpec;
  readonly steps: readonly Step[];
  /** Features the scenario needs beyond the local cluster (e.g. "cert-admin-routes"). */
  readonly requires: readonly string[];
}

/** A step the action registry refuses: `arg` undefined = the action itself, "" = the args as a whole. */
export interface ActionProblem {
  readonly message: string;
  readonly arg?: string;
}

/** What the loader checks a step's action and args against (the action registry). */
export type ActionCheck = (
  action: string,
  args: Readonly<Record<string, unknown>>,
) => ActionProblem | undefined;

/** The default load: the fixture `ambit chaos run` deploys (namespace `chaos`). */
export const DEFAULT_FROM = Object.freeze({ namespace: "chaos", pod: "chaos-client" });
export const DEFAULT_TO: LoadDestination = Object.freeze({
  namespace: "chaos",
  service: "chaos-echo",
  port: 9000,
});

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOP_KEYS = new Set(["name", "description", "slo", "load", "steps", "requires"]);
const SLO_KEYS = new Set(["max_failed_requests", "max_failed_ratio", "max_p99_ms", "max_recovery_s"]);
const LOAD_KEYS = new Set(["rps", "duration", "from", "to", "timeout"]);

/** "10s", "500ms", "2m", or a number of seconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}

class Reader {
  readonly #file: string;
  readonly #lines: LineCounter;
  readonly #root: Node | null;

  constructor(file: string, lines: LineCounter, root: Node | null) {
    this.#file = file;
    this.#lines = lines;
    this.#root = root;
  }

  fail(path: readonly (string | number)[], message: string): never {
    let node: unknown = this.#root;
    // The deepest node that exists on the path carries the position.
    let best = (this.#root ?? undefined) as { range?: [number, number, number] | null } | undefined;
    for (const key of path) {
      if (node === null || typeof node !== "object" || !("get" in node)) break;
      node = (node as { get(k: unknown, keepScalar: boolean): unknown }).get(key, true);
      if (node !== undefined && node !== null && typeof node === "object" && "range" in node)
        best = node as { range?: [number, number, number] | null };
    }
    const pos = best?.range ? this.#lines.linePos(best.range[0]) : { line: 1, col: 1 };
    const field =
      path.length > 0 ? path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("") : "(top)";
    throw new ChaosError(
      ChaosErrorCode.SCENARIO,
      `${this.#file}:${pos.line}:${pos.col}: ${field.replace(/^\./, "")}: ${message}`,
    );
  }

  where(path: readonly (string | number)[]): string {
    try {
      this.fail(path, "");
    } catch (e) {
      return (e as Error).message.replace(/: $/, "");
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(
  r: Reader,
  path: (string | number)[],
  obj: Record<string, unknown>,
  allowed: Set<string>,
): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) r.fail([...path, k], `unknown field; expected one of ${[...allowed].join(", ")}`);
  }
}

function str(r: Reader, path: (string | number)[], v: unknown, pattern?: RegExp): string {
  if (typeof v !== "string" || v === "")
    r.fail(path, `expected a non-empty string, got ${JSON.stringify(v)}`);
  if (pattern !== undefined && !pattern.test(v))
    r.fail(path, `"${v}" is not a lower-case DNS-1123 name (a-z, 0-9, "-")`);
  return v;
}

function num(r: Reader, path: (string | number)[], v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max)
    r.fail(path, `expected a number ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function duration(r: Reader, path: (string | number)[], v: unknown, max: number): number {
  const s = parseDuration(v);
  if (s === undefined || s > max)
    r.fail(path, `expected a duration like 10s, 500ms or 2m (≤ ${max} s), got ${JSON.stringify(v)}`);
  return s;
}

/** Parses and validates one scenario file's text. Pure: `file` is used in messages only. */
export function parseScenario(text: string, file: string, checkAction: ActionCheck): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r: Reader = new Reader(file, lines, doc.contents);
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lines.linePos(first.pos[0]);
    throw new ChaosError(
      ChaosErrorCode.SCENARIO,
      `${file}:${pos.line}:${pos.col}: not valid YAML: ${first.message.split("\n")[0]}`,
    );
  }
  if (!isMap(doc.contents))
    r.fail([], "a scenario is a YAML mapping with name, description, slo, load, steps");
  const top = doc.toJS() as Record<string, unknown>;
  checkKeys(r, [], top, TOP_KEYS);
  const name = str(r, ["name"], top.name, NAME);
  const description = str(r, ["description"], top.description);

  const sloIn = top.slo;
  if (!isRecord(sloIn))
    r.fail(
      ["slo"],
      "expected a mapping with max_failed_requests / max_failed_ratio, max_p99_ms, max_recovery_s",
    );
  checkKeys(r, ["slo"], sloIn, SLO_KEYS);
  if (Object.keys(sloIn).length === 0) r.fail(["slo"], "give at least one limit");
  const slo: Slo = {
    ...(sloIn.max_failed_requests !== undefined
      ? { maxFailedRequests: num(r, ["slo", "max_failed_requests"], sloIn.max_failed_requests, 0, 1e9) }
      : {}),
    ...(sloIn.max_failed_ratio !== undefined
      ? { maxFailedRatio: num(r, ["slo", "max_failed_ratio"], sloIn.max_failed_ratio, 0, 1) }
      : {}),
    ...(sloIn.max_p99_ms !== undefined
      ? { maxP99Ms: num(r, ["slo", "max_p99_ms"], sloIn.max_p99_ms, 0, 3_600_000) }
      : {}),
    ...(sloIn.max_recovery_s !== undefined
      ? { maxRecoveryS: num(r, ["slo", "max_recovery_s"], sloIn.max_recovery_s, 0, 3600) }
      : {}),
  };

  const loadIn = top.load;
  if (!isRecord(loadIn)) r.fail(["load"], "expected a mapping with rps, duration, from, to");
  checkKeys(r, ["load"], loadIn, LOAD_KEYS);
  const rps = num(r, ["load", "rps"], loadIn.rps, 1, 500);
  const durationS = duration(r, ["load", "duration"], loadIn.duration, 3600);
  if (durationS <= 0) r.fail(["load", "duration"], "must be longer than 0");
  let from: LoadSpec["from"] = DEFAULT_FROM;
  const f = loadIn.from;
  if (f !== undefined) {
    if (!isRecord(f)) r.fail(["load", "from"], "expected { namespace, pod }");
    checkKeys(r, ["load", "from"], f, new Set(["namespace", "pod"]));
    from = {
      namespace: str(r, ["load", "from", "namespace"], f.namespace, NAME),
      pod: str(r, ["load", "from", "pod"], f.pod, NAME),
    };
  }
  let to: LoadDestination = DEFAULT_TO;
  if (loadIn.to !== undefined) {
    const t = loadIn.to;
    if (!isRecord(t)) r.fail(["load", "to"], "expected { namespace, service | pod, port }");
    checkKeys(r, ["load", "to"], t, new Set(["namespace", "service", "pod", "port"]));
    if ((t.service === undefined) === (t.pod === undefined))
      r.fail(["load", "to"], "give exactly one of service, pod");
    const namespace = str(r, ["load", "to", "namespace"], t.namespace, NAME);
    const port = num(r, ["load", "to", "port"], t.port, 1, 65535);
    to =
      t.service !== undefined
        ? { namespace, service: str(r, ["load", "to", "service"], t.service, NAME), port }
        : { namespace, pod: str(r, ["load", "to", "pod"], t.pod, NAME), port };
  }
  const timeoutMs =
    loadIn.timeout === undefined ? 10_000 : duration(r, ["load", "timeout"], loadIn.timeout, 300) * 1000;
  const load: LoadSpec = { rps, durationS, from, to, timeoutMs };

  const stepsIn = top.steps ?? [];
  if (!Array.isArray(stepsIn)) r.fail(["steps"], "expected a list of { at, action, args }");
  const steps: Step[] = stepsIn.map((s: unknown, i: number) => {
    if (!isRecord(s)) r.fail(["steps", i], "expected { at, action, args }");
    checkKeys(r, ["steps", i], s, new Set(["at", "action", "args"]));
    const atS = duration(r, ["steps", i, "at"], s.at, 3600);
    if (atS > durationS)
      r.fail(["steps", i, "at"], `${atS} s is after the load ends (duration ${durationS} s)`);
    const action = str(r, ["steps", i, "action"], s.action);
    const args = s.args === undefined ? {} : s.args;
    if (!isRecord(args)) r.fail(["steps", i, "args"], "expected a mapping");
    const problem = checkAction(action, args);
    if (problem !== undefined) {
      const path: (string | number)[] =
        problem.arg === undefined
          ? ["steps", i, "action"]
          : problem.arg === ""
            ? ["steps", i]
            : ["steps", i, "args", problem.arg];
      r.fail(path, problem.message);
    }
    return { atS, action, args, where: r.where(["steps", i]) };
  });
  for (let i = 1; i < steps.length; i++) {
    if ((steps[i]?.atS ?? 0) < (steps[i - 1]?.atS ?? 0))
      r.fail(["steps", i, "at"], "steps must be in time order");
  }
  const requires = top.requires === undefined ? [] : top.requires;
  if (!Array.isArray(requires) || !requires.every((x) => typeof x === "string"))
    r.fail(["requires"], "expected a list of feature names");
  return Object.freeze({ name, description, file, slo, load, steps, requires });
}

/** Built-in scenarios, then the user's directories; a later file of the same name wins (overrides). */
export async function loadScenarios(dirs: readonly string[], checkAction: ActionCheck): Promise<Scenario[]> {
  const byName = new Map<string, Scenario>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    for (const f of files) {
      const path = join(dir, f);
      const s = parseScenario(await readFile(path, "utf8"), path, checkAction);
      const stem = basename(f).replace(/\.ya?ml$/, "");
      if (stem !== s.name) {
        throw new ChaosError(
          ChaosErrorCode.SCENARIO,
          `${path}:1:1: name "${s.name}" differs from the file name "${stem}"; name the file <name>.yaml`,
        );
      }
      byName.set(s.name, s);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
