import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { ZTUNNEL_SEMI_SPACE_MB, ztunnelArgv, ztunnelNodeArgs } from "./cluster-agent.js";
import { clusterConfig } from "./cluster-config.js";
import { planCluster } from "./cluster-plan.js";

const state = planCluster(clusterConfig({ name: "t1", nodes: 2, home: "/tmp/h" }), new Date(0));

function withEnv<T>(value: string | undefined, f: () => T): T {
  const saved = process.env.AMBIT_ZTUNNEL_NODE_ARGS;
  if (value === undefined) delete process.env.AMBIT_ZTUNNEL_NODE_ARGS;
  else process.env.AMBIT_ZTUNNEL_NODE_ARGS = value;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.AMBIT_ZTUNNEL_NODE_ARGS;
    else process.env.AMBIT_ZTUNNEL_NODE_ARGS = saved;
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

test("ztunnel processes start with the young-generation cap, before the CLI entry", () => {
  const argv = withEnv(undefined, () => ztunnelArgv(state, state.nodes[0] as (typeof state.nodes)[0]));
  const flag = argv.indexOf(`--max-semi-space-size=${ZTUNNEL_SEMI_SPACE_MB}`);
  assert.equal(flag, 1, argv.join(" "));
  assert.ok(argv.indexOf("ztunnel") > flag);
});

test("AMBIT_ZTUNNEL_NODE_ARGS adds flags, and its own semi-space size replaces the default", () => {
  assert.deepEqual(
    withEnv("--cpu-prof  --cpu-prof-dir=/tmp/p", () => ztunnelNodeArgs()),
    [`--max-semi-space-size=${ZTUNNEL_SEMI_SPACE_MB}`, "--cpu-prof", "--cpu-prof-dir=/tmp/p"],
  );
  assert.deepEqual(
    withEnv("--max-semi-space-size=8", () => ztunnelNodeArgs()),
    ["--max-semi-space-size=8"],
  );
  assert.deepEqual(
    withEnv("--max_semi_space_size 4", () => ztunnelNodeArgs()),
    ["--max_semi_space_size", "4"],
  );
});

test("the cap holds V8's young generation down where the default lets it grow (real node)", () => {
  const capped = youngGenerationBytes(withEnv(undefined, () => ztunnelNodeArgs()));
  const uncapped = youngGenerationBytes([]);
  assert.ok(capped <= 2 * ZTUNNEL_SEMI_SPACE_MB * 1024 * 1024, `capped new_space ${capped} bytes`);
  assert.ok(uncapped > capped, `default new_space ${uncapped} bytes, capped ${capped}`);
});

test("AMBIT_ZTUNNEL_HBONE_WRITES becomes the ztunnels' --hbone-writes; unset, no flag", () => {
  const saved = process.env.AMBIT_ZTUNNEL_HBONE_WRITES;
  try {
    delete process.env.AMBIT_ZTUNNEL_HBONE_WRITES;
    const node = state.nodes[0];
    assert.ok(node);
    assert.ok(!ztunnelArgv(state, node).includes("--hbone-writes"));
    process.env.AMBIT_ZTUNNEL_HBONE_WRITES = "kernel";
    const argv = ztunnelArgv(state, node);
    assert.equal(argv[argv.indexOf("--hbone-writes") + 1], "kernel");
  } finally {
    if (saved === undefined) delete process.env.AMBIT_ZTUNNEL_HBONE_WRITES;
    else process.env.AMBIT_ZTUNNEL_HBONE_WRITES = saved;
  }
});
