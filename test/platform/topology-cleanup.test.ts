import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { type CommandRunner, runCommand } from "../../src/platform/command.js";
import { IpTool, listNetns } from "../../src/platform/netns.js";
import { applyTopology } from "../../src/platform/topology.js";
import { planTopology } from "../../src/platform/topology-plan.js";
import { sweepStale } from "../netns/topology.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (netns)" : false;

function prefix(): string {
  return `ab${randomBytes(3).toString("hex").slice(0, 4)}`;
}

async function mine(p: string): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${p}-`));
}

describe("topology cleanup", { skip: notRoot }, () => {
  test("a build that fails half-way removes every netns it created, and names the failing command", async (t) => {
    const plan = planTopology({ prefix: prefix(), nodes: [{ name: "node1", pods: ["node1-pod1"] }] });
    t.after(() =>
      new IpTool().deleteNetnsMany([plan.fabric.netns, `${plan.prefix}-node1`, `${plan.prefix}-node1-pod1`]),
    );
    // Fail the pod's own configuration, after the namespaces, bridge and veths exist.
    const failing: CommandRunner = (argv, options) =>
      argv.includes(`${plan.prefix}-node1-pod1`) && argv.includes("-batch")
        ? runCommand(
            ["ip", "-n", `${plan.prefix}-node1-pod1`, "route", "add", "default", "via", "10.9.9.9"],
            options,
          )
        : runCommand(argv, options);
    await assert.rejects(applyTopology(plan, new IpTool(failing)), (e: unknown) => {
      assert.equal((e as { code?: string }).code, "PLAT_ERR_COMMAND");
      assert.match(String((e as Error).message), /route add default via 10\.9\.9\.9/);
      return true;
    });
    assert.deepEqual(await mine(plan.prefix), []);
  });

  test("sweepStale removes only runs whose recorded owner is dead", async (t) => {
    const dead = prefix();
    const unowned = prefix();
    const ip = new IpTool();
    t.after(async () => {
      await ip.deleteNetnsMany([`${dead}-node1`, `${unowned}-node1`]);
      rmSync(`/run/ambit-test-netns/${dead}`, { force: true });
    });
    const exited = spawnSync(process.execPath, ["-e", "0"]);
    mkdirSync("/run/ambit-test-netns", { recursive: true });
    writeFileSync(`/run/ambit-test-netns/${dead}`, String(exited.pid));
    await ip.createNetns(`${dead}-node1`);
    await ip.createNetns(`${unowned}-node1`);
    const swept = await sweepStale();
    assert.ok(swept.includes(`${dead}-node1`));
    assert.ok(!swept.includes(`${unowned}-node1`));
    assert.deepEqual(await mine(dead), []);
    assert.deepEqual(await mine(unowned), [`${unowned}-node1`]);
  });

  test("deleting a namespace kills the processes left inside it", async (t) => {
    const p = prefix();
    const ip = new IpTool();
    t.after(() => ip.deleteNetnsMany([`${p}-node1`]));
    await ip.createNetns(`${p}-node1`);
    const sleeper = spawnSync(
      "ip",
      ["netns", "exec", `${p}-node1`, "sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
      {
        encoding: "utf8",
      },
    );
    const pid = Number(sleeper.stdout.trim());
    assert.ok(pid > 0);
    assert.deepEqual(ip.netnsPids(`${p}-node1`), [pid]);
    await ip.deleteNetns(`${p}-node1`);
    assert.deepEqual(await mine(p), []);
    // The process is gone (or a zombie of init, which no longer runs).
    const stat = spawnSync("sh", ["-c", `cat /proc/${pid}/stat 2>/dev/null | cut -d' ' -f3`], {
      encoding: "utf8",
    });
    assert.ok(stat.stdout.trim() === "" || stat.stdout.trim() === "Z", stat.stdout);
  });
});
