/**
 * Identity on both ends of HBONE: the server picks the certificate by original destination (no
 * SNI), and every way to lie about an identity is refused with its own error code.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { describe, test } from "node:test";
import tls from "node:tls";
import { type HboneError, HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import { HbonePool } from "../../src/hbone/pool.js";
import { HboneServer } from "../../src/hbone/server.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { createTestPki } from "../../src/identity/testing.js";
import { CLIENT_ID, dialUpstream, roundTrip, SERVER_ID, startEcho, startHarness } from "./fixtures.js";

const HOUR = 3_600_000;

function hasCode(code: string) {
  return (e: unknown): boolean => {
    assert.ok(isHboneError(e), `not an HboneError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

describe("HBONE identity", () => {
  test("two local workloads on one server: each destination address gets its own certificate", async () => {
    const pki = createTestPki();
    const ledger = pki.issue(SpiffeId.of("bank", "ledger"));
    const audit = pki.issue(SpiffeId.of("bank", "audit"));
    const client = pki.issue(CLIENT_ID);
    const echo = await startEcho();
    const seen: string[] = [];
    const server = new HboneServer({
      credentialFor: (addr) => (addr === "127.0.0.1" ? ledger : addr === "127.0.0.2" ? audit : undefined),
      authorize: (r) => {
        seen.push(`${r.localAddress.address}=${r.localIdentity.toString()}`);
        return { allow: true, connect: () => dialUpstream("127.0.0.1", echo.port) };
      },
    });
    const a = await server.listen(0, "127.0.0.1");
    const b = await server.listen(0, "127.0.0.2");
    const pool = new HbonePool();
    try {
      const params = (host: string, port: number, expected: SpiffeId) => ({
        source: client,
        dstAddress: { host, port },
        expectedIdentities: [expected],
        authority: `127.0.0.1:${echo.port}`,
      });
      await roundTrip(await pool.connect(params("127.0.0.1", a.port, ledger.identity)), Buffer.from("l"));
      await roundTrip(await pool.connect(params("127.0.0.2", b.port, audit.identity)), Buffer.from("a"));
      assert.deepEqual(seen, [
        `127.0.0.1=${ledger.identity.toString()}`,
        `127.0.0.2=${audit.identity.toString()}`,
      ]);
      // Expecting ledger at audit's address fails: the client sees audit's SAN.
      await assert.rejects(
        pool.connect(params("127.0.0.2", b.port, ledger.identity)),
        hasCode(HboneErrorCode.IDENTITY_MISMATCH),
      );
    } finally {
      await pool.close();
      await server.close();
      echo.server.close();
    }
  });

  test("a destination address with no local workload is dropped (never an open relay)", async () => {
    const pki = createTestPki();
    const rejections: HboneError[] = [];
    const server = new HboneServer({
      credentialFor: () => undefined,
      authorize: () => ({ allow: false, status: 403, reason: "unreachable" }),
      onRejected: (e) => rejections.push(e),
    });
    const { port } = await server.listen(0, "127.0.0.1");
    const pool = new HbonePool();
    try {
      await assert.rejects(
        pool.connect({
          source: pki.issue(CLIENT_ID),
          dstAddress: { host: "127.0.0.1", port },
          expectedIdentities: [SERVER_ID],
          authority: "127.0.0.1:1",
        }),
        hasCode(HboneErrorCode.HANDSHAKE),
      );
      assert.equal(rejections[0]?.code, HboneErrorCode.NO_LOCAL_WORKLOAD);
    } finally {
      await pool.close();
      await server.close();
    }
  });

  describe("the client refuses a lying server", () => {
    test("certificate from another CA → HBONE_ERR_UNTRUSTED_PEER", async () => {
      const other = createTestPki();
      const h = await startHarness({ serverCred: other.issue(SERVER_ID) });
      try {
        await assert.rejects(h.connect(), hasCode(HboneErrorCode.UNTRUSTED_PEER));
        assert.equal(h.pool.stats.handshakeErrors, 1);
      } finally {
        await h.close();
      }
    });

    test("valid certificate for another identity → HBONE_ERR_IDENTITY_MISMATCH naming both", async () => {
      const pki = createTestPki();
      const h = await startHarness({ pki, serverCred: pki.issue(SpiffeId.of("shop", "impostor")) });
      try {
        await assert.rejects(h.connect(), (e: unknown) => {
          hasCode(HboneErrorCode.IDENTITY_MISMATCH)(e);
          assert.match((e as Error).message, /impostor/);
          assert.match((e as Error).message, /payments/);
          return true;
        });
      } finally {
        await h.close();
      }
    });

    test("expired certificate → HBONE_ERR_CERT_EXPIRED", async () => {
      const pki = createTestPki();
      const cred = pki.issue(SERVER_ID, {
        notBefore: new Date(Date.now() - 2 * HOUR),
        notAfter: new Date(Date.now() - HOUR),
      });
      const h = await startHarness({ pki, serverCred: cred });
      try {
        await assert.rejects(h.connect(), hasCode(HboneErrorCode.CERT_EXPIRED));
      } finally {
        await h.close();
      }
    });

    test("not-yet-valid certificate → HBONE_ERR_CERT_NOT_YET_VALID", async () => {
      const pki = createTestPki();
      const cred = pki.issue(SERVER_ID, {
        notBefore: new Date(Date.now() + HOUR),
        notAfter: new Date(Date.now() + 2 * HOUR),
      });
      const h = await startHarness({ pki, serverCred: cred });
      try {
        await assert.rejects(h.connect(), hasCode(HboneErrorCode.CERT_NOT_YET_VALID));
      } finally {
        await h.close();
      }
    });
  });

  describe("the server refuses a lying client (GOAWAY INADEQUATE_SECURITY, the client sees why)", () => {
    test("client certificate signed by a CA outside the bundle → UNTRUSTED_PEER", async () => {
      const h = await startHarness();
      const rogue = createTestPki().issue(CLIENT_ID);
      // The rogue client trusts the real server, so the failure is the server's verdict.
      const pool = new HbonePool({ rootsPem: h.pki.rootsPem });
      try {
        await assert.rejects(
          pool.connect({
            source: rogue,
            dstAddress: { host: "127.0.0.1", port: h.port },
            expectedIdentities: [SERVER_ID],
            authority: `127.0.0.1:${h.echoPort}`,
          }),
          (e: unknown) => {
            hasCode(HboneErrorCode.PEER_REJECTED)(e);
            assert.match((e as Error).message, /HBONE_ERR_UNTRUSTED_PEER/);
            return true;
          },
        );
        assert.equal(h.rejections[0]?.code, HboneErrorCode.UNTRUSTED_PEER);
        assert.equal(h.requests.length, 0, "authorize must never run for an unverified peer");
      } finally {
        await pool.close();
        await h.close();
      }
    });

    test("expired client certificate → CERT_EXPIRED on the server", async () => {
      const h = await startHarness();
      const expired = h.pki.issue(CLIENT_ID, {
        notBefore: new Date(Date.now() - 2 * HOUR),
        notAfter: new Date(Date.now() - HOUR),
      });
      try {
        await assert.rejects(h.connect({ source: expired }), hasCode(HboneErrorCode.PEER_REJECTED));
        assert.equal(h.rejections[0]?.code, HboneErrorCode.CERT_EXPIRED);
      } finally {
        await h.close();
      }
    });

    test("client from a trust domain the server does not accept → TRUST_DOMAIN", async () => {
      const h = await startHarness();
      const foreign = createTestPki({ trustDomain: "evil.local" });
      const both = h.pki.rootsPem + foreign.rootsPem;
      h.server.setTrustBundle(both);
      const client = foreign.issue(SpiffeId.of("shop", "frontend", "evil.local"));
      const pool = new HbonePool({ rootsPem: both });
      try {
        await assert.rejects(
          pool.connect({
            source: client,
            dstAddress: { host: "127.0.0.1", port: h.port },
            expectedIdentities: [SERVER_ID],
            authority: `127.0.0.1:${h.echoPort}`,
          }),
          hasCode(HboneErrorCode.PEER_REJECTED),
        );
        assert.equal(h.rejections[0]?.code, HboneErrorCode.TRUST_DOMAIN);
      } finally {
        await pool.close();
        await h.close();
      }
    });

    test("a refreshed trust bundle plus trustDomains admits a federated client", async () => {
      const foreign = createTestPki({ trustDomain: "partner.local" });
      const h = await startHarness({ server: { trustDomains: ["cluster.local", "partner.local"] } });
      const both = h.pki.rootsPem + foreign.rootsPem;
      h.server.setTrustBundle(both);
      const pool = new HbonePool({ rootsPem: both });
      try {
        const s = await pool.connect({
          source: foreign.issue(SpiffeId.of("shop", "frontend", "partner.local")),
          dstAddress: { host: "127.0.0.1", port: h.port },
          expectedIdentities: [SERVER_ID],
          authority: `127.0.0.1:${h.echoPort}`,
        });
        assert.equal((await roundTrip(s, Buffer.from("fed"))).toString(), "fed");
        assert.equal(h.requests[0]?.peer.trustDomain, "partner.local");
      } finally {
        await pool.close();
        await h.close();
      }
    });

    test("no client certificate → NO_PEER_CERT; the client is told by GOAWAY", async () => {
      const h = await startHarness();
      const socket = tls.connect({
        host: "127.0.0.1",
        port: h.port,
        ca: h.pki.rootsPem,
        ALPNProtocols: ["h2"],
        checkServerIdentity: () => undefined,
      });
      const session = http2.connect(`https://127.0.0.1:${h.port}`, { createConnection: () => socket });
      session.on("error", () => {});
      try {
        const [code, , debug] = (await once(session, "goaway")) as [number, number, Buffer];
        assert.equal(code, http2.constants.NGHTTP2_INADEQUATE_SECURITY);
        assert.match(debug.toString(), /^HBONE_ERR_NO_PEER_CERT/);
        assert.equal(h.rejections[0]?.code, HboneErrorCode.NO_PEER_CERT);
      } finally {
        session.destroy();
        await h.close();
      }
    });
  });
});
