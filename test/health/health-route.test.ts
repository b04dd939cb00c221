/**
 * `/v1/health`, `/metrics` and `ambit health` against a real control plane started in-process. The
 * ztunnels are stood in for by an HTTP server on 127.0.0.1:0 serving a ztunnel registry's
 * exposition (real scrape over sockets); the CA hook is driven by a real CSR over gRPC/TLS.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ControlPlane } from "../../src/control/control-plane.js";
import type { ScrapeTarget } from "../../src/control/health-collector.js";
import { silentLogger } from "../../src/control/log.js";
import { createCsr, generateKeyPair } from "../../src/identity/keys.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import type { HealthReport } from "../../src/telemetry/health/model.js";
import { createMeshMetrics } from "../../src/telemetry/metrics.js";
import { GrpcCaClient } from "../../src/xds/ca-service.js";
import { XdsClient } from "../../src/xds/client.js";
import { admin, DEMO, type Harness } from "../control/harness.js";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");

function runCli(
  home: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, AMBIT_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    p.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("mesh health on a real control plane (ztunnel metrics stand-in over HTTP)", () => {
  let h: Harness;
  let metricsServer: Server;

  before(async () => {
    // One node's ztunnel: 60 pooled of 100 streams (warning), 1 handshake error in 100 (ok).
    const m = createMeshMetrics({ defaultLabels: { component: "ztunnel", node: "node1" } });
    m.poolHits.inc(60);
    m.poolMisses.inc(40);
    m.handshakeErrors.inc({ direction: "outbound", reason: "HBONE_ERR_HANDSHAKE" }, 1);
    metricsServer = createServer((_req, res) => {
      void m.registry.metrics().then((text) => {
        res.writeHead(200, { "content-type": m.registry.contentType });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => metricsServer.listen(0, "127.0.0.1", resolve));
    const port = (metricsServer.address() as AddressInfo).port;
    const targets: ScrapeTarget[] = [{ node: "node1", url: `http://127.0.0.1:${port}/metrics` }];

    const home = await mkdtemp(join(tmpdir(), "ambit-health-"));
    const cp = await ControlPlane.start(
      { home, xdsAddress: "127.0.0.1:0", debounceMs: 10, storeDebounceMs: 30 },
      { log: silentLogger(), healthTargets: async () => targets },
    );
    h = {
      cp,
      home,
      async close() {
        await cp.close();
        await rm(home, { recursive: true, force: true });
      },
    };
    assert.equal((await admin(h, "POST", "/v1/apply", { filename: "demo.yaml", yaml: DEMO })).status, 200);
  });

  after(async () => {
    await h?.close();
    await new Promise<void>((resolve) => {
      metricsServer.close(() => resolve());
      metricsServer.closeAllConnections();
    });
  });

  test("/v1/health needs the admin token", async () => {
    assert.equal((await admin(h, "GET", "/v1/health", undefined, null)).status, 401);
  });

  test("a certificate issued through the CA is recorded by the issuance hook and counted", async () => {
    const web = h.cp.state.registry.workloads.find((w) => w.serviceAccount === "web" && w.node !== undefined);
    assert.ok(web?.node);
    const token = (
      (await admin(h, "POST", "/v1/tokens", { kind: "node", node: web.node })).body as { token: string }
    ).token;
    const ca = new GrpcCaClient({
      address: `127.0.0.1:${h.cp.xdsPort}`,
      tls: { rootsPem: h.cp.ca.rootPem(), serverName: "istiod.istio-system.svc" },
      token,
    });
    try {
      const { privateKey } = generateKeyPair();
      await ca.createCertificate(createCsr(privateKey, SpiffeId.of("shop", "web")), 600);
    } finally {
      ca.close();
    }
    const leaves = h.cp.health.leavesInUse();
    assert.deepEqual(
      leaves.map((l) => [l.caller, l.identity]),
      [[`node/${web.node}`, "spiffe://cluster.local/ns/shop/sa/web"]],
    );
  });

  test("/v1/health: {score, indicators} with exactly the documented fields", async () => {
    const r = await admin(h, "GET", "/v1/health");
    assert.equal(r.status, 200);
    const body = r.body as HealthReport;
    assert.deepEqual(Object.keys(body), ["score", "indicators"]);
    for (const i of body.indicators) {
      assert.deepEqual(Object.keys(i), ["name", "weight", "value", "threshold", "state", "action"]);
    }
    const by = Object.fromEntries(body.indicators.map((i) => [i.name, i]));
    assert.deepEqual([by["pool_hit_rate"]?.value, by["pool_hit_rate"]?.state], [60, "warning"]);
    assert.equal(by["pool_hit_rate"]?.action, "scale ztunnel / check churn");
    assert.deepEqual([by["hbone_error_rate"]?.value, by["hbone_error_rate"]?.state], [1, "ok"]);
    // The 10-minute leaf from the test above is the most urgent certificate, and healthy.
    const cert = by["certificate_expiry"];
    assert.equal(cert?.state, "ok");
    assert.ok(
      cert?.value !== null && cert?.value !== undefined && cert.value < 1,
      `leaf hours ${cert?.value}`,
    );
    assert.deepEqual([by["zone_imbalance"]?.value, by["zone_imbalance"]?.action], [null, "no data"]);
    // 100 − 0.2 × (1 − 0.4)
    assert.equal(body.score, 88);
  });

  test("/metrics serves ambit_mesh_health_score and the per-indicator gauges", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          socketPath: h.cp.adminSocket,
          path: "/metrics",
          headers: { authorization: `Bearer ${h.cp.credentials.adminToken}` },
        },
        (res) => {
          let t = "";
          res.on("data", (c: Buffer) => {
            t += c.toString();
          });
          res.on("end", () => resolve(t));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.match(text, /^ambit_mesh_health_score 88$/m);
    assert.match(text, /^ambit_mesh_health_indicator_state\{indicator="pool_hit_rate"\} 2$/m);
  });

  test("ambit health -o json prints the report and exits 2 (worst state: warning)", async () => {
    const run = await runCli(h.home, ["health", "-o", "json"]);
    assert.equal(run.code, 2, run.stderr);
    const body = JSON.parse(run.stdout) as HealthReport;
    assert.equal(body.score, 88);
    assert.equal(body.indicators.length, 5);
  });

  test("ambit health prints a table with each indicator's value, state and action", async () => {
    const run = await runCli(h.home, ["health"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stdout, /mesh health score 88\/100/);
    assert.match(run.stdout, /pool_hit_rate\s+0\.20\s+60%\s+85%\s+warning\s+scale ztunnel \/ check churn/);
  });

  test("a connected ztunnel that ACKed its config makes config_freshness 0 nodes behind", async () => {
    const token = (
      (await admin(h, "POST", "/v1/tokens", { kind: "node", node: "node1" })).body as { token: string }
    ).token;
    const client = new XdsClient({
      address: `127.0.0.1:${h.cp.xdsPort}`,
      tls: { rootsPem: h.cp.ca.rootPem(), serverName: "istiod.istio-system.svc" },
      token,
      node: { id: "ztunnel~node1" },
    });
    try {
      client.start();
      await client.synced();
      // Reports are cached for 1.5 s: poll until one reflects the connected client.
      let freshness: HealthReport["indicators"][number] | undefined;
      for (let tries = 0; tries < 50; tries++) {
        const body = (await admin(h, "GET", "/v1/health")).body as HealthReport;
        freshness = body.indicators.find((i) => i.name === "config_freshness");
        if (freshness?.value !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual([freshness?.value, freshness?.state, freshness?.action], [0, "ok", "none"]);
    } finally {
      client.close();
    }
  });
});
