// Authorization decisions per second with 1,000 policies. Run: `npx tsc -p . && node dist/bench/policy.js [seconds-per-case]`.
// Writes bench/results/policy-<date>.json and adds a row to the policy table of bench/README.md.
//
// The mesh: 20 namespaces × 50 policies (per namespace: 5 namespace-wide DENY on ports, 35 selector
// ALLOW on principals / ip blocks / conditions, 10 targetRef ALLOW for the waypoint with methods and
// paths) = 1,000 policies; 200 workloads.
//   ztunnel-warm   one connection decision at the destination ztunnel; workload labels objects are the
//                  ones the ztunnel keeps in its state, so the applicable-policy memo hits
//   ztunnel-cold   the same with a fresh labels object per request (memo miss: selector scan every time)
//   waypoint-http  one HTTP request decision at a waypoint (Service targetRefs, methods/paths/headers)
//   compile        compiling the 1,000 policies (policies/s)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuthorizationPolicy } from "../src/api/types.js";
import { type AuthzRequest, compilePolicies, evaluate } from "../src/policy/index.js";

interface CaseResult {
  readonly perSecond: number;
  readonly wallPerSecond: number;
  readonly operations: number;
  readonly cpuSeconds: number;
}

function measure(seconds: number, op: (i: number) => void, warmup = 20_000, batch = 1000): CaseResult {
  for (let i = 0; i < warmup; i++) op(i);
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < batch; k++) op(n++);
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    perSecond: Math.round(n / cpuSeconds),
    wallPerSecond: Math.round(n / (Number(now - start) / 1e9)),
    operations: n,
    cpuSeconds: Number(cpuSeconds.toFixed(3)),
  };
}

const NAMESPACES = 20;
const APPS = 10;

function buildPolicies(): AuthorizationPolicy[] {
  const out: AuthorizationPolicy[] = [];
  const meta = (ns: string, name: string) => ({ name, namespace: ns });
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    for (let i = 0; i < 5; i++) {
      out.push({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta(ns, `deny-${i}`),
        spec: { action: "DENY", rules: [{ to: [{ operation: { ports: [String(20_000 + i)] } }] }] },
      });
    }
    for (let i = 0; i < 35; i++) {
      out.push({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta(ns, `allow-${i}`),
        spec: {
          selector: { matchLabels: { app: `app-${i % APPS}`, tier: i % 2 === 0 ? "web" : "db" } },
          rules: [
            {
              from: [
                { source: { principals: [`cluster.local/ns/${ns}/sa/client-${i}`] } },
                { source: { ipBlocks: [`10.${n}.${i}.0/24`] } },
              ],
              to: [{ operation: { ports: ["8080", "9090"] } }],
            },
            { when: [{ key: "source.namespace", values: [`ns-${(n + 1) % NAMESPACES}`] }] },
          ],
        },
      });
    }
    for (let i = 0; i < 10; i++) {
      out.push({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta(ns, `waypoint-${i}`),
        spec: {
          targetRefs: [{ kind: "Service", group: "", name: `app-${i}` }],
          rules: [
            {
              from: [{ source: { namespaces: [ns] } }],
              to: [{ operation: { methods: ["GET", "HEAD"], paths: ["/api/*", "/health"] } }],
              when: [{ key: "request.headers[x-tenant]", values: [`t-${i}`] }],
            },
          ],
        },
      });
    }
  }
  return out;
}

function main(): void {
  const seconds = Number(process.argv[2] ?? "2");
  const policies = buildPolicies();
  const compileCase = measure(
    seconds,
    () => {
      compilePolicies(policies);
    },
    3,
    1,
  );
  const { set, errors } = compilePolicies(policies);
  if (errors.length > 0) throw new Error(`bench policies invalid: ${errors[0]?.message}`);

  const workloads = Array.from({ length: 200 }, (_, w) => ({
    namespace: `ns-${w % NAMESPACES}`,
    labels: { app: `app-${w % APPS}`, tier: w % 2 === 0 ? "web" : "db" },
  }));
  const requests: AuthzRequest[] = workloads.map((wl, w) => ({
    enforcement: "ztunnel",
    source: {
      principal: `cluster.local/ns/${wl.namespace}/sa/client-${w % 35}`,
      ip: `10.${w % 20}.${w % 35}.7`,
      mtls: true,
    },
    destination: {
      namespace: wl.namespace,
      labels: wl.labels,
      ip: "10.200.0.1",
      port: w % 3 === 0 ? 9090 : 8080,
    },
  }));
  let allowed = 0;
  const warm = measure(seconds, (i) => {
    if (evaluate(set, requests[i % requests.length] as AuthzRequest).decision === "allow") allowed++;
  });
  const cold = measure(seconds, (i) => {
    const r = requests[i % requests.length] as AuthzRequest;
    evaluate(set, { ...r, destination: { ...r.destination, labels: { ...r.destination.labels } } });
  });
  const httpRequests: AuthzRequest[] = workloads.map((wl, w) => ({
    enforcement: "waypoint",
    source: { principal: `cluster.local/ns/${wl.namespace}/sa/client`, ip: "10.0.0.7", mtls: true },
    destination: {
      namespace: wl.namespace,
      labels: wl.labels,
      service: `app-${w % APPS}`,
      waypoint: "waypoint",
      ip: "10.200.0.1",
      port: 8080,
    },
    http: {
      method: w % 4 === 0 ? "POST" : "GET",
      path: "/api/items?x=1",
      host: "app",
      headers: { "X-Tenant": `t-${w % APPS}` },
    },
  }));
  const waypoint = measure(seconds, (i) => {
    evaluate(set, httpRequests[i % httpRequests.length] as AuthzRequest);
  });

  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    // not a git checkout
  }
  const result = {
    date: new Date().toISOString(),
    commit,
    machine: `${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, Node ${process.version}`,
    policies: policies.length,
    workloads: workloads.length,
    secondsPerCase: seconds,
    decisionsPerCpuSecond: {
      "ztunnel-warm": warm.perSecond,
      "ztunnel-cold": cold.perSecond,
      "waypoint-http": waypoint.perSecond,
    },
    compilePoliciesPerCpuSecond: compileCase.perSecond * policies.length,
    details: { warm, cold, waypoint, compile: compileCase },
    sanity: { allowedInWarmRun: allowed },
  };
  const here = dirname(fileURLToPath(import.meta.url));
  const outDir = join(here, "..", "..", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `policy-${result.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `${JSON.stringify(result.decisionsPerCpuSecond)} compile ${result.compilePoliciesPerCpuSecond} policies/s → ${file}\n`,
  );
  addReadmeRow(join(here, "..", "..", "bench", "README.md"), result, commit);
}

function addReadmeRow(
  readme: string,
  result: {
    date: string;
    machine: string;
    decisionsPerCpuSecond: Record<string, number>;
    compilePoliciesPerCpuSecond: number;
  },
  commit: string,
): void {
  const heading = "## Authorization decisions (`bench/policy.ts`)";
  const tableHead = [
    "| date | commit | machine | ztunnel (memo) | ztunnel (no memo) | waypoint HTTP | compile | load (1 min) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const d = result.decisionsPerCpuSecond;
  const row = `| ${result.date.slice(0, 16).replace("T", " ")} | ${commit} | ${result.machine} | ${d["ztunnel-warm"]}/s | ${d["ztunnel-cold"]}/s | ${d["waypoint-http"]}/s | ${result.compilePoliciesPerCpuSecond} policies/s | ${loadavg()[0]?.toFixed(2)} |`;
  let text = existsSync(readme) ? readFileSync(readme, "utf8") : "# Benchmarks\n";
  if (!text.includes(heading)) {
    const intro = [
      "Decisions per CPU-second of one core with 1,000 AuthorizationPolicies (20 namespaces, 200 workloads):",
      "ztunnel with its per-workload memo (the normal state), without it (a fresh labels object per request),",
      "and a waypoint deciding HTTP requests; plus compile speed. Run `npx tsc -p . && node dist/bench/policy.js [seconds]`.",
    ].join("\n");
    text = `${text.trimEnd()}\n\n${heading}\n\n${intro}\n\n${tableHead.join("\n")}\n`;
  }
  // Insert the row at the end of this table (it ends at the first blank line after the heading).
  const start = text.indexOf(heading);
  const tableStart = text.indexOf(tableHead[1] as string, start);
  const tableEnd = text.indexOf("\n\n", tableStart);
  text =
    tableEnd === -1
      ? `${text.trimEnd()}\n${row}\n`
      : `${text.slice(0, tableEnd)}\n${row}${text.slice(tableEnd)}`;
  writeFileSync(readme, text);
}

main();
