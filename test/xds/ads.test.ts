import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Client, Metadata, status } from "@grpc/grpc-js";
import { createTestPki } from "../../src/identity/testing.js";
import { XdsClient } from "../../src/xds/client.js";
import { channelCredentials } from "../../src/xds/credentials.js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import type { Address } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { AddressSchema } from "../../src/xds/gen/istio/workload/workload_pb.js";
import {
  DELTA_ADS_PATH,
  deserializeDeltaResponse,
  serializeDeltaRequest,
} from "../../src/xds/grpc-definitions.js";
import { defineResourceType } from "../../src/xds/resource-types.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/type-urls.js";
import { validateAddress } from "../../src/xds/validate.js";
import {
  CONTROL_PLANE_ID,
  type Fixture,
  policy,
  startFixture,
  type TestCaller,
  until,
  workload,
} from "./fixture.js";

const pki = createTestPki();

function pushesTo(server: XdsServer<TestCaller>, node: string, typeUrl: string) {
  const seen: { upserts: number; removals: number }[] = [];
  server.on("push", (e) => {
    if (e.node === node && e.typeUrl === typeUrl) seen.push({ upserts: e.upserts, removals: e.removals });
  });
  return seen;
}

function workloadIp(a: Address | undefined): number[] {
  assert.equal(a?.type.case, "workload");
  return [...(a.type.case === "workload" ? (a.type.value.addresses[0] ?? []) : [])];
}

describe("delta ADS over TLS", () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture({ pki });
  });
  after(async () => {
    await fx.close();
  });

  test("a wildcard subscriber receives every resource of every subscribed type", async () => {
    fx.server.setResources(
      ADDRESS_TYPE_URL,
      new Map([
        ["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }],
        ["default/b", { resource: workload("default/b", [10, 0, 0, 2]) }],
      ]),
    );
    fx.server.setResources(
      AUTHORIZATION_TYPE_URL,
      new Map([["default/allow", { resource: policy("default", "allow") }]]),
    );
    const c = fx.client("node1");
    await c.synced();
    assert.deepEqual([...c.resources(ADDRESS_TYPE_URL).keys()].sort(), ["default/a", "default/b"]);
    assert.deepEqual([...c.resources(AUTHORIZATION_TYPE_URL).keys()], ["default/allow"]);
    c.close();
  });

  test("an update sends only the changed resource, a removal only its name", async () => {
    fx.server.setResources(
      ADDRESS_TYPE_URL,
      new Map([
        ["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }],
        ["default/b", { resource: workload("default/b", [10, 0, 0, 2]) }],
        ["default/c", { resource: workload("default/c", [10, 0, 0, 3]) }],
      ]),
    );
    const c = fx.client("node2");
    await c.synced();
    const pushes = pushesTo(fx.server, "node2-ztunnel", ADDRESS_TYPE_URL);
    const changes: { upserted: string[]; removed: readonly string[] }[] = [];
    c.on("change", (ch) => {
      if (ch.typeUrl === ADDRESS_TYPE_URL)
        changes.push({ upserted: [...ch.upserted.keys()], removed: ch.removed });
    });

    fx.server.applyDelta(ADDRESS_TYPE_URL, {
      upserts: [["default/b", { resource: workload("default/b", [10, 0, 0, 22]) }]],
    });
    await until(() => changes.length === 1, "the update");
    assert.deepEqual(changes[0], { upserted: ["default/b"], removed: [] });
    assert.deepEqual(pushes, [{ upserts: 1, removals: 0 }]);
    assert.deepEqual(workloadIp(c.get(ADDRESS_TYPE_URL, "default/b")?.resource as Address), [10, 0, 0, 22]);

    fx.server.applyDelta(ADDRESS_TYPE_URL, { removals: ["default/c"] });
    await until(() => changes.length === 2, "the removal");
    assert.deepEqual(changes[1], { upserted: [], removed: ["default/c"] });
    assert.equal(c.get(ADDRESS_TYPE_URL, "default/c"), undefined);
    assert.deepEqual(pushes[1], { upserts: 0, removals: 1 });

    // Republishing identical content (same content-hash version) pushes nothing.
    const before = pushes.length;
    assert.equal(
      fx.server.applyDelta(ADDRESS_TYPE_URL, {
        upserts: [["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }]],
      }),
      0,
    );
    assert.equal(pushes.length, before);
    c.close();
  });

  test("the server status shows each client's node, caller and acked version", async () => {
    const c = fx.client("node3");
    await c.synced();
    const revision = String(fx.server.store.revision(ADDRESS_TYPE_URL));
    await until(() => {
      const st = fx.server.status().find((s) => s.node?.id === "node3-ztunnel");
      return st?.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL)?.lastAcked?.version === revision;
    }, "the ACK of the first response");
    const st = fx.server.status().find((s) => s.node?.id === "node3-ztunnel");
    assert.deepEqual(st?.caller, { kind: "ztunnel", id: "node3" });
    const addr = st?.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL);
    assert.equal(addr?.subscription, "wildcard");
    assert.equal(addr?.lastSent?.version, revision);
    assert.equal(addr?.nack, undefined);
    c.close();
    await until(
      () => !fx.server.status().some((s) => s.node?.id === "node3-ztunnel"),
      "the disconnect to clean up",
    );
  });
});

describe("debounce", () => {
  test("ten changes in a burst reach a client as one response", async () => {
    const fx = await startFixture({ pki, debounceMs: 200 });
    try {
      const c = fx.client("node1");
      await c.synced();
      const pushes = pushesTo(fx.server, "node1-ztunnel", ADDRESS_TYPE_URL);
      let responses = 0;
      c.on("change", (ch) => {
        if (ch.typeUrl === ADDRESS_TYPE_URL) responses += 1;
      });
      for (let i = 0; i < 10; i++) {
        fx.server.applyDelta(ADDRESS_TYPE_URL, {
          upserts: [[`default/w${i}`, { resource: workload(`default/w${i}`, [10, 1, 0, i]) }]],
        });
      }
      await until(() => c.resources(ADDRESS_TYPE_URL).size === 10, "all ten workloads");
      assert.equal(responses, 1);
      assert.deepEqual(pushes, [{ upserts: 10, removals: 0 }]);
    } finally {
      await fx.close();
    }
  });
});

describe("ACK / NACK", () => {
  test("a malformed workload is NACKed with its path; nothing of that response is applied; the good rest is resent", async () => {
    const fx = await startFixture({ pki });
    try {
      fx.server.setResources(
        ADDRESS_TYPE_URL,
        new Map([["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }]]),
      );
      const c = fx.client("node1");
      await c.synced();
      const nacks: string[] = [];
      c.on("nack", (n) => nacks.push(n.message));
      const applied: string[][] = [];
      c.on("change", (ch) => applied.push([...ch.upserted.keys()]));
      const serverNack = new Promise<string>((resolve) => fx.server.once("nack", (n) => resolve(n.message)));

      fx.server.applyDelta(ADDRESS_TYPE_URL, {
        upserts: [
          ["default/a", { resource: workload("default/a", [10, 0, 0, 9]) }],
          ["default/bad", { resource: workload("default/bad", [10, 0, 0]) }],
        ],
      });
      const message = await serverNack;
      assert.equal(message, "workload[uid=default/bad].addresses[0]: 3 bytes, expected 4 or 16");
      assert.deepEqual(nacks, [message]);
      // The client named the rejected resource, so the server resends the rest on its own.
      await until(() => applied.length === 1, "the resend of the accepted resources");
      assert.deepEqual(
        applied,
        [["default/a"]],
        "the rejected response itself was not applied (all or nothing)",
      );
      assert.deepEqual(workloadIp(c.get(ADDRESS_TYPE_URL, "default/a")?.resource as Address), [10, 0, 0, 9]);
      assert.equal(c.get(ADDRESS_TYPE_URL, "default/bad"), undefined);
      const addrStatus = () => fx.server.status()[0]?.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL);
      await until(
        () => addrStatus()?.lastAcked?.nonce === addrStatus()?.lastSent?.nonce,
        "the ACK of the resend",
      );
      // The bad version is not pushed again, and the NACK stays on record while it is outstanding.
      assert.equal(addrStatus()?.nack?.message, message);
      assert.deepEqual(addrStatus()?.nack?.names, ["default/bad"]);

      // The fix is a newer version: pushed, applied, ACKed, and the NACK clears.
      fx.server.applyDelta(ADDRESS_TYPE_URL, {
        upserts: [["default/bad", { resource: workload("default/bad", [10, 0, 0, 7]) }]],
      });
      await until(() => c.get(ADDRESS_TYPE_URL, "default/bad") !== undefined, "the corrected workload");
      await until(() => addrStatus()?.nack === undefined, "the NACK to clear after the fix is ACKed");
      assert.equal(applied.length, 2);
    } finally {
      await fx.close();
    }
  });

  test("a caller-supplied validator can reject resources too", async () => {
    const fx = await startFixture({ pki });
    try {
      const strict = defineResourceType(AddressSchema, (a, name) =>
        a.type.case === "workload" && a.type.value.node === ""
          ? `workload[uid=${name}].node: empty`
          : validateAddress(a, name),
      );
      fx.server.setResources(
        ADDRESS_TYPE_URL,
        new Map([["default/x", { resource: workload("default/x", [10, 0, 0, 1], { node: "" }) }]]),
      );
      const c = fx.client("node1", { subscriptions: [{ type: strict }] });
      const nack = new Promise<string>((resolve) => c.once("nack", (n) => resolve(n.message)));
      assert.equal(await nack, "workload[uid=default/x].node: empty");
      assert.equal(c.resources(ADDRESS_TYPE_URL).size, 0);
    } finally {
      await fx.close();
    }
  });
});

describe("reconnect", () => {
  test("a reconnecting client sends what it holds and receives only what changed meanwhile", async () => {
    const fx = await startFixture({ pki });
    try {
      fx.server.setResources(
        ADDRESS_TYPE_URL,
        new Map([
          ["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }],
          ["default/b", { resource: workload("default/b", [10, 0, 0, 2]) }],
          ["default/c", { resource: workload("default/c", [10, 0, 0, 3]) }],
        ]),
      );
      const c = fx.client("node1");
      await c.synced();
      const first = fx.server.status()[0];
      assert.ok(first);
      const disconnected = new Promise<void>((resolve) => c.once("disconnected", () => resolve()));
      const reconnected = new Promise<void>((resolve) => fx.server.once("connect", () => resolve()));
      fx.server.disconnect(first.stream);
      await disconnected;
      // While it is away, one workload changes and one goes; the client keeps serving its cache.
      fx.server.applyDelta(ADDRESS_TYPE_URL, {
        upserts: [["default/b", { resource: workload("default/b", [10, 0, 0, 20]) }]],
        removals: ["default/c"],
      });
      assert.equal(c.resources(ADDRESS_TYPE_URL).size, 3);
      const pushes = pushesTo(fx.server, "node1-ztunnel", ADDRESS_TYPE_URL);
      await reconnected;
      await until(() => c.get(ADDRESS_TYPE_URL, "default/c") === undefined, "the catch-up response");
      assert.deepEqual(pushes, [{ upserts: 1, removals: 1 }]);
      assert.deepEqual(workloadIp(c.get(ADDRESS_TYPE_URL, "default/b")?.resource as Address), [10, 0, 0, 20]);
      assert.ok(c.get(ADDRESS_TYPE_URL, "default/a"));
    } finally {
      await fx.close();
    }
  });

  test("with the control plane gone the client keeps its config and keeps retrying", async () => {
    const fx = await startFixture({ pki });
    fx.server.setResources(
      ADDRESS_TYPE_URL,
      new Map([["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }]]),
    );
    const c = fx.client("node1");
    await c.synced();
    await fx.server.close(100);
    await until(() => c.state.state === "backoff" && (c.state.attempt ?? 0) >= 1, "a failed retry");
    assert.equal(c.resources(ADDRESS_TYPE_URL).size, 1);
    await fx.close();
    assert.equal(c.state.state, "closed");
  });

  test("a server that never answers is abandoned after firstResponseTimeoutMs and retried", async () => {
    const cred = pki.issue(CONTROL_PLANE_ID);
    let attempts = 0;
    const server = await XdsServer.listen<TestCaller>({
      address: "127.0.0.1:0",
      tls: { certChainPem: cred.certChainPem, keyPem: cred.keyPem },
      authenticate: () => {
        attempts += 1;
        return new Promise<TestCaller | null>(() => {}); // stuck forever
      },
    });
    const c = new XdsClient({
      address: `127.0.0.1:${server.port}`,
      tls: { rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
      token: "node1",
      node: { id: "n" },
      backoff: { initialMs: 20, maxMs: 50 },
      firstResponseTimeoutMs: 150,
    });
    try {
      c.start();
      await until(() => attempts >= 2, "a second attempt");
      assert.equal(c.state.state === "backoff" || c.state.state === "connecting", true);
      const st = c.state;
      if (st.state === "backoff") assert.match(st.lastError, /no response within 150 ms/);
    } finally {
      c.close();
      await server.close(100);
    }
  });
});

describe("authentication and visibility", () => {
  let fx: Fixture;
  before(async () => {
    fx = await startFixture({
      pki,
      // A node sees only the workloads scheduled on it (policies: everyone).
      visible: (caller, typeUrl, _name, resource) =>
        typeUrl !== ADDRESS_TYPE_URL ||
        ((resource as Address).type.case === "workload" &&
          (resource as Address & { type: { case: "workload" } }).type.value.node === caller.id),
    });
  });
  after(async () => {
    await fx.close();
  });

  test("a stream without a valid bearer token ends with UNAUTHENTICATED", async () => {
    const raw = new Client(
      `127.0.0.1:${fx.server.port}`,
      channelCredentials({ rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID }),
    );
    try {
      for (const md of [
        new Metadata(),
        (() => {
          const m = new Metadata();
          m.set("authorization", "Bearer nope");
          return m;
        })(),
      ]) {
        const call = raw.makeBidiStreamRequest<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
          DELTA_ADS_PATH,
          serializeDeltaRequest,
          deserializeDeltaResponse,
          md,
        );
        const code = await new Promise<number>((resolve) => {
          call.on("error", (e: Error & { code: number }) => resolve(e.code));
          call.on("data", () => resolve(-1));
          call.write(
            create(DeltaDiscoveryRequestSchema, { typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["*"] }),
          );
        });
        assert.equal(code, status.UNAUTHENTICATED);
      }
    } finally {
      raw.close();
    }
  });

  test("the client refuses a server whose certificate is not the expected control plane identity", async () => {
    const c = fx.client("node1", {
      tls: { rootsPem: pki.rootsPem, serverIdentity: "spiffe://cluster.local/ns/evil/sa/istiod" },
    });
    await until(() => c.state.state === "backoff", "the refused handshake");
    assert.equal(c.state.state === "backoff" && /UNAVAILABLE/.test(c.state.lastError), true);
    c.close();
  });

  test("each node receives only what the filter lets it see, and follows a workload that moves", async () => {
    fx.server.setResources(
      ADDRESS_TYPE_URL,
      new Map([
        ["default/on1", { resource: workload("default/on1", [10, 0, 1, 1], { node: "node1" }) }],
        ["default/on2", { resource: workload("default/on2", [10, 0, 2, 1], { node: "node2" }) }],
      ]),
    );
    fx.server.setResources(
      AUTHORIZATION_TYPE_URL,
      new Map([["default/p", { resource: policy("default", "p") }]]),
    );
    const n1 = fx.client("node1");
    const n2 = fx.client("node2");
    await Promise.all([n1.synced(), n2.synced()]);
    assert.deepEqual([...n1.resources(ADDRESS_TYPE_URL).keys()], ["default/on1"]);
    assert.deepEqual([...n2.resources(ADDRESS_TYPE_URL).keys()], ["default/on2"]);
    assert.equal(n1.resources(AUTHORIZATION_TYPE_URL).size, 1);

    fx.server.applyDelta(ADDRESS_TYPE_URL, {
      upserts: [["default/on1", { resource: workload("default/on1", [10, 0, 1, 1], { node: "node2" }) }]],
    });
    await until(
      () => n2.resources(ADDRESS_TYPE_URL).size === 2 && n1.resources(ADDRESS_TYPE_URL).size === 0,
      "the move",
    );
  });
});

describe("fan-out", () => {
  test("100 concurrent clients all converge after one change", async () => {
    const fx = await startFixture({ pki });
    try {
      fx.server.setResources(
        ADDRESS_TYPE_URL,
        new Map([["default/a", { resource: workload("default/a", [10, 0, 0, 1]) }]]),
      );
      const clients = Array.from({ length: 100 }, (_, i) => fx.client(`node${i + 1}`));
      await Promise.all(clients.map((c) => c.synced()));
      assert.equal(fx.server.status().length, 100);
      fx.server.applyDelta(ADDRESS_TYPE_URL, {
        upserts: [["default/a", { resource: workload("default/a", [10, 0, 0, 42]) }]],
      });
      await until(
        () =>
          clients.every(
            (c) => workloadIp(c.get(ADDRESS_TYPE_URL, "default/a")?.resource as Address)[3] === 42,
          ),
        "all 100 clients to apply the change",
        30_000,
      );
      const revision = String(fx.server.store.revision(ADDRESS_TYPE_URL));
      await until(
        () =>
          fx.server
            .status()
            .every(
              (s) => s.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL)?.lastAcked?.version === revision,
            ),
        "all 100 ACKs",
        30_000,
      );
    } finally {
      await fx.close();
    }
  });
});
