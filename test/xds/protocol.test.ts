import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Client, Metadata, status } from "@grpc/grpc-js";
import { createTestPki } from "../../src/identity/testing.js";
import { channelCredentials } from "../../src/xds/credentials.js";
import type { DeltaDiscoveryResponse } from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { BadRequestSchema } from "../../src/xds/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../src/xds/gen/google/rpc/status_pb.js";
import { DELTA_ADS_PATH, deserializeDeltaResponse } from "../../src/xds/grpc-definitions.js";
import { ADDRESS_TYPE_URL, BAD_REQUEST_TYPE_URL } from "../../src/xds/type-urls.js";
import { CONTROL_PLANE_ID, type Fixture, startFixture, until, workload } from "./fixture.js";
import { RawAdsStream } from "./raw-ads.js";

const pki = createTestPki();

function names(r: DeltaDiscoveryResponse): string[] {
  return r.resources.map((x) => x.name).sort();
}

describe("delta xDS protocol rules (raw stream)", () => {
  let fx: Fixture;
  const streams: RawAdsStream[] = [];
  const open = (token: string | null = "node1") => {
    const s = new RawAdsStream(fx.server.port, pki.rootsPem, token);
    streams.push(s);
    return s;
  };
  before(async () => {
    fx = await startFixture({ pki });
    fx.server.setResources(
      ADDRESS_TYPE_URL,
      new Map([
        ["default/a", { resource: workload("default/a", [10, 0, 0, 1]), version: "a1" }],
        ["default/b", { resource: workload("default/b", [10, 0, 0, 2]), version: "b1" }],
      ]),
    );
  });
  after(async () => {
    for (const s of streams) s.close();
    await fx.close();
  });

  test("an empty first subscribe is the legacy wildcard; every response carries a nonce and per-resource versions", async () => {
    const s = open();
    s.send({ typeUrl: ADDRESS_TYPE_URL });
    const r = await s.next();
    assert.equal(r.typeUrl, ADDRESS_TYPE_URL);
    assert.notEqual(r.nonce, "");
    assert.deepEqual(names(r), ["default/a", "default/b"]);
    assert.deepEqual(r.resources.map((x) => x.version).sort(), ["a1", "b1"]);
    assert.equal(r.resources[0]?.resource?.typeUrl, ADDRESS_TYPE_URL);
  });

  test("explicit names: only those are sent; a missing one comes back in removed_resources", async () => {
    const s = open();
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["default/a", "default/missing"] });
    const r = await s.next();
    assert.deepEqual(names(r), ["default/a"]);
    assert.deepEqual(r.removedResources, ["default/missing"]);
  });

  test("initial_resource_versions: only stale resources are resent, unknown ones are removed", async () => {
    const s = open();
    s.send({
      typeUrl: ADDRESS_TYPE_URL,
      resourceNamesSubscribe: ["*"],
      initialResourceVersions: { "default/a": "a1", "default/b": "b0", "default/gone": "g1" },
    });
    const r = await s.next();
    assert.deepEqual(names(r), ["default/b"]);
    assert.deepEqual(r.removedResources, ["default/gone"]);
  });

  test("after an unsubscribe, changes to that resource are no longer pushed", async () => {
    const s = open();
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["default/a", "default/b"] });
    const first = await s.next();
    s.send({
      typeUrl: ADDRESS_TYPE_URL,
      responseNonce: first.nonce,
      resourceNamesUnsubscribe: ["default/a"],
    });
    fx.server.applyDelta(ADDRESS_TYPE_URL, {
      upserts: [
        ["default/a", { resource: workload("default/a", [10, 0, 0, 1]), version: "a2" }],
        ["default/b", { resource: workload("default/b", [10, 0, 0, 2]), version: "b2" }],
      ],
    });
    const r = await s.next();
    assert.deepEqual(names(r), ["default/b"]);
    assert.deepEqual(r.removedResources, []);
  });

  test("a NACK is recorded against the response it names; a stale nonce is ignored", async () => {
    const s = open("node7");
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["default/a"] });
    const r = await s.next();
    s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: "not-a-nonce" });
    s.send({
      typeUrl: ADDRESS_TYPE_URL,
      responseNonce: r.nonce,
      errorDetail: { $typeName: "google.rpc.Status", code: 3, message: "bad thing", details: [] },
    });
    await until(
      () =>
        fx.server.status().some((c) => c.caller.id === "node7" && c.types[0]?.nack?.message === "bad thing"),
      "the NACK in status",
    );
    const st = fx.server.status().find((c) => c.caller.id === "node7")?.types[0];
    assert.equal(st?.nack?.nonce, r.nonce);
    assert.deepEqual(st?.nack?.names, ["default/a"]);
    assert.equal(st?.lastAcked, undefined);
    // A plain NACK (no BadRequest detail naming resources, as Envoy sends) makes the server resend
    // nothing: the next response on the stream is the answer to a later request.
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["default/missing"] });
    const next = await s.next();
    assert.deepEqual(names(next), []);
    assert.deepEqual(next.removedResources, ["default/missing"]);
  });

  test("a NACK naming some resources (google.rpc.BadRequest) makes the server resend the others at once", async () => {
    const s = open("node8");
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["default/a", "default/b"] });
    const r = await s.next();
    assert.deepEqual(names(r), ["default/a", "default/b"]);
    const bad = create(BadRequestSchema, { fieldViolations: [{ field: "default/a", description: "nope" }] });
    s.send({
      typeUrl: ADDRESS_TYPE_URL,
      responseNonce: r.nonce,
      errorDetail: create(StatusSchema, {
        code: 3,
        message: "nope",
        details: [
          create(AnySchema, { typeUrl: BAD_REQUEST_TYPE_URL, value: toBinary(BadRequestSchema, bad) }),
        ],
      }),
    });
    const resent = await s.next();
    assert.deepEqual(names(resent), ["default/b"]);
    s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: resent.nonce });
    await until(
      () =>
        fx.server.status().find((c) => c.caller.id === "node8")?.types[0]?.lastAcked?.nonce === resent.nonce,
      "the ACK",
    );
    assert.deepEqual(fx.server.status().find((c) => c.caller.id === "node8")?.types[0]?.nack?.names, [
      "default/a",
    ]);
  });

  test("a request without type_url ends the stream with INVALID_ARGUMENT", async () => {
    const s = open();
    s.send({ resourceNamesSubscribe: ["*"] });
    const end = await s.ended;
    assert.equal(end.code, status.INVALID_ARGUMENT);
  });

  test("too many names in one request ends the stream with RESOURCE_EXHAUSTED", async () => {
    const s = open();
    s.send({
      typeUrl: ADDRESS_TYPE_URL,
      resourceNamesSubscribe: Array.from({ length: 10_001 }, (_, i) => `n${i}`),
    });
    const end = await s.ended;
    assert.equal(end.code, status.RESOURCE_EXHAUSTED);
  });

  test("an unauthenticated stream gets no data and UNAUTHENTICATED", async () => {
    const s = open(null);
    s.send({ typeUrl: ADDRESS_TYPE_URL });
    const end = await s.ended;
    assert.equal(end.code, status.UNAUTHENTICATED);
    assert.equal(s.pending, 0);
  });

  test("undecodable request bytes end that stream with INTERNAL; the server keeps serving and forgets it", async () => {
    const raw = new Client(
      `127.0.0.1:${fx.server.port}`,
      channelCredentials({ rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID }),
      { "grpc.ssl_target_name_override": "ambit-control-plane" },
    );
    try {
      const md = new Metadata();
      md.set("authorization", "Bearer node9");
      const call = raw.makeBidiStreamRequest(DELTA_ADS_PATH, (b: Buffer) => b, deserializeDeltaResponse, md);
      const code = new Promise<number>((resolve) =>
        call.on("error", (e: Error & { code: number }) => resolve(e.code)),
      );
      // A length-delimited field whose varint length runs past the end of the message.
      call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
      assert.equal(await code, status.INTERNAL);
      await until(
        () => !fx.server.status().some((c) => c.caller.id === "node9"),
        "the broken stream to be forgotten",
      );
      const s = open("node9");
      s.send({ typeUrl: ADDRESS_TYPE_URL });
      assert.equal((await s.next()).typeUrl, ADDRESS_TYPE_URL);
    } finally {
      raw.close();
    }
  });
});
