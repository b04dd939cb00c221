/**
 * The mesh in its ecosystem (root, netns): a local cluster running examples/payment-system, every
 * component's /metrics checked by `promtool check metrics` and against docs/metrics.md, and a real
 * Prometheus server (Debian's, in the host netns, scraping through loopback forwards every second)
 * answering the PromQL a user of Istio's dashboards would ask.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, eventually, needsRoot, ROOT, TestCluster } from "../e2e/cluster.js";
import { PrometheusServer, promtoolCheckMetrics } from "./prometheus-server.js";
import {
  type ClusterTarget,
  closeTargets,
  clusterTargets,
  metricFamilies,
  scrape,
} from "./scrape-targets.js";

/**
 * Istio's standard name keeps "milliseconds" (dashboards query it by that name); promtool's lint
 * prefers base units. It is the one complaint accepted, and only for this metric.
 */
const ISTIO_NAMING_EXCEPTIONS = [
  'istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"',
];

describe("Prometheus, promtool and the metrics doc against a running local cluster", {
  skip: needsRoot,
}, () => {
  let c: TestCluster;
  let targets: ClusterTarget[] = [];
  let prom: PrometheusServer | undefined;

  before(async () => {
    c = await TestCluster.up(["examples/payment-system"]);
    targets = await clusterTargets(c);
  });

  after(async () => {
    await prom?.stop();
    await closeTargets(targets);
    await c?.destroy();
  });

  /** client-0 → payment-service through the waypoint, `count` requests ~`gapSeconds` apart. */
  const load = (count: number, gapSeconds: number): Promise<number> =>
    new Promise((resolve) => {
      const script = `i=0; while [ $i -lt ${count} ]; do curl -s -o /dev/null -m 3 http://payment-service:8080/; i=$((i+1)); sleep ${gapSeconds}; done`;
      const child = spawn(
        process.execPath,
        [CLI, "exec", "--home", c.home, "-n", "payment-system", "client-0", "--", "sh", "-c", script],
        { stdio: "ignore" },
      );
      child.on("close", (code) => resolve(code ?? -1));
    });

  test("every component serves /metrics: 2 ztunnels, the waypoint, the control plane", () => {
    assert.deepEqual(
      targets.map((t) => t.component),
      ["ztunnel", "ztunnel", "waypoint", "control"],
    );
  });

  test("promtool check metrics passes on every /metrics (only Istio's own duration name excepted)", async () => {
    await load(5, 0);
    for (const t of targets) {
      const text = await scrape(t);
      const r = await promtoolCheckMetrics(text);
      const problems = r.problems.filter((p) => !ISTIO_NAMING_EXCEPTIONS.includes(p));
      assert.deepEqual(problems, [], `${t.component} ${t.name}: promtool complains`);
      if (r.problems.length === 0) assert.equal(r.code, 0, `${t.component} ${t.name}: promtool exit code`);
    }
  });

  test("docs/metrics.md names every metric and every label each component exports", async () => {
    const doc = await readFile(join(ROOT, "docs", "metrics.md"), "utf8");
    const missing: string[] = [];
    let families = 0;
    for (const t of targets) {
      for (const [name, labels] of metricFamilies(await scrape(t))) {
        families += 1;
        if (!doc.includes(`\`${name}\``)) missing.push(`metric ${name} (${t.component})`);
        for (const l of labels) {
          if (!doc.includes(`\`${l}\``)) missing.push(`label ${l} of ${name} (${t.component})`);
        }
      }
    }
    assert.ok(families > 30, `scraped ${families} metric families`);
    assert.deepEqual([...new Set(missing)], [], "add these to docs/metrics.md");
  });

  test("a real Prometheus scrapes every target; PromQL returns the demo's request rate and mTLS connections", async () => {
    const jobs = (["ztunnel", "waypoint", "control"] as const).map((job) => {
      const mine = targets.filter((t) => t.component === job);
      const tokenFile = mine.find((t) => t.tokenFile !== undefined)?.tokenFile;
      return {
        job,
        targets: mine.map((t) => ({ address: `127.0.0.1:${t.forward.port}`, labels: { name: t.name } })),
        ...(tokenFile !== undefined ? { credentialsFile: tokenFile } : {}),
      };
    });
    prom = await PrometheusServer.start(jobs, 1);
    const server = prom;
    const traffic = load(60, 0.25);
    let last = "";
    const rateSeen = await eventually(
      async () => {
        const r = await server.query('sum(rate(istio_requests_total{reporter="waypoint"}[10s]))');
        last = JSON.stringify(r);
        return (r[0]?.value ?? 0) > 0;
      },
      90_000,
      1000,
    );
    assert.ok(rateSeen, `request rate at the waypoint stays 0: ${last}\n${server.log}`);

    const mtls = await server.query(
      'sum(istio_tcp_connections_opened_total{connection_security_policy="mutual_tls"})',
    );
    assert.ok((mtls[0]?.value ?? 0) > 0, `mTLS connections: ${JSON.stringify(mtls)}`);

    const up = await eventually(
      async () => {
        const r = await server.query("up");
        last = JSON.stringify(r.map((s) => [s.metric["job"], s.metric["name"], s.value]));
        return r.length === targets.length && r.every((s) => s.value === 1);
      },
      30_000,
      1000,
    );
    assert.ok(up, `up == 1 for every target: ${last}`);

    const health = await server.query("ambit_mesh_health_score");
    assert.equal(health.length, 1);
    assert.ok((health[0]?.value ?? -1) >= 0 && (health[0]?.value ?? 101) <= 100);
    assert.equal(await traffic, 0, "the curl loop in client-0 ran");
  });
});
