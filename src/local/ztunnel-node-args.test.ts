import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { ZTUNNEL_GC_FLAG, ZTUNNEL_SEMI_SPACE_MB, ztunnelArgv, ztunnelNodeArgs } from "./cluster-agent.js";
import { clusterConfig } from "./cluster-config.js";
import { planCluster } from "./cluster-plan.js";

const state = planCluster(clusterConfig({ name: "t1", nodes: 2, home: "/tmp/h" }), new Date(0));

/** Runs `f` with `variable` set to `value` (unset when undefined), then puts it back. */
function withEnv<T>(value: string | undefined, f: () => T, variable = "AMBIT_ZTUNNEL_NODE_ARGS"): T {
  const saved = process.env[variable];
  if (value === undefined) delete process.env[variable];
  else process.env[variable] = value;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env[variable];
    else process.env[variable] = saved;
  }
}

/** new_space capacity (bytes) of a node started with `flags` after it churned through short-lived objects. */
function youngGenerationBytes(flags: string[]): number {
  const script =
    "const a=[];for(let i=0;i<3e6;i++){a.push({i});if(a.length>200000)a.length=0}" +
    "const s=require('v8').getHeapSpaceStatistics().find((x)=>x.space_name==='new_space');" +
    "process.stdout.write(String(s.space_size))";
  return Number(
    execFileSync(process.execPath, [...flags, "-e", script], { encoding: "utf8", timeout: 60_000 }),
  );
}

test("ztunnel processes start with the young-generation cap and single-threaded GC, before the CLI entry", () => {
  const argv = withEnv(undefined, () => ztunnelArgv(state, state.nodes[0] as (typeof state.nodes)[0]));
  const cap = argv.indexOf(`--max-semi-space-size=${ZTUNNEL_SEMI_SPACE_MB}`);
  const gc = argv.indexOf(ZTUNNEL_GC_FLAG);
  assert.equal(cap, 1, argv.join(" "));
  assert.equal(gc, 2, argv.join(" "));
  assert.ok(argv.indexOf("ztunnel") > gc);
});

test("AMBIT_ZTUNNEL_NODE_ARGS adds flags, and its own semi-space size or GC threading replaces the default", () => {
  const cap = `--max-semi-space-size=${ZTUNNEL_SEMI_SPACE_MB}`;
  assert.deepEqual(
    withEnv("--cpu-prof  --cpu-prof-dir=/tmp/p", () => ztunnelNodeArgs()),
    [cap, ZTUNNEL_GC_FLAG, "--cpu-prof", "--cpu-prof-dir=/tmp/p"],
  );
  assert.deepEqual(
    withEnv("--max-semi-space-size=8", () => ztunnelNodeArgs()),
    [ZTUNNEL_GC_FLAG, "--max-semi-space-size=8"],
  );
  assert.deepEqual(
    withEnv("--max_semi_space_size 4", () => ztunnelNodeArgs()),
    [ZTUNNEL_GC_FLAG, "--max_semi_space_size", "4"],
  );
  assert.deepEqual(
    withEnv("--no-single-threaded-gc", () => ztunnelNodeArgs()),
    [cap, "--no-single-threaded-gc"],
  );
  assert.deepEqual(
    withEnv("--single_threaded_gc", () => ztunnelNodeArgs()),
    [cap, "--single_threaded_gc"],
  );
});

/**
 * CPU jiffies of a node started with `flags` that churns through short-lived objects (enough
 * scavenges for V8 to hand work to its helper threads): its main thread's and all the others'.
 */
function gcThreadJiffies(flags: string[]): { main: number; helpers: number } {
  const script =
    "const fs=require('fs');const a=[];for(let i=0;i<2e6;i++){a.push({i,b:Buffer.allocUnsafe(64)});if(a.length>20000)a.length=0}" +
    "let main=0,helpers=0;for(const t of fs.readdirSync('/proc/self/task')){const s=fs.readFileSync('/proc/self/task/'+t+'/stat','utf8');" +
    "const f=s.slice(s.lastIndexOf(')')+2).split(' ');const j=Number(f[11])+Number(f[12]);if(t===String(process.pid))main=j;else helpers+=j}" +
    "process.stdout.write(JSON.stringify({main,helpers}))";
  return JSON.parse(
    execFileSync(process.execPath, [...flags, "-e", script], { encoding: "utf8", timeout: 60_000 }),
  ) as { main: number; helpers: number };
}

test("with the ztunnel's flags V8's helper threads do no garbage collection; with V8's default they do (real node)", () => {
  const single = gcThreadJiffies(withEnv(undefined, () => ztunnelNodeArgs()));
  const parallel = gcThreadJiffies(withEnv("--no-single-threaded-gc", () => ztunnelNodeArgs()));
  // Measured here: the default's helpers spend 55–75 % of the main thread's time on this churn;
  // with the flag they spend 0–2 % (background compilation, which stays on).
  assert.ok(
    single.helpers * 10 <= single.main,
    `single-threaded GC: helper threads ${single.helpers} jiffies, main ${single.main}`,
  );
  assert.ok(
    parallel.helpers * 4 >= parallel.main,
    `parallel GC: helper threads ${parallel.helpers} jiffies, main ${parallel.main}`,
  );
});

test("the cap holds V8's young generation down where the default lets it grow (real node)", () => {
  const capped = youngGenerationBytes(withEnv(undefined, () => ztunnelNodeArgs()));
  const uncapped = youngGenerationBytes([]);
  assert.ok(capped <= 2 * ZTUNNEL_SEMI_SPACE_MB * 1024 * 1024, `capped new_space ${capped} bytes`);
  assert.ok(uncapped > capped, `default new_space ${uncapped} bytes, capped ${capped}`);
});

test("AMBIT_ZTUNNEL_HBONE_WRITES becomes the ztunnels' --hbone-writes; unset, no flag", () => {
  const node = state.nodes[0];
  assert.ok(node);
  const argvWith = (value: string | undefined): string[] =>
    withEnv(value, () => ztunnelArgv(state, node), "AMBIT_ZTUNNEL_HBONE_WRITES");
  assert.ok(!argvWith(undefined).includes("--hbone-writes"));
  const argv = argvWith("kernel");
  assert.equal(argv[argv.indexOf("--hbone-writes") + 1], "kernel");
});
