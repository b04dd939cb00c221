import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AmbitError } from "../../src/errors.js";
import { createCsr, generateKeyPair } from "../../src/identity/keys.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { createTestPki } from "../../src/identity/testing.js";
import {
  type CaClientOptions,
  createCertificate,
  GrpcCaClient,
  IMPERSONATED_IDENTITY_KEY,
} from "../../src/xds/ca-service.js";
import { XdsErrorCode } from "../../src/xds/errors.js";
import { CONTROL_PLANE_ID, type Fixture, startFixture } from "./fixture.js";

const pki = createTestPki();
const REVIEWS = SpiffeId.of("default", "reviews");
const RATINGS = SpiffeId.of("default", "ratings");

function csrFor(id: SpiffeId): string {
  return createCsr(generateKeyPair().privateKey, id);
}

describe("IstioCertificateService over TLS", () => {
  let fx: Fixture;
  let mode: "sign" | "plain-error" | "bad-request" | "wrong-identity" = "sign";
  const seen: { caller: string; ttl: number; impersonated: unknown }[] = [];
  before(async () => {
    fx = await startFixture({
      pki,
      ca: {
        handler: async (caller, req) => {
          seen.push({
            caller: caller.id,
            ttl: req.validityDuration,
            impersonated: req.metadata[IMPERSONATED_IDENTITY_KEY],
          });
          if (mode === "plain-error") throw new Error("disk on fire at /var/secret");
          if (mode === "bad-request")
            throw new AmbitError("CP_ERR_BAD_REQUEST", "ttl too long for this mesh");
          const named = req.metadata[IMPERSONATED_IDENTITY_KEY];
          // node1 runs reviews only: signing a CSR for anything else throws ID_ERR_CSR_IDENTITY_MISMATCH.
          const allowed = caller.id === "node1" ? REVIEWS : RATINGS;
          // Without impersonation metadata the caller asks for its own identity (Istio's default).
          const wanted = typeof named === "string" ? SpiffeId.parse(named) : allowed;
          if (mode === "wrong-identity") {
            const other = pki.issue(RATINGS);
            return { certChain: [other.certChainPem, pki.rootsPem] };
          }
          const issued = pki.ca.signCsr(req.csr, {
            identity: wanted.equals(allowed) ? wanted : allowed,
            ttlSeconds: req.validityDuration,
          });
          return { certChain: [issued.certPem, ...issued.chainPem, issued.rootPem] };
        },
      },
    });
  });
  after(async () => {
    await fx.close();
  });

  const options = (token: string): CaClientOptions => ({
    address: `127.0.0.1:${fx.server.port}`,
    tls: { rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
    token,
  });

  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      return (e as AmbitError).code;
    }
    return "resolved";
  }

  test("a node gets a certificate for its workload's identity, with the chain and the roots split", async () => {
    mode = "sign";
    const ca = new GrpcCaClient(options("node1"));
    try {
      const out = await ca.requestCertificate(REVIEWS, csrFor(REVIEWS), 600);
      assert.equal(out.certChainPem.length, 1);
      const leaf = new X509Certificate(out.certChainPem[0] ?? "");
      assert.equal(leaf.subjectAltName, `URI:${REVIEWS}`);
      assert.deepEqual(
        out.rootsPem?.map((r) => new X509Certificate(r).fingerprint256),
        [new X509Certificate(pki.rootsPem).fingerprint256],
      );
      assert.deepEqual(seen.at(-1), { caller: "node1", ttl: 600, impersonated: REVIEWS.toString() });
    } finally {
      ca.close();
    }
  });

  test("the one-shot createCertificate returns the PEM chain, leaf first", async () => {
    mode = "sign";
    const chain = await createCertificate(options("node1"), csrFor(REVIEWS), 300);
    assert.equal(chain.length, 2);
    assert.equal(new X509Certificate(chain[0] ?? "").subjectAltName, `URI:${REVIEWS}`);
  });

  test("handler errors map to gRPC statuses and back to stable codes", async () => {
    const ca = new GrpcCaClient(options("node1"));
    try {
      mode = "sign";
      // node1 asking for ratings: signCsr refuses the CSR's identity → PERMISSION_DENIED.
      assert.equal(await codeOf(ca.requestCertificate(RATINGS, csrFor(RATINGS), 600)), XdsErrorCode.CaDenied);
      mode = "bad-request";
      assert.equal(
        await codeOf(ca.requestCertificate(REVIEWS, csrFor(REVIEWS), 600)),
        XdsErrorCode.CaInvalidRequest,
      );
      mode = "plain-error";
      let message = "";
      try {
        await ca.requestCertificate(REVIEWS, csrFor(REVIEWS), 600);
      } catch (e) {
        assert.equal((e as AmbitError).code, XdsErrorCode.CaFailed);
        message = (e as Error).message;
      }
      assert.match(message, /INTERNAL/);
      assert.doesNotMatch(message, /secret/, "internal details must not reach the caller");
      mode = "wrong-identity";
      assert.equal(
        await codeOf(ca.requestCertificate(REVIEWS, csrFor(REVIEWS), 600)),
        XdsErrorCode.CaBadResponse,
      );
    } finally {
      ca.close();
    }
  });

  test("requests are checked before the handler runs: bad token, empty CSR, absurd TTL", async () => {
    mode = "sign";
    const before = seen.length;
    assert.equal(
      await codeOf(createCertificate(options("stranger"), csrFor(REVIEWS), 600)),
      XdsErrorCode.CaUnauthenticated,
    );
    assert.equal(await codeOf(createCertificate(options("node1"), "", 600)), XdsErrorCode.CaInvalidRequest);
    assert.equal(
      await codeOf(createCertificate(options("node1"), csrFor(REVIEWS), 10 * 365 * 24 * 3600)),
      XdsErrorCode.CaInvalidRequest,
    );
    assert.equal(seen.length, before);
  });

  test("a closed client refuses to call", async () => {
    const ca = new GrpcCaClient(options("node1"));
    ca.close();
    assert.equal(await codeOf(ca.createCertificate(csrFor(REVIEWS), 60)), XdsErrorCode.Closed);
  });
});
