/**
 * Every /metrics endpoint of a running local cluster, reachable from the host netns through
 * loopback forwards: each node's ztunnel (:15020 in the node netns), each waypoint pod (:15020 in
 * its pod netns) and the control plane's admin API `/metrics` (unix socket, bearer token).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { WorkloadInfo } from "../../src/control/registry.js";
import { readAgentStatus } from "../../src/local/cluster-up.js";
import { eventually, type TestCluster } from "../e2e/cluster.js";
import { forwardTo, type LoopbackForward } from "./loopback-forward.js";
import { httpGet } from "./prometheus-server.js";

export interface ClusterTarget {
  readonly component: "ztunnel" | "waypoint" | "control";
  readonly name: string;
  readonly forward: LoopbackForward;
  /** Bearer token the endpoint needs (the control plane's admin token). */
  readonly token?: string;
  readonly tokenFile?: string;
}

export async function clusterTargets(c: TestCluster): Promise<ClusterTarget[]> {
  const out: ClusterTarget[] = [];
  try {
    for (const n of c.state.nodes) {
      const forward = await forwardTo({ kind: "netns", netns: n.netns, host: n.ip, port: 15020 });
      out.push({ component: "ztunnel", name: n.name, forward });
    }
    const status = await readAgentStatus(c.home);
    const { items } = await (await c.admin()).get<{ items: WorkloadInfo[] }>("/v1/registry/workloads");
    for (const w of items.filter((x) => x.isWaypoint)) {
      const id = `${w.namespace}/${w.name}`;
      const p = status?.pods[id];
      if (p === undefined) throw new Error(`waypoint pod ${id} not known to the node agent`);
      const forward = await forwardTo({ kind: "netns", netns: p.netns, host: p.ip, port: 15020 });
      out.push({ component: "waypoint", name: id, forward });
    }
    const tokenFile = join(c.home, "admin-token");
    const token = (await readFile(tokenFile, "utf8")).trim();
    const forward = await forwardTo({ kind: "unix", path: join(c.home, "admin.sock") });
    out.push({ component: "control", name: "control", forward, token, tokenFile });
    // `ambit up` waits for the ztunnels; a waypoint pod may still be fetching its certificate.
    for (const t of out) {
      let last: unknown;
      const ok = await eventually(
        () =>
          scrape(t).then(
            () => true,
            (e: unknown) => {
              last = e;
              return false;
            },
          ),
        60_000,
        500,
      );
      if (!ok) throw new Error(`${t.component} ${t.name} /metrics never answered: ${String(last)}`);
    }
    return out;
  } catch (e) {
    await closeTargets(out);
    throw e;
  }
}

export async function closeTargets(targets: readonly ClusterTarget[]): Promise<void> {
  await Promise.all(targets.map((t) => t.forward.close()));
}

export async function scrape(t: ClusterTarget): Promise<string> {
  const headers: Record<string, string> = t.token !== undefined ? { authorization: `Bearer ${t.token}` } : {};
  const r = await httpGet({ host: "127.0.0.1", port: t.forward.port, path: "/metrics", headers });
  if (r.status !== 200) throw new Error(`${t.component} ${t.name} /metrics answered ${r.status}: ${r.body}`);
  return r.body;
}

/** Metric family names (from `# TYPE`) and the label names seen on each family's samples. */
export function metricFamilies(text: string): Map<string, Set<string>> {
  const families = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type?.[1] !== undefined) families.set(type[1], new Set());
  }
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (m?.[1] === undefined) continue;
    const family = familyOf(m[1], families);
    if (family === undefined) continue;
    for (const label of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
      if (label[1] !== undefined) families.get(family)?.add(label[1]);
    }
  }
  return families;
}

function familyOf(sample: string, families: Map<string, Set<string>>): string | undefined {
  if (families.has(sample)) return sample;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = sample.endsWith(suffix) ? sample.slice(0, -suffix.length) : undefined;
    if (base !== undefined && families.has(base)) return base;
  }
  return undefined;
}
