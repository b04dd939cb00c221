/**
 * Double HBONE through an east-west gateway: outer mTLS to the gateway, inner end-to-end mTLS to
 * the destination's HBONE server, data intact, and each hop sees the right identity.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { createDoubleHbonePool } from "../../src/hbone/double.js";
import type { ConnectRequest } from "../../src/hbone/server.js";
import { HboneServer } from "../../src/hbone/server.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { CLIENT_ID, dialUpstream, roundTrip, SERVER_ID, sha256, startHarness } from "./fixtures.js";

describe("double HBONE", () => {
  test("CONNECT inside CONNECT through a gateway reaches the remote workload intact", async () => {
    // The destination side: HBONE server for SERVER_ID in front of an echo upstream.
    const h = await startHarness();
    const gatewayId = SpiffeId.of("istio-system", "eastwest-gateway");
    const gatewayCred = h.pki.issue(gatewayId);
    const seenByGateway: ConnectRequest[] = [];
    const gateway = new HboneServer({
      credentialFor: () => gatewayCred,
      authorize: (r) => {
        seenByGateway.push(r);
        return { allow: true, connect: () => dialUpstream(r.target.host, r.target.port) };
      },
    });
    const gw = await gateway.listen(0, "127.0.0.1");
    const pool = createDoubleHbonePool({
      outer: h.pool,
      gateway: {
        source: h.clientCred,
        dstAddress: { host: "127.0.0.1", port: gw.port },
        expectedIdentities: [gatewayId],
      },
    });
    try {
      const payload = randomBytes(256 * 1024);
      const stream = await pool.connect({
        source: h.clientCred,
        dstAddress: { host: "127.0.0.1", port: h.port },
        expectedIdentities: [SERVER_ID],
        authority: `127.0.0.1:${h.echoPort}`,
      });
      const echoed = await roundTrip(stream, payload);
      assert.equal(sha256(echoed), sha256(payload));
      // The gateway tunnelled to the remote HBONE endpoint, authenticated as the client…
      assert.deepEqual(seenByGateway[0]?.target, { host: "127.0.0.1", port: h.port });
      assert.equal(seenByGateway[0]?.peer.toString(), CLIENT_ID.toString());
      // …and the destination verified the client's own certificate end to end.
      assert.equal(h.requests[0]?.peer.toString(), CLIENT_ID.toString());
      assert.equal(h.requests[0]?.localIdentity.toString(), SERVER_ID.toString());
    } finally {
      await pool.close();
      await gateway.close();
      await h.close();
    }
  });
});
