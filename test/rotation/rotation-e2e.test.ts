/**
 * Issue 5 end to end on a local cluster (root, netns): a steady request loop client-0 →
 * payment-service (HBONE across nodes, through the namespace's waypoint) while `ambit cert rotate --all`
 * and then `ambit ca rotate-root` run. Zero requests may fail; at the end every certificate in use is
 * from the new root, and with the old root removed from every bundle (`--retire-now`) requests still
 * succeed, which only leaves of the new root can make happen.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { httpGetInNetns } from "../../src/local/netns-http.js";
import { needsRoot, TestCluster } from "../e2e/cluster.js";
import { until } from "./harness.js";

interface Loop {
  ok: number;
  failures: string[];
  stop(): Promise<void>;
}

function requestLoop(netns: string, host: string, port: number): Loop {
  let running = true;
  const loop: Loop = { ok: 0, failures: [], stop: async () => {} };
  const done = (async () => {
    while (running) {
      try {
        const r = await httpGetInNetns(netns, { host, port, path: "/" }, 10_000);
        if (r.status === 200) loop.ok++;
        else loop.failures.push(`HTTP ${r.status}`);
      } catch (e) {
        loop.failures.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  loop.stop = async () => {
    running = false;
    await done;
  };
  return loop;
}

interface CertRow {
  identity: string;
  caller: string;
  serial: string;
  root: string;
}

describe("rotation on a local cluster (payment-system)", { skip: needsRoot }, () => {
  let c: TestCluster;
  let loop: Loop | undefined;

  before(async () => {
    c = await TestCluster.up(["examples/payment-system"]);
  });

  after(async () => {
    await loop?.stop();
    await c?.destroy();
  });

  const certs = async (): Promise<CertRow[]> => {
    const r = await c.cli(["cert", "status", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { certificates: CertRow[] }).certificates;
  };

  test("cert rotate --all, then ca rotate-root: zero failed requests, new root everywhere", {
    timeout: 600_000,
  }, async (t) => {
    const admin = await c.admin();
    const services = await admin.get<{ items: Array<{ name: string; vip?: string }> }>(
      "/v1/registry/services?namespace=payment-system",
    );
    const vip = services.items.find((s) => s.name === "payment-service")?.vip;
    assert.ok(vip, "payment-service has a VIP");
    const netns = c.podNetns("payment-system", "client-0");
    // Wait until the path works once, then count every request from here on.
    await until(
      async () => {
        try {
          return (await httpGetInNetns(netns, { host: vip, port: 8080, path: "/" }, 3000)).status === 200;
        } catch {
          return false;
        }
      },
      "first request",
      120_000,
    );
    loop = requestLoop(netns, vip, 8080);
    await until(() => loop!.ok >= 5, "steady requests", 60_000);

    const before = await certs();
    assert.ok(before.length >= 3, `certificates in use: ${JSON.stringify(before)}`);
    const rotateStart = Date.now();
    const rotate = await c.cli(["cert", "rotate", "--all", "--timeout", "120s"]);
    t.diagnostic(`cert rotate --all: ${Date.now() - rotateStart} ms (CLI process included)`);
    assert.equal(rotate.code, 0, rotate.stdout + rotate.stderr);
    assert.match(rotate.stdout, /every targeted certificate was renewed/);
    const renewed = await certs();
    for (const b of before) {
      const now = renewed.find((r) => r.identity === b.identity && r.caller === b.caller);
      if (now !== undefined) assert.notEqual(now.serial, b.serial, `${b.identity} on ${b.caller} renewed`);
    }

    const rootStart = Date.now();
    const rr = await c.cli(["ca", "rotate-root", "--timeout", "5m"]);
    t.diagnostic(`ca rotate-root until retiring: ${Date.now() - rootStart} ms (CLI process included)`);
    assert.equal(rr.code, 0, rr.stdout + rr.stderr);
    assert.match(rr.stdout, /root rotation: distributing/);
    assert.match(rr.stdout, /root rotation: retiring/);
    const after = await certs();
    assert.ok(after.length >= 3);
    assert.ok(
      after.every((r) => r.root === "active"),
      JSON.stringify(after),
    );

    const status = await c.cli(["status"]);
    assert.match(status.stdout, /trust bundle {4}2 root\(s\); every node holds the current bundle/);

    // Retire the old root now: requests keep succeeding only because every leaf is from the new root.
    const retire = await c.cli(["ca", "rotate-root", "--retire-now", "-o", "json"]);
    assert.equal(retire.code, 0, retire.stderr);
    assert.equal((JSON.parse(retire.stdout) as { roots: unknown[] }).roots.length, 1);
    await until(
      async () => /1 root\(s\); every node holds/.test((await c.cli(["status"])).stdout),
      "bundle ACKs",
    );
    const okAfter = loop.ok;
    await until(() => loop!.ok >= okAfter + 10, "requests after retirement", 60_000);
    await loop.stop();
    t.diagnostic(`requests: ${loop.ok} ok, ${loop.failures.length} failed`);
    assert.deepEqual(loop.failures, []);
  });
});
