/**
 * The hostile-xDS corpus (corpus/xds.ts): a hostile control plane (a real gRPC delta-ADS server,
 * test/security/hostile-ads.ts) feeds the real `XdsClient` — subscribed like a ztunnel and a
 * waypoint, with their validators — one response per case. Per case: the exact NACK detail, or
 * the ACK and the applied names; the last good config kept; a ztunnel state fed every accepted
 * change never throws; the client still applies a good update afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestPki } from "../../src/identity/testing.js";
import { WAYPOINT_L7_TYPE } from "../../src/waypoint/l7-config.js";
import { XdsClient } from "../../src/xds/client.js";
import type { DeltaDiscoveryRequest } from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { ADDRESS_TYPE, AUTHORIZATION_TYPE } from "../../src/xds/resource-types.js";
import { TRUST_BUNDLE_TYPE, TRUST_BUNDLE_TYPE_URL } from "../../src/xds/trust-bundle.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, L7_RESOURCE_TYPE_URL } from "../../src/xds/type-urls.js";
import { ZtunnelState } from "../../src/ztunnel/state.js";
import { applyChange } from "../../src/ztunnel/xds-sync.js";
import {
  bundle,
  httpRoute,
  l7,
  policyBytes,
  resource,
  workloadBytes,
  XDS_CASES,
  type XdsCase,
  type XdsContext,
} from "./corpus/xds.js";
import { CONTROL_PLANE_ID, HostileAds } from "./hostile-ads.js";
import { assertNoLeak, baseline } from "./leaks.js";

const pki = createTestPki();
let ads: HostileAds;
let client: XdsClient;
const state = new ZtunnelState({ node: "node-a" });
const applyErrors: string[] = [];
const ctx: XdsContext = {
  rootPem: pki.rootsPem,
  leafPem: pki.issue("spiffe://cluster.local/ns/default/sa/leaf").certChainPem,
};

/** The last good config of each type: one resource, re-sent (new version) to prove the client still works. */
const GOOD: Record<string, { name: string; send: (v: number) => ReturnType<typeof resource> }> = {
  [ADDRESS_TYPE_URL]: {
    name: "good",
    send: (v) => resource("good", ADDRESS_TYPE_URL, workloadBytes("good", { canonicalRevision: `v${v}` })),
  },
  [AUTHORIZATION_TYPE_URL]: {
    name: "default/good",
    send: (v) =>
      resource(
        "default/good",
        AUTHORIZATION_TYPE_URL,
        policyBytes("good", { rules: Array.from({ length: v % 3 }, () => ({ clauses: [] })) }),
      ),
  },
  [TRUST_BUNDLE_TYPE_URL]: {
    name: "mesh",
    send: (v) => bundle({ rootsPem: [pki.rootsPem], rotations: [{ namespace: "", generation: BigInt(v) }] }),
  },
  [L7_RESOURCE_TYPE_URL]: { name: "HTTPRoute/default/good", send: () => l7("good", httpRoute("good")) },
};

function ack(req: DeltaDiscoveryRequest, what: string): void {
  assert.equal(req.errorDetail, undefined, `${what}: NACKed: ${req.errorDetail?.message ?? ""}`);
}

let version = 0;
async function sendGood(typeUrl: string): Promise<void> {
  const g = GOOD[typeUrl];
  assert.ok(g !== undefined);
  ack(await ads.send(typeUrl, [g.send(++version)]), `good ${typeUrl}`);
}

before(async () => {
  ads = await HostileAds.start(pki);
  client = new XdsClient({
    address: `127.0.0.1:${ads.port}`,
    tls: { rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
    token: "node-a",
    node: { id: "ztunnel~node-a" },
    subscriptions: [
      { type: ADDRESS_TYPE },
      { type: AUTHORIZATION_TYPE },
      { type: TRUST_BUNDLE_TYPE },
      { type: WAYPOINT_L7_TYPE },
    ],
    backoff: { initialMs: 20, maxMs: 200 },
  });
  client.on("change", (change) => {
    try {
      applyChange(state, change);
    } catch (e) {
      applyErrors.push(String(e));
    }
  });
  client.start();
  await ads.ready([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, TRUST_BUNDLE_TYPE_URL, L7_RESOURCE_TYPE_URL]);
  for (const t of Object.keys(GOOD)) await sendGood(t);
});

after(() => {
  client.close();
  ads.close();
});

async function runXdsCase(c: XdsCase): Promise<void> {
  const before = [...client.resources(c.typeUrl).keys()].sort();
  const req = await ads.send(c.typeUrl, c.resources(ctx), c.removed ?? []);
  if ("nack" in c.expect) {
    const message = req.errorDetail?.message;
    assert.ok(message !== undefined, `${c.name}: ACKed, expected a NACK`);
    if (typeof c.expect.nack === "string") assert.equal(message, c.expect.nack);
    else assert.match(message, c.expect.nack);
    // Nothing of a NACKed response is applied: the last good config is what the client holds.
    if (GOOD[c.typeUrl] !== undefined)
      assert.deepEqual([...client.resources(c.typeUrl).keys()].sort(), before);
  } else {
    ack(req, c.name);
    const held = client.resources(c.typeUrl);
    for (const name of c.expect.applied) assert.ok(held.has(name), `${name} applied`);
    // Back to the baseline for the next case.
    const added = [...held.keys()].filter((n) => !before.includes(n));
    if (added.length > 0) ack(await ads.send(c.typeUrl, [], added), "cleanup");
  }
  assert.deepEqual(applyErrors, [], "every accepted change applies to the ztunnel state");
  if (GOOD[c.typeUrl] !== undefined) await sendGood(c.typeUrl);
}

describe("hostile xDS responses", () => {
  let base: ReturnType<typeof baseline>;
  before(() => {
    base = baseline();
  });
  for (const c of XDS_CASES) test(c.name, () => runXdsCase(c));
  test("hostile xDS: the client still holds every last good resource; nothing leaked", async () => {
    for (const [typeUrl, g] of Object.entries(GOOD))
      assert.ok(client.get(typeUrl, g.name) !== undefined, g.name);
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 1);
    assert.ok(state.workloadByUid("good") !== undefined, "the ztunnel state holds the good workload");
    assert.equal(state.workloadByUid("bulk-0"), undefined, "and not the removed bulk");
    await assertNoLeak(base, "hostile xDS");
  });
});
