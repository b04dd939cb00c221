/**
 * Rotation against a real control plane over real gRPC/TLS and real HBONE (loopback, no netns):
 * forced renewal (`POST /v1/certs/rotate`), root rotation (`POST /v1/ca/rotate-root`) with every
 * phase, zero failed connections throughout, and new connections on the new root at the end.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SpiffeId } from "../../src/identity/spiffe.js";
import {
  type ControlHarness,
  startShopNodes,
  startTraffic,
  stopShopNodes,
  type TestNode,
  type TrafficLoop,
  until,
} from "./harness.js";

const WEB = SpiffeId.of("shop", "web");
const DB = SpiffeId.of("shop", "db");

interface CertRow {
  caller: string;
  identity: string;
  serial: string;
  issuedAt: string | null;
  root: string;
  timeLeftSeconds: number;
}
interface CaView {
  phase: { state: string };
  roots: Array<{ fingerprint: string; role: string }>;
  trustBundle: { behind: string[]; nodes: Array<{ caller: string; upToDate: boolean }> };
}

describe("certificate and root rotation (real control plane, real HBONE)", () => {
  let h: ControlHarness;
  let node1: TestNode;
  let node2: TestNode;
  let traffic: TrafficLoop;

  before(async () => {
    ({ h, node1, node2 } = await startShopNodes());
    traffic = await startTraffic(node1, WEB, node2, DB);
    await until(() => traffic.ok >= 3, "first connections");
  });

  after(async () => {
    await stopShopNodes({ h, node1, node2 }, traffic);
  });

  const certs = async (): Promise<CertRow[]> =>
    (await h.admin<{ certificates: CertRow[] }>("GET", "/v1/certs")).body.certificates;

  test("GET /v1/certs lists every identity with node, serial and time left", async () => {
    const rows = await certs();
    const ids = rows.map((r) => `${r.caller} ${r.identity}`).sort();
    assert.deepEqual(ids, [
      "node/node1 spiffe://cluster.local/ns/shop/sa/web",
      "node/node2 spiffe://cluster.local/ns/shop/sa/db",
    ]);
    for (const r of rows) {
      assert.equal(
        r.serial,
        (r.caller === "node/node1" ? node1 : node2).certs.current(r.identity === WEB.toString() ? WEB : DB)
          ?.serial,
      );
      assert.ok(r.timeLeftSeconds > 3000 && r.timeLeftSeconds <= 3600, `time left ${r.timeLeftSeconds}`);
      assert.equal(r.root, "active");
    }
  });

  test("POST /v1/certs/rotate: bad bodies are refused with 400", async () => {
    assert.equal((await h.admin("POST", "/v1/certs/rotate", {})).status, 400);
    assert.equal((await h.admin("POST", "/v1/certs/rotate", { all: true, namespace: "shop" })).status, 400);
  });

  test("cert rotate --namespace shop: both nodes renew (new serials), no connection fails", async () => {
    const before = await certs();
    const r = await h.admin<{ targets: CertRow[]; requestedAt: string }>("POST", "/v1/certs/rotate", {
      namespace: "shop",
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.targets.length, 2);
    await until(async () => {
      const now = await certs();
      return before.every((b) => now.some((n) => n.identity === b.identity && n.serial !== b.serial));
    }, "new serials for both identities");
    const okBefore = traffic.ok;
    await until(() => traffic.ok >= okBefore + 3, "connections after the renewal");
    assert.deepEqual(traffic.failures, []);
    // New connections present the new leaf.
    const newest = traffic.peers.at(-1);
    assert.equal(newest?.serialNumber, node1.certs.current(WEB)?.serial);
  });

  test("cert rotate for another namespace renews nothing here", async () => {
    const serial = node1.certs.current(WEB)?.serial;
    const r = await h.admin<{ targets: unknown[] }>("POST", "/v1/certs/rotate", { namespace: "other" });
    assert.deepEqual(r.body.targets, []);
    // The pushed bundle is ACKed by both nodes before we look again.
    await until(
      async () => (await h.admin<CaView>("GET", "/v1/ca")).body.trustBundle.behind.length === 0,
      "ACKs",
    );
    assert.equal(node1.certs.current(WEB)?.serial, serial);
  });

  test("ca rotate-root: distribute, switch after every ACK, re-issue, retire; zero failed connections", async () => {
    const oldRoot = h.cp.rotation.signer.rootPem();
    const started = await h.admin<CaView>("POST", "/v1/ca/rotate-root", {});
    assert.equal(started.status, 200);
    assert.equal(started.body.phase.state, "distributing");
    assert.equal(started.body.roots.length, 2);
    // A second start while one is running is a conflict.
    assert.equal((await h.admin("POST", "/v1/ca/rotate-root", {})).status, 409);

    await until(
      async () => (await h.admin<CaView>("GET", "/v1/ca")).body.phase.state === "retiring",
      "retiring",
    );
    const newRoot = h.cp.rotation.signer.rootPem();
    assert.notEqual(newRoot, oldRoot);
    // Both nodes hold both roots, and leaves of the new root.
    for (const [n, id] of [
      [node1, WEB],
      [node2, DB],
    ] as const) {
      const cred = n.certs.current(id);
      assert.ok(cred, `${n.name} holds ${id}`);
      assert.ok(cred.rootsPem.includes(newRoot.trim()) && cred.rootsPem.includes(oldRoot.trim()));
      assert.ok(new X509Certificate(cred.certChainPem).verify(new X509Certificate(newRoot).publicKey));
    }
    const rows = await certs();
    assert.ok(
      rows.every((r) => r.root === "active"),
      JSON.stringify(rows),
    );

    const okBefore = traffic.ok;
    await until(() => traffic.ok >= okBefore + 3, "connections on the new root");
    const peer = traffic.peers.at(-1);
    assert.ok(
      peer?.verify(new X509Certificate(newRoot).publicKey),
      "new connections present new-root leaves",
    );

    // Retire early (documented as unsafe; safe here because every leaf is re-issued already).
    const retired = await h.admin<CaView>("POST", "/v1/ca/rotate-root", { retireNow: true });
    assert.equal(retired.body.phase.state, "idle");
    assert.equal(retired.body.roots.length, 1);
    await until(
      () => node1.certs.trustBundle() === newRoot && node2.certs.trustBundle() === newRoot,
      "old root gone",
    );
    const okAfter = traffic.ok;
    await until(() => traffic.ok >= okAfter + 3, "connections after retirement");
    assert.deepEqual(traffic.failures, []);

    const status = (await h.admin<{ trustBundle: { behind: string[]; roots: number } }>("GET", "/v1/status"))
      .body;
    assert.deepEqual(status.trustBundle.behind, []);
    assert.equal(status.trustBundle.roots, 1);
  });
});

describe("ambit status names nodes on an old trust bundle", () => {
  let h: ControlHarness;
  let node1: TestNode;
  let node2: TestNode;
  before(async () => {
    ({ h, node1, node2 } = await startShopNodes());
  });
  after(async () => {
    await stopShopNodes({ h, node1, node2 });
  });

  test("a disconnected node is behind once the bundle changes; a rotation waits for it", async () => {
    type Status = { trustBundle: { behind: string[] } };
    await until(
      async () => (await h.admin<Status>("GET", "/v1/status")).body.trustBundle.behind.length === 0,
      "ACKs",
    );
    node2.xds.close();
    const started = await h.admin<CaView>("POST", "/v1/ca/rotate-root", {});
    assert.equal(started.body.phase.state, "distributing");
    await until(async () => {
      const behind = (await h.admin<Status>("GET", "/v1/status")).body.trustBundle.behind;
      return behind.length === 1 && behind[0] === "node/node2";
    }, "node2 reported behind");
    // node1 ACKed, node2 cannot: signing does not switch.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await h.admin<CaView>("GET", "/v1/ca")).body.phase.state, "distributing");
  });
});

describe("renewal at half-life with a real short TTL (test-only floor)", () => {
  let h: ControlHarness;
  let node1: TestNode;
  let node2: TestNode;
  let traffic: TrafficLoop;

  before(async () => {
    ({ h, node1, node2 } = await startShopNodes({ certTtl: "20s", ttlSeconds: 20 }));
    traffic = await startTraffic(node1, WEB, node2, DB);
  });

  after(async () => {
    await stopShopNodes({ h, node1, node2 }, traffic);
  });

  test("a 20 s certificate is renewed by itself before it expires; connections keep working", async () => {
    await until(() => traffic.ok >= 2, "first connections");
    const first = node1.certs.current(WEB);
    assert.ok(first);
    const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
    assert.ok(lifetime <= 25_000, `short lifetime, got ${lifetime} ms`);
    const rotated = new Promise<string>((resolve) =>
      node1.certs.once("rotated", (_id, cred) => resolve(cred.serial)),
    );
    const serial = await rotated;
    assert.notEqual(serial, first.serial);
    // Renewed at half-life: the old certificate was still valid when the new one arrived.
    assert.ok(Date.now() < first.notAfter.getTime(), "renewed before expiry");
    const okBefore = traffic.ok;
    await until(() => traffic.ok >= okBefore + 2, "connections after renewal");
    assert.deepEqual(traffic.failures, []);
    assert.equal(traffic.peers.at(-1)?.serialNumber, node1.certs.current(WEB)?.serial);
  });
});
