/** `ambit bench` flags → a validated `BenchConfig`; every refusal names the flag, the value and what fits. */
import { CAPTURE_MODES, type CaptureMode } from "../local/cluster-config.js";
import { BenchError, BenchErrorCode } from "./errors.js";
import { type BenchConfig, SCENARIOS, type ScenarioName } from "./run.js";

export interface BenchFlags {
  scenario?: string;
  pods?: string;
  duration?: string;
  rate?: string;
  connections?: string;
  newConnections?: string;
  iperfSeconds?: string;
  iperfStreams?: string;
  bodyBytes?: string;
  scaleRate?: string;
  capture?: string;
  rounds?: string;
}

export const BENCH_DEFAULTS = {
  seconds: 10,
  rate: 1000,
  connections: 16,
  newConnections: 300,
  iperfSeconds: 5,
  iperfStreams: 4,
  bodyBytes: 1024,
  scaleRate: 200,
  capture: "inpod",
  rounds: 1,
} as const;

function bad(flag: string, value: string, expected: string): BenchError {
  return new BenchError(BenchErrorCode.BadOption, `${flag} ${JSON.stringify(value)}: expected ${expected}`);
}

/** "10s", "500ms", "2m" or a bare number of seconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw bad(flag, v, "a duration such as 10s, 500ms or 2m");
  const n = Number(m[1]);
  const s = m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
  if (!(s >= 0.5 && s <= 3600)) throw bad(flag, v, "between 500ms and 1h");
  return s;
}

function parseInteger(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max)
    throw bad(flag, v, `a whole number from ${min} to ${max}`);
  return n;
}

function parseCapture(value: string): CaptureMode {
  if (!(CAPTURE_MODES as readonly string[]).includes(value))
    throw bad("--capture", value, CAPTURE_MODES.join(" or "));
  return value as CaptureMode;
}

export function benchConfig(f: BenchFlags): BenchConfig {
  const scenarios = (f.scenario ?? SCENARIOS.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of scenarios)
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw bad("--scenario", s, `one or more of ${SCENARIOS.join(", ")}`);
  if (new Set(scenarios).size !== scenarios.length)
    throw bad("--scenario", f.scenario ?? "", "each scenario once");
  const pods =
    f.pods === undefined
      ? []
      : f.pods.split(",").map((p) => {
          const n = parseInteger("--pods", p, 2, 400);
          if (n % 2 !== 0) throw bad("--pods", p, "an even number (client and server pods in pairs)");
          return n;
        });
  if (scenarios.length === 0 && pods.length === 0)
    throw bad("--scenario", f.scenario ?? "", "at least one scenario or --pods");
  return {
    scenarios: scenarios as ScenarioName[],
    seconds: f.duration === undefined ? BENCH_DEFAULTS.seconds : parseDuration("--duration", f.duration),
    rate: f.rate === undefined ? BENCH_DEFAULTS.rate : parseInteger("--rate", f.rate, 1, 100_000),
    connections:
      f.connections === undefined
        ? BENCH_DEFAULTS.connections
        : parseInteger("--connections", f.connections, 1, 1024),
    newConnections:
      f.newConnections === undefined
        ? BENCH_DEFAULTS.newConnections
        : parseInteger("--new-connections", f.newConnections, 1, 100_000),
    iperfSeconds:
      f.iperfSeconds === undefined
        ? BENCH_DEFAULTS.iperfSeconds
        : parseInteger("--iperf-seconds", f.iperfSeconds, 1, 600),
    iperfStreams:
      f.iperfStreams === undefined
        ? BENCH_DEFAULTS.iperfStreams
        : parseInteger("--iperf-streams", f.iperfStreams, 2, 128),
    bodyBytes:
      f.bodyBytes === undefined
        ? BENCH_DEFAULTS.bodyBytes
        : parseInteger("--body-bytes", f.bodyBytes, 1, 1 << 20),
    pods,
    scaleRate:
      f.scaleRate === undefined
        ? BENCH_DEFAULTS.scaleRate
        : parseInteger("--scale-rate", f.scaleRate, 1, 100_000),
    capture: parseCapture(f.capture ?? BENCH_DEFAULTS.capture),
    rounds: f.rounds === undefined ? BENCH_DEFAULTS.rounds : parseInteger("--rounds", f.rounds, 1, 20),
  };
}
