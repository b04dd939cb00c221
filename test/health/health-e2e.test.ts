/**
 * The mesh health model against real ztunnels in a local cluster (root, netns). Each indicator is
 * pushed across the issue's own threshold by real means, and `ambit health -o json`, its exit code
 * and the control plane's `ambit_mesh_health_*` gauges are checked:
 * - certificate_expiry: a CA root (14 days of life) that expires in 48 h (< 72 h);
 * - zone_imbalance and pool_hit_rate: a client in zone-a talking only to servers in zone-b;
 * - hbone_error_rate: the peer at :15008 presents a certificate of another CA, so the source
 *   ztunnel refuses the handshake (real openssl s_server, reached through a nat rule);
 * - config_freshness: a node whose ztunnel is SIGSTOPped stops ACKing a push.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CertificateAuthority } from "../../src/identity/ca.js";
import {
  ACTIONS,
  type HealthReport,
  type Indicator,
  type IndicatorName,
} from "../../src/telemetry/health/model.js";
import { eventually, exchange, needsRoot, ROOT, TestCluster } from "../e2e/cluster.js";
import { httpGet } from "../ecosystem/prometheus-server.js";

const execFileP = promisify(execFile);
const ECHO_PORT = 9000;
const IMPOSTOR_PORT = 15999;

async function selfSignedCa(dir: string, days: number, cn: string): Promise<void> {
  await execFileP("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    join(dir, "ca-key.pem"),
    "-out",
    join(dir, "ca-cert.pem"),
    "-days",
    String(days),
    "-subj",
    `/O=ambit-test/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function manifests(): string {
  const echo = [process.execPath, join(ROOT, "dist", "test", "e2e", "echo-server.js"), String(ECHO_PORT)];
  const pod = (name: string, node: string, sa: string, command: string[]): string =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: health\n  labels:\n    app: ${name}\nspec:\n  nodeName: ${node}\n  serviceAccountName: ${sa}\n  containers:\n    - name: main\n      image: local/test\n      command: ${JSON.stringify(command)}\n`;
  return [
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: health\n  labels:\n    istio.io/dataplane-mode: ambient\n",
    ...["server", "client"].map(
      (sa) => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${sa}\n  namespace: health\n`,
    ),
    // Endpoints: one in zone-a (node-1), two in zone-b (node-2); all traffic goes to zone-b.
    pod("client", "node-1", "client", ["sleep", "infinity"]),
    pod("server-a", "node-2", "server", echo),
    pod("server-b", "node-2", "server", echo),
  ].join("---\n");
}

describe("mesh health with real ztunnels: each indicator across its threshold", { skip: needsRoot }, () => {
  let c: TestCluster;
  let work: string;
  let impostor: ChildProcess | undefined;
  let stopped: number | null = null;
  let natRule: string[] | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "ambit-health-e2e-"));
    c = await TestCluster.up(
      [],
      2,
      async (home) => {
        // A root made 12 days ago for 14 days: 48 h left. Its own threshold is min(72 h, lifetime / 4
        // = 84 h) = 72 h, the issue's, so it is crossed as written (a root made today for 2 days
        // would be measured against 12 h). The CA's clock is only used to date this root.
        const DAY = 86_400_000;
        CertificateAuthority.loadOrCreate(join(home, "ca"), {
          validityDays: 14,
          clock: () => Date.now() - 12 * DAY,
        });
        // Node capture: the impostor test below redirects node-1's ztunnel dials in the node netns.
      },
      {},
      ["--capture", "node"],
    );
    await c.apply(manifests());
    await c.waitForPods(["health/client", "health/server-a", "health/server-b"]);
  });

  after(async () => {
    if (stopped !== null) process.kill(stopped, "SIGCONT");
    impostor?.kill("SIGKILL");
    if (natRule !== undefined)
      await execFileP("ip", [
        "netns",
        "exec",
        c.node("node-1").netns,
        "iptables",
        "-t",
        "nat",
        "-D",
        ...natRule,
      ]).catch(() => {});
    await c?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  const health = async (): Promise<{ code: number; report: HealthReport }> => {
    const r = await c.cli(["health", "-o", "json"]);
    assert.ok(
      r.stdout.trim().startsWith("{"),
      `ambit health -o json printed JSON (exit ${r.code}): ${r.stderr}`,
    );
    return { code: r.code, report: JSON.parse(r.stdout) as HealthReport };
  };
  const indicator = (report: HealthReport, name: IndicatorName): Indicator => {
    const i = report.indicators.find((x) => x.name === name);
    assert.ok(i, `indicator ${name}`);
    return i;
  };
  /** Polls `ambit health` until `done` holds (reports are cached 1.5 s; counters come by scrape). */
  const healthUntil = async (
    done: (r: HealthReport) => boolean,
    what: string,
  ): Promise<{ code: number; report: HealthReport }> => {
    let last: { code: number; report: HealthReport } | undefined;
    const ok = await eventually(
      async () => {
        last = await health();
        return done(last.report);
      },
      60_000,
      1000,
    );
    assert.ok(ok && last, `${what}: ${JSON.stringify(last?.report)}`);
    return last;
  };
  /** The control plane's `/metrics` (admin API over its unix socket, with the admin token). */
  const controlMetrics = async (): Promise<string> => {
    const token = (await readFile(join(c.home, "admin-token"), "utf8")).trim();
    const r = await httpGet({
      socketPath: join(c.home, "admin.sock"),
      path: "/metrics",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(r.status, 200, r.body);
    return r.body;
  };
  const send = async (pod: string, count: number): Promise<number> => {
    const ip = await c.podIp("health", pod);
    let echoed = 0;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.from(`hello ${pod} ${i}`);
      const r = await exchange(c.podNetns("health", "client"), ip, ECHO_PORT, payload, 15_000);
      if (r.received.equals(payload)) echoed += 1;
    }
    return echoed;
  };

  test("certificate_expiry: a CA root with 48 h left (< 72 h) is a warning with the rotate action", async () => {
    const { code, report } = await health();
    const cert = indicator(report, "certificate_expiry");
    assert.equal(cert.state, "warning");
    assert.equal(cert.threshold, 72);
    assert.ok(cert.value !== null && cert.value > 40 && cert.value < 72, `hours left ${cert.value}`);
    assert.equal(cert.action, ACTIONS.certificate_expiry);
    assert.ok(code >= 2, `exit code ${code}`);
  });

  test("zone-skewed load: zone-a's client only reaches zone-b → zone_imbalance notice; pooled sessions keep pool_hit_rate ok", async () => {
    assert.equal(await send("server-a", 20), 20, "every connection echoed through the mesh");
    const { report } = await healthUntil(
      (r) => indicator(r, "zone_imbalance").value !== null && indicator(r, "pool_hit_rate").value !== null,
      "zone and pool data",
    );
    const zone = indicator(report, "zone_imbalance");
    // Endpoints 1/3 zone-a, 2/3 zone-b; connections accepted 0 % zone-a, 100 % zone-b: a 33-point gap.
    assert.ok(zone.value !== null && zone.value > 15, `gap ${zone.value}`);
    assert.equal(zone.state, "notice");
    assert.equal(zone.action, ACTIONS.zone_imbalance);
    const pool = indicator(report, "pool_hit_rate");
    assert.ok(pool.value !== null && pool.value >= 85, `hit rate ${pool.value}`);
    assert.equal(pool.state, "ok");
    assert.equal(indicator(report, "hbone_error_rate").state, "ok");
  });

  test("refused handshakes: the peer at :15008 shows another CA's certificate → hbone_error_rate critical, exit 3, churn lowers pool_hit_rate", async () => {
    const node1 = c.node("node-1");
    await mkdir(join(work, "other-ca"));
    await selfSignedCa(join(work, "other-ca"), 1, "impostor");
    impostor = spawn(
      "ip",
      [
        "netns",
        "exec",
        node1.netns,
        "openssl",
        "s_server",
        "-accept",
        String(IMPOSTOR_PORT),
        "-cert",
        join(work, "other-ca", "ca-cert.pem"),
        "-key",
        join(work, "other-ca", "ca-key.pem"),
        "-quiet",
      ],
      { stdio: "ignore" },
    );
    impostor.on("error", () => {});
    const serverB = await c.podIp("health", "server-b");
    // node-1's ztunnel dials server-b's :15008; this rule hands that dial to the impostor instead.
    natRule = [
      "OUTPUT",
      "-d",
      `${serverB}/32`,
      "-p",
      "tcp",
      "--dport",
      "15008",
      "-j",
      "REDIRECT",
      "--to-ports",
      String(IMPOSTOR_PORT),
    ];
    await execFileP("ip", ["netns", "exec", node1.netns, "iptables", "-t", "nat", "-I", ...natRule]);
    await new Promise((r) => setTimeout(r, 500));

    assert.equal(await send("server-b", 10), 0, "no connection gets through an untrusted peer");
    const { code, report } = await healthUntil(
      (r) => indicator(r, "hbone_error_rate").state === "critical",
      "hbone_error_rate critical",
    );
    const err = indicator(report, "hbone_error_rate");
    assert.ok(err.value !== null && err.value > 2, `error rate ${err.value}`);
    assert.equal(err.action, ACTIONS.hbone_error_rate);
    assert.equal(code, 3, "the worst state is critical");
    const pool = indicator(report, "pool_hit_rate");
    assert.ok(pool.value !== null && pool.value < 85, `hit rate ${pool.value}`);
    assert.equal(pool.state, "warning");

    const text = await controlMetrics();
    assert.match(text, /^ambit_mesh_health_indicator_state\{indicator="hbone_error_rate"\} 3$/m);
    const score = /^ambit_mesh_health_score (\S+)$/m.exec(text)?.[1];
    assert.equal(Number(score), report.score);
    assert.ok(report.score < 60, `score ${report.score}`);
  });

  test("config freshness: a node that stops ACKing (its ztunnel SIGSTOPped) is behind → warning; SIGCONT → ok", async () => {
    const pid = await c.ztunnelPid("node-2");
    assert.ok(pid !== null, "node-2's ztunnel pid");
    process.kill(pid, "SIGSTOP");
    stopped = pid;
    await c.apply(
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: fresh\n  namespace: health\nspec:\n  selector:\n    app: server-a\n  ports:\n    - name: tcp\n      port: 9100\n      targetPort: ${ECHO_PORT}\n`,
    );
    const { code, report } = await healthUntil(
      (r) => indicator(r, "config_freshness").state === "warning",
      "config_freshness warning",
    );
    const fresh = indicator(report, "config_freshness");
    assert.ok(fresh.value !== null && fresh.value >= 1, `nodes behind ${fresh.value}`);
    assert.equal(fresh.action, ACTIONS.config_freshness);
    assert.ok(code >= 2);
    process.kill(pid, "SIGCONT");
    stopped = null;
    await healthUntil((r) => indicator(r, "config_freshness").state === "ok", "config_freshness back to ok");
  });
});
