/**
 * The dashboard and `ambit top` against a real local cluster running the payment-system demo:
 * traffic from the client pod to payment-service shows up as an edge with a rate in
 * `ambit top --once -o json`, and in headless Chromium (Debian's, driven by playwright-core) the
 * page logs in with the one-time link `ambit dashboard` prints, draws the demo's services and the
 * client → payment-service edge, shows the health score, and is saved as
 * test-artifacts/dashboard.png.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
import type { TrafficReport } from "../../src/control/traffic-collector.js";
import { CLI, needsRoot, ROOT, sleep, TestCluster } from "../e2e/cluster.js";

const CLIENT = "workload:payment-system/client";
const PAYMENT = "service:payment-system/payment-service";
const EDGE = `${CLIENT} -> ${PAYMENT}`;
const CHROMIUM = "/usr/bin/chromium";

/** What the page exposes for tests (src/dashboard/web/app.ts); this file is compiled without the DOM library. */
interface CyElement {
  nonempty(): boolean;
  data(key: string): unknown;
  parent(): { id(): string };
}
interface DashboardWindow {
  ambitDashboard?: { cy: { getElementById(id: string): CyElement } };
}

describe("dashboard and ambit top on the payment-system demo", { skip: needsRoot }, () => {
  let c: TestCluster | undefined;
  let traffic: ChildProcess | undefined;
  let dashboard: ChildProcess | undefined;
  let browser: Browser | undefined;

  before(async () => {
    c = await TestCluster.up(["examples/payment-system"]);
    // More than the demo client's one request a second, for a minute and a half at most.
    traffic = spawn(
      process.execPath,
      [
        CLI,
        "exec",
        "--home",
        c.home,
        "-n",
        "payment-system",
        "client-0",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 450 ]; do curl -s -m 3 -o /dev/null http://payment-service:8080/; sleep 0.2; i=$((i+1)); done",
      ],
      { stdio: "ignore" },
    );
  });

  after(async () => {
    await browser?.close().catch(() => {});
    dashboard?.kill("SIGTERM");
    traffic?.kill("SIGKILL");
    await c?.destroy();
  });

  test("ambit top --once -o json shows client → payment-service with requests/s > 0", async () => {
    const cluster = c as TestCluster;
    let last: TrafficReport | undefined;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await cluster.cli(["top", "--once", "-o", "json", "-n", "payment-system"]);
      assert.equal(r.code, 0, r.stderr);
      last = JSON.parse(r.stdout) as TrafficReport;
      const edge = last.edges.find((e) => e.id === EDGE);
      if (edge !== undefined && edge.rps > 0) {
        assert.equal(edge.mtls, "mutual_tls");
        assert.ok(last.intervalSeconds > 0);
        assert.ok(
          last.proxies.some((p) => p.kind === "ztunnel" && p.reachable),
          "ztunnel states are part of the report",
        );
        return;
      }
      if (Date.now() > deadline) assert.fail(`no ${EDGE} with rps > 0 in ${JSON.stringify(last.edges)}`);
      await sleep(1000);
    }
  });

  test("headless Chromium shows the graph with the demo's services, the edge and the health score", async () => {
    const cluster = c as TestCluster;
    dashboard = spawn(
      process.execPath,
      [CLI, "dashboard", "--no-browser", "--port", "0", "--home", cluster.home],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const url = await firstUrl(dashboard);
    const base = new URL(url);
    assert.equal(base.hostname, "127.0.0.1");
    // The data needs the session cookie the one-time link buys.
    assert.equal((await httpStatus(base.port, "/api/snapshot")).status, 401);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    assert.equal(new URL(page.url()).pathname, "/", "the login redirects to the page");
    await page.waitForFunction(
      ({ edge, nodes }) => {
        const d = (globalThis as unknown as DashboardWindow).ambitDashboard;
        if (!d) return false;
        const e = d.cy.getElementById(edge);
        return (
          nodes.every((n) => d.cy.getElementById(n).nonempty()) && e.nonempty() && Number(e.data("rps")) > 0
        );
      },
      {
        edge: EDGE,
        nodes: [
          CLIENT,
          PAYMENT,
          "service:payment-system/payment-db",
          "workload:payment-system/payment-service-v1",
          "ns:payment-system",
        ],
      },
      { timeout: 45_000, polling: 500 },
    );
    const edge = await page.evaluate((id) => {
      const e = (globalThis as unknown as DashboardWindow).ambitDashboard?.cy.getElementById(id);
      return {
        label: String(e?.data("label")),
        source: String(e?.data("source")),
        target: String(e?.data("target")),
      };
    }, EDGE);
    assert.equal(edge.source, CLIENT);
    assert.equal(edge.target, PAYMENT);
    assert.match(edge.label, /🔒 \d+\.\d\d rps/);
    const parent = await page.evaluate(
      (id) => (globalThis as unknown as DashboardWindow).ambitDashboard?.cy.getElementById(id).parent().id(),
      CLIENT,
    );
    assert.equal(parent, "ns:payment-system", "workloads sit in their namespace's compound node");
    assert.match((await page.textContent("#score-value")) ?? "", /^\d{1,3}(\.\d+)?$/);
    assert.ok((await page.locator("#health tbody tr").count()) >= 5, "every health indicator is listed");
    assert.ok((await page.locator("#proxies tbody tr").count()) >= 2, "one row per ztunnel at least");
    assert.ok((await page.locator("#certs .cert").count()) >= 1, "certificates are on the timeline");
    await mkdir(join(ROOT, "test-artifacts"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "test-artifacts", "dashboard.png") });
    assert.deepEqual(errors, []);

    // The link worked once; a second visit with it is refused.
    const again = await browser.newPage();
    const r = await again.goto(url);
    assert.equal(r?.status(), 401);
  });
});

function firstUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`ambit dashboard printed no URL: ${out}${err}`)), 30_000);
    child.stderr?.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/login\?code=\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`ambit dashboard exited ${code}: ${out}${err}`));
    });
  });
}

function httpStatus(port: string, path: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: Number(port), path }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on("error", reject);
    req.end();
  });
}
