/**
 * The user story of the README: `ambit up -f examples/payment-system`, then talk to the services
 * from the client pod by name; `ambit exec` semantics; `ambit up` refusing a second cluster in the
 * same data directory; `ambit down` leaving nothing behind.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { pidRunning } from "../../src/local/cluster-state.js";
import { IpTool } from "../../src/platform/netns.js";
import { eventually, needsRoot, runCli, TestCluster } from "./cluster.js";

describe("examples/payment-system in a local cluster", { skip: needsRoot }, () => {
  let c: TestCluster;

  before(async () => {
    // As the README runs it: the namespace keeps `istio.io/use-waypoint`, so requests cross the waypoint.
    c = await TestCluster.up(["examples/payment-system"]);
  });

  after(async () => {
    await c?.destroy();
  });

  test("ambit up reports each step and the hints", () => {
    assert.match(c.upOutput, /✓ network: fabric, control plane and 2 node namespaces/);
    assert.match(c.upOutput, /✓ every pod's network, capture and process up and serving; ztunnels ready/);
    assert.match(c.upOutput, /ambit exec .*client-0 -- curl/);
  });

  test("payment-service answers the first request after ambit up (JSON naming service, version and pod), from the client pod by service name", async () => {
    // No retry: `ambit up` returns once every pod serves (a waypoint's readiness included), so the
    // hint it prints works at once. Before that wait, the first curl got an empty reply.
    const r = await c.cli([
      "exec",
      "-n",
      "payment-system",
      "client-0",
      "--",
      "curl",
      "-sS",
      "-m",
      "5",
      "http://payment-service:8080/",
    ]);
    assert.equal(r.code, 0, `curl from client-0 right after ambit up: ${r.stderr}`);
    const reply = JSON.parse(r.stdout) as { service?: string; version?: string; pod?: string };
    assert.equal(reply.service, "payment-service");
    assert.ok(reply.version === "v1" || reply.version === "v2");
    assert.match(reply.pod ?? "", /^payment-service-v[12]-\d$/);
  });

  // The demo's AuthorizationPolicy (enforced by the waypoint, which parses MySQL on port 3306) lets
  // only payment-service run SELECT and UPDATE on payment-db.
  const sql = (pod: string, statement: string) =>
    c.cli([
      "exec",
      "-n",
      "payment-system",
      pod,
      "--",
      "mariadb",
      "--no-defaults",
      "-h",
      "payment-db",
      "-u",
      "payment",
      "-ppayment-demo",
      "-N",
      "-e",
      statement,
    ]);

  test("payment-db is a real MariaDB: payment-service may SELECT, not DELETE; the client may do neither", async () => {
    let out = "";
    const ok = await eventually(
      async () => {
        const r = await sql("payment-service-v1-0", "SELECT account FROM payments.payments ORDER BY id");
        out = r.stdout + r.stderr;
        return r.code === 0;
      },
      60_000,
      1000,
    );
    assert.ok(ok, out);
    assert.match(out, /acct-001/);

    const del = await sql("payment-service-v1-0", "DELETE FROM payments.payments");
    assert.notEqual(del.code, 0);
    assert.match(del.stderr, /ERROR 1142 \(42000\).*DELETE statement denied/);

    const fromClient = await sql("client-0", "SELECT account FROM payments.payments");
    assert.notEqual(fromClient.code, 0);
    assert.match(fromClient.stderr, /ERROR 1142 \(42000\).*SELECT statement denied/);

    const still = await sql("payment-service-v1-0", "SELECT COUNT(*) FROM payments.payments");
    assert.equal(still.code, 0, still.stderr);
    assert.match(still.stdout, /^[1-9]/m, "the DELETE must not have run");
  });

  test("ambit exec propagates the exit code and runs in the node netns with --node", async () => {
    const r = await c.cli(["exec", "-n", "payment-system", "client-0", "--", "sh", "-c", "exit 7"]);
    assert.equal(r.code, 7);
    const ip = await c.cli(["exec", "--node", "node-2", "--", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert.equal(ip.code, 0);
    assert.match(ip.stdout, /10\.200\.0\.12\//);
    const metrics = await c.cli(["exec", "--node", "node-1", "--", "curl", "-s", "localhost:15020/metrics"]);
    assert.match(metrics.stdout, /istio_tcp_connections_opened_total/);
    const missing = await c.cli(["exec", "-n", "payment-system", "nope-0", "--", "true"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /LOCAL_ERR_NOT_FOUND/);
  });

  test("a second ambit up on the same data directory is refused and changes nothing", async () => {
    const r = await runCli(["up", "--name", c.name, "--home", c.home]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /LOCAL_ERR_EXISTS/);
    const again = await c.cli([
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
    assert.equal(again.code, 0, "the cluster still works");
  });

  test("ambit down after a crash (agent and control plane killed) removes every namespace, process and /etc/netns dir", async () => {
    const pids = [c.state.agent.pid, c.state.control.pid, await c.podPid("payment-system", "client-0")];
    for (const pid of pids.slice(0, 2)) if (pid !== null) process.kill(pid, "SIGKILL");
    const r = await c.cli(["down"]);
    assert.equal(r.code, 0, r.stderr);
    const left = (await new IpTool().listNetns()).filter((n) => n.startsWith(`${c.name}-`));
    assert.deepEqual(left, []);
    const etc = (await readdir("/etc/netns").catch(() => [] as string[])).filter((d) =>
      d.startsWith(`${c.name}-`),
    );
    assert.deepEqual(etc, []);
    for (const pid of pids) {
      if (pid === null) continue;
      assert.equal(await pidRunning(pid), false, `pid ${pid} is gone`);
    }
    assert.equal((await c.cli(["down"])).code, 1, "a second down finds no cluster (LOCAL_ERR_NO_CLUSTER)");
  });
});
