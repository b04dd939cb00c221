import assert from "node:assert/strict";
import { test } from "node:test";
import { isAmbitError } from "../../src/errors.js";
import { createTestPki } from "../../src/identity/testing.js";
import { XdsClient } from "../../src/xds/client.js";
import { XdsServer } from "../../src/xds/server.js";
import { CONTROL_PLANE_ID } from "./fixture.js";

const pki = createTestPki();
const cred = pki.issue(CONTROL_PLANE_ID);
const base = {
  address: "127.0.0.1:0",
  tls: { certChainPem: cred.certChainPem, keyPem: cred.keyPem },
  authenticate: async () => null,
};

test("start-up fails with a stable code: bad options, bad PEM, port in use", async () => {
  await assert.rejects(XdsServer.listen({ ...base, address: "15012" }), (e) =>
    isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  await assert.rejects(XdsServer.listen({ ...base, debounceMs: -1 }), (e) =>
    isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  await assert.rejects(XdsServer.listen({ ...base, debounceMs: 500, debounceMaxMs: 100 }), (e) =>
    isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  await assert.rejects(
    XdsServer.listen({ ...base, tls: { certChainPem: cred.certChainPem, keyPem: "not a key" } }),
    (e) => isAmbitError(e, "XDS_ERR_TLS"),
  );
  await assert.rejects(XdsServer.listen({ ...base, tls: { ...base.tls, requireClientCert: true } }), (e) =>
    isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  const first = await XdsServer.listen(base);
  try {
    await assert.rejects(XdsServer.listen({ ...base, address: `127.0.0.1:${first.port}` }), (e) =>
      isAmbitError(e, "XDS_ERR_BIND"),
    );
  } finally {
    await first.close();
  }
});

test("client options are checked at construction", () => {
  const tls = { rootsPem: pki.rootsPem };
  assert.throws(
    () => new XdsClient({ address: "", tls, node: { id: "n" } }),
    (e) => isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  assert.throws(
    () => new XdsClient({ address: "a:1", tls, node: { id: "" } }),
    (e) => isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  assert.throws(
    () =>
      new XdsClient({
        address: "a:1",
        tls: { rootsPem: pki.rootsPem, keyPem: cred.keyPem },
        node: { id: "n" },
      }),
    (e) => isAmbitError(e, "XDS_ERR_CONFIG"),
  );
  assert.throws(
    () =>
      new XdsClient({
        address: "a:1",
        tls: { rootsPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
        node: { id: "n" },
      }),
    (e) => isAmbitError(e, "XDS_ERR_TLS"),
  );
});
