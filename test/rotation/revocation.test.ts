/**
 * Certificate revocation (an ambit extension) against a real control plane over real gRPC/TLS and
 * real HBONE: `POST /v1/ca/revoke` (and the `ambit ca revoke|revoked` CLI) puts the serial in the
 * pushed trust bundle, the node holding it renews, peers refuse it, the list survives a restart
 * of the control plane and bad serials are refused naming the value.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import { normaliseSerial } from "../../src/identity/revocation.js";
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
const CLI = join(fileURLToPath(import.meta.url), "..", "..", "..", "src", "cli", "main.js");
const run = promisify(execFile);

interface Revoked {
  serial: string;
  reason: string;
  notAfter: string | null;
  identity: string | null;
}

describe("certificate revocation (real control plane, real HBONE)", () => {
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

  test("POST /v1/ca/revoke: an invalid serial is a 400 naming it; nothing is listed", async () => {
    for (const bad of ["not-hex", "12 34", "", "A".repeat(42)]) {
      const r = await h.admin<{ code: string; message: string }>("POST", "/v1/ca/revoke", { serial: bad });
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.code, "CP_ERR_BAD_REQUEST");
      if (bad !== "") assert.ok(r.body.message.includes(bad.slice(0, 20)), r.body.message);
    }
    const list = await h.admin<{ revoked: Revoked[] }>("GET", "/v1/ca/revoked");
    assert.deepEqual(list.body.revoked, []);
  });

  test("revoking the server's certificate: its node renews, clients refuse the old one, traffic recovers", async () => {
    const old = node2.certs.current(DB);
    assert.ok(old !== undefined);
    const r = await h.admin<{ revoked: Revoked; added: boolean; known: boolean; heldBy: unknown[] }>(
      "POST",
      "/v1/ca/revoke",
      { serial: old.serial.toLowerCase(), reason: "key compromise" },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.added, true);
    assert.equal(r.body.known, true);
    assert.equal(r.body.revoked.serial, normaliseSerial(old.serial));
    assert.equal(r.body.revoked.identity, DB.toString());
    assert.equal(r.body.revoked.notAfter, old.notAfter.toISOString());
    assert.deepEqual(r.body.heldBy, [{ caller: "node/node2", identity: DB.toString() }]);
    // node1 learns the list (a peer would now be refused); node2 replaces its listed certificate.
    await until(() => node1.certs.revocations.has(old.serial), "node1 holds the revocation");
    await until(() => node2.certs.current(DB)?.serial !== old.serial, "node2 renews the revoked certificate");
    const okBefore = traffic.ok;
    await until(() => traffic.ok >= okBefore + 3, "connections after the renewal");
    // A connection may have raced the renewal (the old certificate was still served): refused as revoked, nothing else.
    for (const f of traffic.failures) {
      assert.ok(isHboneError(f, HboneErrorCode.CERT_REVOKED), `unexpected failure ${String(f)}`);
    }
    const newest = traffic.peers.at(-1);
    assert.equal(newest?.serialNumber, node1.certs.current(WEB)?.serial);
    // The same serial twice: idempotent, the first entry stays.
    const again = await h.admin<{ added: boolean; revoked: Revoked }>("POST", "/v1/ca/revoke", {
      serial: old.serial,
      reason: "other",
    });
    assert.equal(again.body.added, false);
    assert.equal(again.body.revoked.reason, "key compromise");
  });

  test("an unknown serial is listed anyway (known: false) and persisted with the rotation state", async () => {
    const r = await h.admin<{ known: boolean; revoked: Revoked; heldBy: unknown[] }>(
      "POST",
      "/v1/ca/revoke",
      {
        serial: "00:de:ad:be:ef",
      },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.known, false);
    assert.equal(r.body.revoked.serial, "DEADBEEF");
    assert.equal(r.body.revoked.notAfter, null);
    assert.deepEqual(r.body.heldBy, []);
    const persisted = JSON.parse(readFileSync(join(h.home, "ca", "rotation.json"), "utf8")) as {
      revoked: Revoked[];
    };
    assert.ok(persisted.revoked.some((e) => e.serial === "DEADBEEF"));
    await until(() => node2.certs.revocations.has("deadbeef"), "the unknown serial reaches the nodes");
  });

  test("ambit ca revoke / ambit ca revoked (CLI)", async () => {
    const env = { ...process.env, AMBIT_HOME: h.home };
    const revoke = await run(process.execPath, [CLI, "ca", "revoke", "0abc", "--reason", "cli test"], {
      env,
    });
    assert.match(revoke.stdout, /revoked ABC/);
    assert.match(revoke.stdout, /warning: this control plane has not issued that serial/);
    const listed = await run(process.execPath, [CLI, "ca", "revoked", "-o", "json"], { env });
    const body = JSON.parse(listed.stdout) as { revoked: Revoked[] };
    assert.deepEqual(
      body.revoked.map((e) => e.serial),
      [normaliseSerial(node2.certs.revocations.list()[0] ?? ""), "DEADBEEF", "ABC"],
    );
    assert.equal(body.revoked[2]?.reason, "cli test");
    const table = await run(process.execPath, [CLI, "ca", "revoked"], { env });
    assert.match(table.stdout, /SERIAL\s+IDENTITY\s+REASON/);
    await assert.rejects(
      run(process.execPath, [CLI, "ca", "revoke", "xyz!"], { env }),
      (e: { stderr: string }) => {
        assert.match(e.stderr, /ID_ERR_BAD_SERIAL|"xyz!" is not a certificate serial/);
        return true;
      },
    );
  });
});
