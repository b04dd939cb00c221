/**
 * ambit.waypoint.L7Resource end to end over a real delta ADS stream: a real XdsServer (the ztunnel
 * harness's control plane) publishes L7 resources, a real in-process Waypoint subscribes, compiles
 * and ACKs them; a resource that fails validation is NACKed with its name and the waypoint keeps
 * the last good version; a removal removes it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Waypoint } from "../../src/waypoint/waypoint.js";
import { L7ResourceSchema } from "../../src/xds/gen/ambit/waypoint/l7_pb.js";
import { L7_RESOURCE_TYPE_URL } from "../../src/xds/type-urls.js";
import { startTestWaypoint } from "../waypoint/waypoint-harness.js";
import { ControlPlane, until } from "../ztunnel/harness.js";

const NAME = "TrafficSplit/default/split";

function split(weightV2: number | string, name = "split") {
  const doc = {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "TrafficSplit",
    metadata: { name, namespace: "default" },
    spec: {
      workloadSelector: { labels: { app: "web" } },
      layer: "L7",
      rules: [
        {
          route: [
            {
              destination: { host: "web", subset: "v1" },
              weight: typeof weightV2 === "number" ? 100 - weightV2 : 100,
            },
            { destination: { host: "web", subset: "v2" }, weight: weightV2 },
          ],
        },
      ],
    },
  };
  return {
    resource: create(L7ResourceSchema, {
      apiVersion: doc.apiVersion,
      kind: doc.kind,
      namespace: "default",
      name: "split",
      json: JSON.stringify(doc),
    }),
  };
}

const weightOf = (wp: Waypoint): unknown =>
  (wp.xdsL7Resources.get(NAME) as { spec?: { rules?: { route?: { weight?: number }[] }[] } } | undefined)
    ?.spec?.rules?.[0]?.route?.[1]?.weight;

let cp: ControlPlane;
let wp: Waypoint;

before(async () => {
  cp = await ControlPlane.start();
  cp.setWorkloads([]);
  wp = await startTestWaypoint(cp, new Map(), []);
});

after(async () => {
  await wp?.close();
  await cp?.close();
});

test("a published L7 resource reaches the waypoint and is ACKed", async () => {
  const acked = new Promise<void>((resolve) =>
    cp.server.on("ack", (e) => {
      if (e.typeUrl === L7_RESOURCE_TYPE_URL && e.version !== "") resolve();
    }),
  );
  cp.server.setResources(L7_RESOURCE_TYPE_URL, new Map([[NAME, split(0)]]));
  await until(() => weightOf(wp) === 0, "the waypoint holding the split");
  await acked;
});

test("an invalid L7 resource is NACKed with its name and the last good version stays", async () => {
  const nack = new Promise<string>((resolve) =>
    cp.server.once("nack", (e) => {
      if (e.typeUrl === L7_RESOURCE_TYPE_URL) resolve(e.message);
    }),
  );
  cp.server.applyDelta(L7_RESOURCE_TYPE_URL, { upserts: [[NAME, split("lots")]] });
  const message = await nack;
  assert.match(message, /TrafficSplit\/default\/split/);
  assert.match(message, /weight/);
  assert.equal(weightOf(wp), 0, "last good version kept");
  // An envelope that disagrees with its JSON is refused as well.
  const mismatch = new Promise<string>((resolve) =>
    cp.server.once("nack", (e) => {
      if (e.typeUrl === L7_RESOURCE_TYPE_URL) resolve(e.message);
    }),
  );
  cp.server.applyDelta(L7_RESOURCE_TYPE_URL, {
    upserts: [["TrafficSplit/default/other", split(1)]],
  });
  assert.match(await mismatch, /resource name/);
  assert.equal(wp.xdsL7Resources.has("TrafficSplit/default/other"), false);
});

test("a good version after a NACK is applied, and a removal removes it", async () => {
  cp.server.setResources(L7_RESOURCE_TYPE_URL, new Map([[NAME, split(50)]]));
  await until(() => weightOf(wp) === 50, "the new version");
  cp.server.setResources(L7_RESOURCE_TYPE_URL, new Map());
  await until(() => !wp.xdsL7Resources.has(NAME), "the removal");
});
