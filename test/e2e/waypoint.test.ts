/**
 * The payment-system demo through its waypoint, in a local cluster of network namespaces: the node
 * agent runs `ambit waypoint` for the waypoint pod; client-0 → payment-service goes through it, and
 * the TrafficSplit (5% v2 / 95% v1) shows in the replies' `version` fields (plain L4 round-robin
 * over the two pods would give about half each).
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually, needsRoot, TestCluster } from "./cluster.js";

describe("examples/payment-system through the waypoint", { skip: needsRoot }, () => {
  let c: TestCluster;

  before(async () => {
    c = await TestCluster.up(["examples/payment-system"]);
  });

  after(async () => {
    await c?.destroy();
  });

  /** The waypoint pod's log and the last curl's answer, for a failure message. */
  const waypointLogs = async (): Promise<string> => {
    const dir = join(c.home, "logs");
    const files = (await readdir(dir)).filter((f) => f.includes("waypoint"));
    const parts: string[] = [];
    for (const f of files) {
      const text = await readFile(join(dir, f), "utf8").catch(() => "");
      parts.push(`--- ${f}\n${text.trimEnd().split("\n").slice(-15).join("\n")}`);
    }
    const r = await curl();
    parts.push(`--- curl: ${r.code} ${r.stdout} ${r.stderr}`);
    const agent = await readFile(join(dir, "agent.log"), "utf8").catch(() => "");
    parts.push(
      `--- agent errors\n${agent
        .split("\n")
        .filter((l) => l.includes('"level":50') || l.includes('"level":40'))
        .join("\n")}`,
    );
    const { execFileSync } = await import("node:child_process");
    const nodeNs = c.state.nodes[0]?.netns ?? "";
    parts.push(
      `--- nat OUTPUT\n${execFileSync("ip", ["netns", "exec", nodeNs, "iptables", "-t", "nat", "-S", "OUTPUT"]).toString()}`,
    );
    return parts.join("\n");
  };

  const curl = () =>
    c.cli([
      "exec",
      "-n",
      "payment-system",
      "client-0",
      "--",
      "curl",
      "-s",
      "-m",
      "3",
      "http://payment-service:8080/",
    ]);

  test("replies come back and follow the 5/95 TrafficSplit", async () => {
    const first = await eventually(async () => (await curl()).code === 0, 30_000, 500);
    assert.ok(first, `curl through the waypoint succeeded\n${await waypointLogs()}`);
    const counts: Record<string, number> = {};
    const n = 40;
    for (let i = 0; i < n; i++) {
      const r = await curl();
      assert.equal(r.code, 0, r.stderr);
      const v = (JSON.parse(r.stdout) as { version?: string }).version ?? "none";
      counts[v] = (counts[v] ?? 0) + 1;
    }
    // Expected ~38 v1; round-robin at L4 would give ~20.
    assert.ok((counts["v1"] ?? 0) >= 32, `versions: ${JSON.stringify(counts)}`);
  });
});
