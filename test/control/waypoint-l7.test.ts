/**
 * The control plane publishes ambit.waypoint.L7Resource to waypoints only, each its own scope, over
 * real gRPC/TLS: a ztunnel subscribing to the type gets nothing; a waypoint gets the routing and
 * the bound Service of its namespace and not another waypoint's; an `ambit apply` of a changed
 * TrafficSplit reaches it; and `status` lists the waypoints with their state.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { XdsClient } from "../../src/xds/client.js";
import { ADDRESS_TYPE, L7_RESOURCE_TYPE_URL } from "../../src/xds/index.js";
import { L7_RESOURCE_TYPE } from "../../src/xds/resource-types.js";
import { admin, type Harness, startControl } from "./harness.js";

const MESH = `apiVersion: v1
kind: Node
metadata: {name: node1}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: wp}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp2, namespace: other}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: pay, namespace: shop}
spec: {selector: {app: pay}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pay, namespace: shop}
spec: {host: pay, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: elsewhere, namespace: other}
spec: {hosts: [x], http: [{route: [{destination: {host: x}}]}]}
`;

function split(v2: number): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: TrafficSplit
metadata: {name: pay-split, namespace: shop}
spec:
  workloadSelector: {labels: {app: pay}}
  layer: L7
  rules:
    - route:
        - {destination: {host: pay, subset: v2}, weight: ${v2}}
        - {destination: {host: pay, subset: v1}, weight: ${100 - v2}}
`;
}

describe("control plane: waypoint L7 config over xDS", () => {
  let h: Harness;
  const clients: XdsClient[] = [];
  before(async () => {
    h = await startControl();
    const applied = await admin(h, "POST", "/v1/apply", {
      filename: "m.yaml",
      yaml: MESH + "---\n" + split(5),
    });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.close();
  });

  const connect = async (token: string, id: string): Promise<XdsClient> => {
    const client = new XdsClient({
      address: `127.0.0.1:${h.cp.xdsPort}`,
      tls: { rootsPem: h.cp.ca.rootPem(), serverName: "istiod.istio-system.svc" },
      token,
      node: { id },
      subscriptions: [{ type: ADDRESS_TYPE }, { type: L7_RESOURCE_TYPE }],
    });
    clients.push(client);
    client.start();
    await client.synced();
    return client;
  };
  const tokenFor = async (body: object): Promise<string> =>
    ((await admin(h, "POST", "/v1/tokens", body)).body as { token: string }).token;

  test("a node sees no L7 resources; each waypoint sees its own scope", { timeout: 30_000 }, async () => {
    const node = await connect(await tokenFor({ kind: "node", node: "node1" }), "ztunnel~node1");
    assert.equal(node.resources(L7_RESOURCE_TYPE_URL).size, 0);
    const wp = await connect(
      await tokenFor({ kind: "waypoint", namespace: "shop", name: "wp" }),
      "waypoint~shop~wp",
    );
    assert.deepEqual([...wp.resources(L7_RESOURCE_TYPE_URL).keys()].sort(), [
      "DestinationRule/shop/pay",
      "Service/shop/pay",
      "TrafficSplit/shop/pay-split",
    ]);
    const wp2 = await connect(
      await tokenFor({ kind: "waypoint", namespace: "other", name: "wp2" }),
      "waypoint~other~wp2",
    );
    assert.deepEqual([...wp2.resources(L7_RESOURCE_TYPE_URL).keys()], ["VirtualService/other/elsewhere"]);

    // A changed split is pushed to the waypoint that owns it.
    const seen = new Promise<string>((resolve) =>
      wp.on("change", (c) => {
        const r = c.upserted.get("TrafficSplit/shop/pay-split") as { json?: string } | undefined;
        if (r?.json !== undefined) resolve(r.json);
      }),
    );
    assert.equal((await admin(h, "POST", "/v1/apply", { filename: "s.yaml", yaml: split(50) })).status, 200);
    assert.match(await seen, /"weight":50/);

    const status = (await admin(h, "GET", "/v1/status")).body as {
      waypoints: { name: string; state: string; bound: { object: string }[] }[];
    };
    const shop = status.waypoints.find((w) => w.name === "wp");
    assert.deepEqual(
      shop?.bound.map((b) => b.object),
      ["Service/shop/pay"],
    );
    // Its pod has an address (node1) and its stream ACKed addresses: ready.
    assert.equal(shop?.state, "ready");
  });
});
