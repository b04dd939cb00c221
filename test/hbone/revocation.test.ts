/**
 * Revocation on live HBONE sessions (real TLS, real HTTP/2): a revoked peer is refused on new
 * sessions at once, and a session already pooled with it takes no new stream — on the client side
 * (the server's certificate revoked) and on the server side (the client's) — while a stream open
 * before the revocation finishes.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import { HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import type { SessionCloseReason } from "../../src/hbone/pool.js";
import { RevocationList } from "../../src/identity/revocation.js";
import { createTestPki } from "../../src/identity/testing.js";
import { CLIENT_ID, roundTrip, SERVER_ID, startHarness } from "./fixtures.js";

function hasCode(code: string, detail?: string) {
  return (e: unknown): boolean => {
    assert.ok(isHboneError(e), `not an HboneError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (detail !== undefined) assert.ok(e.message.includes(detail), e.message);
    return true;
  };
}

describe("HBONE revocation", () => {
  test("client side: the server's certificate revoked → the pooled session drains, new sessions are refused", async () => {
    const pki = createTestPki();
    const clientList = new RevocationList();
    const serverCred = pki.issue(SERVER_ID);
    const h = await startHarness({ pki, serverCred });
    const source = { ...pki.issue(CLIENT_ID), revoked: clientList };
    const closes: SessionCloseReason[] = [];
    h.pool.on("session-close", (e) => closes.push(e.reason));
    try {
      const open = await h.connect({ source });
      open.write("before ");
      assert.equal(h.pool.stats.sessionsOpened, 1);
      clientList.replace([serverCred.serial]);
      // The next connect finds the pooled session revoked: no stream on it; a new handshake is refused.
      await assert.rejects(h.connect({ source }), hasCode(HboneErrorCode.CERT_REVOKED, serverCred.serial));
      assert.equal(h.pool.stats.sessionsOpened, 1);
      // The stream opened before the revocation finishes on the draining session, which then closes.
      assert.equal((await roundTrip(open, Buffer.from("after"))).toString(), "before after");
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(closes, ["revoked"]);
      // Lifting the revocation (the entry expired) lets new sessions through again.
      clientList.replace([]);
      assert.equal((await roundTrip(await h.connect({ source }), Buffer.from("x"))).toString(), "x");
    } finally {
      await h.close();
    }
  });

  test("server side: the client's certificate revoked → its session takes no new stream, new sessions are refused", async () => {
    const pki = createTestPki();
    const serverList = new RevocationList();
    const h = await startHarness({ pki, serverCred: { ...pki.issue(SERVER_ID), revoked: serverList } });
    try {
      const open = await h.connect();
      open.write("before ");
      serverList.replace([String(h.clientCred.serial)]);
      const revokedRejections = (): number =>
        h.rejections.filter((e) => e.code === HboneErrorCode.CERT_REVOKED).length;
      // The pooled session's next CONNECT is refused (REFUSED_STREAM); the pool's one retry opens
      // a new session, which the server refuses right after the handshake, saying why.
      await assert.rejects(h.connect(), hasCode(HboneErrorCode.PEER_REJECTED, HboneErrorCode.CERT_REVOKED));
      assert.equal(revokedRejections(), 2);
      // A new session (TLS resumed from the pool's ticket) is refused right after the handshake.
      await assert.rejects(h.connect(), hasCode(HboneErrorCode.PEER_REJECTED, HboneErrorCode.CERT_REVOKED));
      assert.equal(revokedRejections(), 3);
      assert.equal((await roundTrip(open, Buffer.from("after"))).toString(), "before after");
      // A client with a fresh certificate is served.
      const fresh = pki.issue(CLIENT_ID);
      assert.equal((await roundTrip(await h.connect({ source: fresh }), Buffer.from("y"))).toString(), "y");
    } finally {
      await h.close();
    }
  });

  test("server side: a revoked intermediate is caught even where the client would resume its TLS session", async () => {
    const pki = createTestPki();
    const serverList = new RevocationList();
    const intermediate = pki.ca.createIntermediate();
    const client = pki.issue(CLIENT_ID, { ca: intermediate });
    const h = await startHarness({
      pki,
      serverCred: { ...pki.issue(SERVER_ID), revoked: serverList },
      pool: { idleTimeoutMs: 20 },
    });
    try {
      assert.equal((await roundTrip(await h.connect({ source: client }), Buffer.from("1"))).toString(), "1");
      // The idle session closes; the pool keeps its TLS ticket for the next one.
      const started = Date.now();
      while (h.pool.stats.sessionsActive > 0 && Date.now() - started < 10_000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(h.pool.stats.sessionsActive, 0);
      serverList.replace([new X509Certificate(intermediate.certPem()).serialNumber]);
      await assert.rejects(
        h.connect({ source: client }),
        hasCode(HboneErrorCode.PEER_REJECTED, HboneErrorCode.CERT_REVOKED),
      );
      assert.ok(
        h.rejections.some((e) => e.code === HboneErrorCode.CERT_REVOKED && e.message.includes("issuing CA")),
        "refused for its intermediate",
      );
    } finally {
      await h.close();
    }
  });

  test("a serial is matched whatever its spelling (colons, case, leading zeros)", async () => {
    const pki = createTestPki();
    const serverCred = pki.issue(SERVER_ID);
    const h = await startHarness({ pki, serverCred });
    try {
      const spelled = `00:${
        serverCred.serial
          .toLowerCase()
          .match(/.{1,2}/g)
          ?.join(":") ?? ""
      }`;
      const list = new RevocationList();
      list.replace([spelled]);
      await assert.rejects(
        h.connect({ source: { ...h.clientCred, revoked: list } }),
        hasCode(HboneErrorCode.CERT_REVOKED),
      );
    } finally {
      await h.close();
    }
  });
});
