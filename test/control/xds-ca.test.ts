import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Message } from "@bufbuild/protobuf";
import { createCsr, generateKeyPair } from "../../src/identity/keys.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { GrpcCaClient } from "../../src/xds/ca-service.js";
import { XdsClient } from "../../src/xds/client.js";
import type { Authorization } from "../../src/xds/gen/istio/security/authorization_pb.js";
import type { Address } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { TunnelProtocol } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/type-urls.js";
import { admin, DEMO, type Harness, startControl, until } from "./harness.js";

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-front, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/front"]}}]
`;

function tls(h: Harness): { rootsPem: string; serverName: string } {
  return { rootsPem: h.cp.ca.rootPem(), serverName: "istiod.istio-system.svc" };
}

describe("xDS and CA over real gRPC/TLS", () => {
  let h: Harness;
  let nodeToken: string;
  before(async () => {
    h = await startControl();
    assert.equal((await admin(h, "POST", "/v1/apply", { filename: "demo.yaml", yaml: DEMO })).status, 200);
    nodeToken = (
      (await admin(h, "POST", "/v1/tokens", { kind: "node", node: "node1" })).body as { token: string }
    ).token;
  });
  after(async () => {
    await h.close();
  });

  test("a ztunnel with a node token gets workloads, services, policies, then an incremental update", {
    timeout: 20_000,
  }, async () => {
    const client = new XdsClient({
      address: `127.0.0.1:${h.cp.xdsPort}`,
      tls: tls(h),
      token: nodeToken,
      node: { id: "ztunnel~node1" },
    });
    try {
      client.start();
      await client.synced();
      const addresses = client.resources(ADDRESS_TYPE_URL);
      const web0 = addresses.get("Kubernetes//Pod/shop/web-0")?.resource as Address | undefined;
      assert.equal(web0?.type.case, "workload");
      if (web0?.type.case !== "workload") return;
      const w = web0.type.value;
      assert.deepEqual([...w.addresses[0]!], [10, 244, 1, 2]);
      assert.equal(w.serviceAccount, "web");
      assert.equal(w.node, "node1");
      assert.equal(w.trustDomain, "cluster.local");
      assert.equal(w.tunnelProtocol, TunnelProtocol.HBONE);
      assert.deepEqual(
        Object.fromEntries(
          Object.entries(w.services).map(([k, v]) => [k, v.ports.map((p) => [p.servicePort, p.targetPort])]),
        ),
        { "shop/web.shop.svc.cluster.local": [[80, 8080]] },
      );
      // The other node's workloads are visible too: ztunnel needs the whole address book.
      assert.ok(addresses.has("Kubernetes//Pod/shop/web-1"));
      const svc = addresses.get("shop/web.shop.svc.cluster.local")?.resource as Address | undefined;
      assert.equal(svc?.type.case, "service");
      if (svc?.type.case === "service")
        assert.deepEqual([...svc.type.value.addresses[0]!.address], [10, 96, 0, 10]);
      assert.equal(client.resources(AUTHORIZATION_TYPE_URL).size, 0);

      const changes: string[] = [];
      client.on("change", (c) => changes.push(...c.upserted.keys()));
      assert.equal((await admin(h, "POST", "/v1/apply", { filename: "p.yaml", yaml: POLICY })).status, 200);
      await until(
        (n) => {
          client.on("change", n);
          return () => client.off("change", n);
        },
        () =>
          client.resources(AUTHORIZATION_TYPE_URL).has("shop/allow-front") &&
          workloadPolicies(client).length > 0,
      );
      const authz = client.get(AUTHORIZATION_TYPE_URL, "shop/allow-front")?.resource as
        | Authorization
        | undefined;
      assert.equal(
        authz?.rules[0]?.clauses[0]?.matches[0]?.principals[0]?.matchType.value,
        "cluster.local/ns/shop/sa/front",
      );
      assert.deepEqual(workloadPolicies(client), ["shop/allow-front"]);
      // Incremental: the service was not resent.
      assert.ok(!changes.includes("shop/web.shop.svc.cluster.local"));

      // The status API shows this client with its ACKed versions.
      const status = (await admin(h, "GET", "/v1/status")).body as {
        xds: {
          clients: {
            caller: { id: string };
            types: { typeUrl: string; lastAcked?: { version: string } }[];
          }[];
        };
      };
      const me = status.xds.clients.find((c) => c.caller.id === "node/node1");
      assert.ok(me);
      assert.ok(me.types.some((t) => t.typeUrl === ADDRESS_TYPE_URL && t.lastAcked !== undefined));
    } finally {
      client.close();
    }
  });

  test("a stream without a valid token is refused", { timeout: 20_000 }, async () => {
    let resolveRefused: (reason: string) => void = () => undefined;
    const refused = new Promise<string>((r) => {
      resolveRefused = r;
    });
    const noop = (): void => undefined;
    const client = new XdsClient({
      address: `127.0.0.1:${h.cp.xdsPort}`,
      tls: tls(h),
      token: "wrong",
      node: { id: "ztunnel~evil" },
      backoff: { initialMs: 50, maxMs: 50 },
      log: {
        debug: (o) => {
          const reason = (o as { reason?: string }).reason;
          if (reason) resolveRefused(reason);
        },
        info: noop,
        warn: noop,
        error: noop,
      },
    });
    try {
      client.start();
      assert.match(await refused, /UNAUTHENTICATED/);
      assert.equal(client.resources(ADDRESS_TYPE_URL).size, 0);
    } finally {
      client.close();
    }
  });

  test("CA: a node gets a certificate for a local pod's service account, and is refused one for another node's", {
    timeout: 20_000,
  }, async () => {
    const apply = await admin(h, "POST", "/v1/apply", {
      filename: "db.yaml",
      yaml: `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec: {nodeName: node2, serviceAccountName: db, containers: [{name: db}]}
`,
    });
    assert.equal(apply.status, 200);
    const ca = new GrpcCaClient({ address: `127.0.0.1:${h.cp.xdsPort}`, tls: tls(h), token: nodeToken });
    try {
      const web = SpiffeId.of("shop", "web");
      const { privateKey } = generateKeyPair();
      const chain = await ca.createCertificate(createCsr(privateKey, web), 600);
      const leaf = new X509Certificate(chain[0] ?? "");
      assert.equal(leaf.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/web");
      assert.ok(leaf.verify(new X509Certificate(h.cp.ca.rootPem()).publicKey));
      const lifetime = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000;
      assert.ok(lifetime <= 600 + 120, `a shorter requested validity is honoured (got ${lifetime}s)`);

      const db = SpiffeId.of("shop", "db");
      await assert.rejects(
        ca.createCertificate(createCsr(privateKey, db), 600),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, "XDS_ERR_CA_DENIED");
          assert.match(e.message, /PERMISSION_DENIED/);
          return true;
        },
      );
      const status = (await admin(h, "GET", "/v1/status")).body as { ca: { issued: number; denied: number } };
      assert.deepEqual([status.ca.issued, status.ca.denied], [1, 1]);
    } finally {
      ca.close();
    }
  });
});

function workloadPolicies(client: XdsClient): string[] {
  const m = client.get(ADDRESS_TYPE_URL, "Kubernetes//Pod/shop/web-0")?.resource as
    | (Message & Address)
    | undefined;
  return m?.type.case === "workload" ? m.type.value.authorizationPolicies : [];
}
