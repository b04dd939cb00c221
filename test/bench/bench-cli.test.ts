/**
 * `ambit bench` end to end on a real local cluster (root): a short run of every scenario, checking
 * that each number comes from a real measurement (requests served, proxies found and measured).
 * The numbers themselves are not judged here; bench/ records them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { BenchDocument } from "../../src/bench/report.js";
import { needsRoot, runCli } from "../e2e/cluster.js";

test("ambit bench -o json: every scenario measured through its own proxies", {
  skip: needsRoot,
}, async () => {
  const r = await runCli(
    [
      "bench",
      "--duration",
      "1s",
      "--rate",
      "50",
      "--connections",
      "2",
      "--new-connections",
      "5",
      "--iperf-seconds",
      "1",
      "-o",
      "json",
    ],
    {},
    400_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as BenchDocument;
  assert.match(doc.commit, /^[0-9a-f]{7,}$|^unknown$/);
  const expectProxies: Record<string, number> = {
    direct: 0,
    "ambient-l4": 2,
    "ambient-l7": 3,
    sidecar: 2,
    "sidecar-stunnel": 2,
  };
  for (const [name, proxies] of Object.entries(expectProxies)) {
    const s = doc.scenarios[name as keyof typeof doc.scenarios];
    assert.ok(s, `scenario ${name} present`);
    assert.equal(s.errors.fixed_rate + s.errors.newconn, 0, `${name}: ${JSON.stringify(s.errors)}`);
    assert.equal(s.rate.target, 50);
    assert.ok(s.rps > 0 && s.p50_ms > 0 && s.p99_ms >= s.p50_ms, `${name} latency/rps measured`);
    assert.ok(s.newconn_p50_ms > 0, `${name} new connections measured`);
    assert.ok(s.throughput_gbps > 0, `${name} iperf3 measured`);
    assert.ok(
      s.throughput_multi_gbps > 0,
      `${name} iperf3 over ${doc.settings.iperfStreams} streams measured`,
    );
    assert.equal(doc.settings.iperfStreams, 4);
    assert.ok(
      s.machine_cores_at_multi > 0,
      `${name} busy cores over several streams: ${s.machine_cores_at_multi}`,
    );
    assert.equal(s.proxies.length, proxies, `${name} proxies: ${JSON.stringify(s.proxies)}`);
    for (const p of s.proxies)
      assert.ok(p.pid > 0 && p.rss_mb > 1, `${name} ${p.role} measured: ${JSON.stringify(p)}`);
    // A proxy's CPU is not asserted: 50 requests may cost it less than one 10 ms clock tick. The
    // machine (load generator included) is busy during the max-throughput phase.
    assert.ok(s.machine_cores_at_max > 0, `${name} busy cores at max: ${s.machine_cores_at_max}`);
  }
  assert.ok(doc.comparisons.added_latency_ms["ambient-l4"] !== undefined);
});
