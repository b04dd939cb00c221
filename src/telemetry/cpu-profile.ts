/**
 * On-demand CPU profiles of a running proxy through the V8 inspector (no restart, no flags): what
 * ztunnel's `/debug/pprof/profile` gives for Rust, as a `.cpuprofile` Chrome DevTools and
 * speedscope open. One profile at a time per process.
 */
import { Session } from "node:inspector/promises";

let busy = false;

export class ProfileBusyError extends Error {}

/** Samples the CPU for `seconds` (1–120) and returns the profile as JSON text. */
export async function cpuProfile(seconds: number, intervalUs = 200): Promise<string> {
  if (busy) throw new ProfileBusyError("a CPU profile is already being taken");
  busy = true;
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
    await session.post("Profiler.start");
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const { profile } = await session.post("Profiler.stop");
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
    busy = false;
  }
}

export interface HotSpot {
  readonly fn: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function of a `.cpuprofile`, largest first (the text flame graph of a report). */
export function hotSpots(profileJson: string, top = 30): HotSpot[] {
  const p = JSON.parse(profileJson) as {
    nodes: ProfileNode[];
    samples?: number[];
    timeDeltas?: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let total = 0;
  samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n === undefined) return;
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, "$1/");
    const key = `${n.callFrame.functionName || "(anonymous)"}\t${url}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [fn, where] = k.split("\t") as [string, string];
      return {
        fn,
        where,
        selfMs: Math.round(us / 10) / 100,
        share: total > 0 ? Math.round((us / total) * 1000) / 1000 : 0,
      };
    });
}
