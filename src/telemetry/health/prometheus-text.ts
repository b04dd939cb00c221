/**
 * A reader of the Prometheus text exposition format (version 0.0.4), enough for what ztunnels
 * serve on :15020/metrics: `# HELP`/`# TYPE` lines, samples `name{label="value",…} value [timestamp]`,
 * label values with `\\`, `\"` and `\n` escapes, and the special values `+Inf`, `-Inf`, `NaN`.
 * The body comes from the network, so sizes and counts are bounded.
 */
import { HealthError, HealthErrorCode } from "./errors.js";

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParseLimits {
  readonly maxBytes: number;
  readonly maxSamples: number;
  readonly maxLabelsPerSample: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = Object.freeze({
  maxBytes: 8 * 1024 * 1024,
  maxSamples: 200_000,
  maxLabelsPerSample: 64,
});

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parsePrometheusText(text: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Sample[] {
  if (Buffer.byteLength(text) > limits.maxBytes) {
    throw bad(0, `the body is over ${limits.maxBytes} bytes`);
  }
  const samples: Sample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    if (samples.length >= limits.maxSamples) throw bad(i + 1, `more than ${limits.maxSamples} samples`);
    samples.push(parseSample(line, i + 1, limits));
  }
  return samples;
}

/** Sum of every sample of `name` whose labels include all of `match`. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

function parseSample(line: string, lineNo: number, limits: ParseLimits): Sample {
  const nameMatch = NAME.exec(line);
  if (!nameMatch) throw bad(lineNo, `expected a metric name at ${JSON.stringify(line.slice(0, 40))}`);
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    let count = 0;
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith("}")) {
        rest = rest.slice(1);
        break;
      }
      const ln = LABEL_NAME.exec(rest);
      if (!ln) throw bad(lineNo, `expected a label name in ${name}`);
      rest = rest.slice(ln[0].length).trimStart();
      if (!rest.startsWith("=")) throw bad(lineNo, `expected = after label ${ln[0]}`);
      rest = rest.slice(1).trimStart();
      if (!rest.startsWith('"')) throw bad(lineNo, `expected a quoted value for label ${ln[0]}`);
      const { value, consumed } = quoted(rest, lineNo);
      if (++count > limits.maxLabelsPerSample) {
        throw bad(lineNo, `more than ${limits.maxLabelsPerSample} labels on ${name}`);
      }
      labels[ln[0]] = value;
      rest = rest.slice(consumed).trimStart();
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) throw bad(lineNo, `expected , or } after label ${ln[0]}`);
    }
  }
  const fields = rest.trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === "") {
    throw bad(lineNo, `expected "value [timestamp]" after ${name}`);
  }
  const value = numberOf(fields[0] ?? "");
  if (value === undefined) throw bad(lineNo, `${JSON.stringify(fields[0])} is not a sample value of ${name}`);
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) {
    throw bad(lineNo, `${JSON.stringify(fields[1])} is not a timestamp in milliseconds`);
  }
  return { name, labels, value };
}

/** `"…"` at the start of `s` → its unescaped content and the characters it took. */
function quoted(s: string, lineNo: number): { value: string; consumed: number } {
  let out = "";
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === '"') return { value: out, consumed: i + 1 };
    if (c === "\\") {
      const n = s[++i];
      if (n === "n") out += "\n";
      else if (n === "\\" || n === '"') out += n;
      else throw bad(lineNo, `unknown escape \\${n ?? ""} in a label value`);
      continue;
    }
    out += c;
  }
  throw bad(lineNo, "unterminated label value");
}

function numberOf(text: string): number | undefined {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function bad(lineNo: number, what: string): HealthError {
  return new HealthError(
    HealthErrorCode.BadExposition,
    `metrics text${lineNo > 0 ? ` line ${lineNo}` : ""}: ${what}; is the target a Prometheus /metrics endpoint?`,
  );
}
