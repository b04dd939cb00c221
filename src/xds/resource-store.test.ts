import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { isAmbitError } from "../errors.js";
import { AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { AddressSchema } from "./gen/istio/workload/workload_pb.js";
import { type StoreChange, XdsResourceStore } from "./resource-store.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "./type-urls.js";

const wl = (uid: string, last: number) =>
  create(AddressSchema, {
    type: { case: "workload", value: { uid, addresses: [new Uint8Array([10, 0, 0, last])] } },
  });

test("the store reports only real changes and bumps the type's revision once per mutation", () => {
  const store = new XdsResourceStore();
  const changes: StoreChange[] = [];
  store.onChange((c) => changes.push(c));
  assert.equal(
    store.setResources(
      ADDRESS_TYPE_URL,
      new Map([
        ["a", { resource: wl("a", 1) }],
        ["b", { resource: wl("b", 2) }],
      ]),
    ),
    2,
  );
  assert.equal(store.revision(ADDRESS_TYPE_URL), 1);
  // Same content → same content-hash version → nothing.
  assert.equal(store.applyDelta(ADDRESS_TYPE_URL, { upserts: [["a", { resource: wl("a", 1) }]] }), 0);
  assert.equal(store.revision(ADDRESS_TYPE_URL), 1);
  // A snapshot without b removes b.
  assert.equal(store.setResources(ADDRESS_TYPE_URL, new Map([["a", { resource: wl("a", 3) }]])), 2);
  assert.deepEqual(
    changes.map((c) => [...c.names].sort()),
    [
      ["a", "b"],
      ["a", "b"],
    ],
  );
  assert.equal(store.get(ADDRESS_TYPE_URL, "b"), undefined);
  assert.equal(store.get(ADDRESS_TYPE_URL, "a")?.wire.resource?.typeUrl, ADDRESS_TYPE_URL);
  // Explicit versions are used as given.
  store.applyDelta(ADDRESS_TYPE_URL, { upserts: [["c", { resource: wl("c", 4), version: "v7" }]] });
  assert.equal(store.get(ADDRESS_TYPE_URL, "c")?.version, "v7");
});

test("a resource published under the wrong type URL is refused and nothing of that delta applies", () => {
  const store = new XdsResourceStore();
  const policy = create(AuthorizationSchema, { name: "p", namespace: "ns" });
  assert.throws(
    () =>
      store.applyDelta(AUTHORIZATION_TYPE_URL, {
        upserts: [
          ["ns/p", { resource: policy }],
          ["a", { resource: wl("a", 1) }],
        ],
      }),
    (e) => isAmbitError(e, "XDS_ERR_TYPE_URL_MISMATCH"),
  );
  assert.equal(store.list(AUTHORIZATION_TYPE_URL).size, 0);
  assert.throws(
    () => store.applyDelta(ADDRESS_TYPE_URL, { upserts: [["", { resource: wl("a", 1) }]] }),
    (e) => isAmbitError(e, "XDS_ERR_CONFIG"),
  );
});
