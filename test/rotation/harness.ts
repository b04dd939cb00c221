/**
 * Certificate-rotation fixtures: a real control plane in a temp home, "nodes" made of the pieces a
 * ztunnel uses for certificates (real xDS stream with the TrustBundle type, real CA client, CertStore,
 * TrustBundleFollower), and a real HBONE server/pool pair between two of their identities with a steady
 * connection loop that counts failures. No netns: the netns version is rotation-e2e.test.ts.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { ControlPlane } from "../../src/control/control-plane.js";
import { silentLogger } from "../../src/control/log.js";
import { HbonePool } from "../../src/hbone/pool.js";
import { type ConnectRequest, HboneServer } from "../../src/hbone/server.js";
import type { CertStore } from "../../src/identity/cert-store.js";
import type { SpiffeId } from "../../src/identity/spiffe.js";
import { controlPlaneCertStore } from "../../src/xds/ca-service.js";
import { XdsClient } from "../../src/xds/client.js";
import { TRUST_BUNDLE_TYPE, TrustBundleFollower } from "../../src/xds/trust-bundle.js";

export const SHOP = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Node
metadata: {name: node1}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {nodeName: node1, serviceAccountName: web, containers: [{name: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec: {nodeName: node2, serviceAccountName: db, containers: [{name: db}]}
`;

export interface ControlHarness {
  cp: ControlPlane;
  home: string;
  admin<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startControl(opts: { certTtl?: string; home?: string } = {}): Promise<ControlHarness> {
  const home = opts.home ?? (await mkdtemp(join(tmpdir(), "ambit-rot-")));
  const cp = await ControlPlane.start(
    {
      home,
      xdsAddress: "127.0.0.1:0",
      debounceMs: 10,
      storeDebounceMs: 30,
      ...(opts.certTtl !== undefined ? { certTtl: opts.certTtl, testOnlyMinCertTtlSeconds: 10 } : {}),
    },
    { log: silentLogger(), healthTargets: async () => [] },
  );
  const admin = <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: cp.adminSocket,
          method,
          path,
          headers: {
            authorization: `Bearer ${cp.credentials.adminToken}`,
            ...(payload !== undefined ? { "content-type": "application/json" } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, body: (text === "" ? undefined : JSON.parse(text)) as T });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  };
  return {
    cp,
    home,
    admin,
    async close() {
      await cp.close();
      if (opts.home === undefined) await rm(home, { recursive: true, force: true });
    },
  };
}

export interface TestNode {
  readonly name: string;
  readonly certs: CertStore;
  readonly xds: XdsClient;
  close(): void;
}

/** The certificate half of a ztunnel for `name`, connected to `h` with a real node token. */
export async function startNode(h: ControlHarness, name: string, ttlSeconds = 3600): Promise<TestNode> {
  const { body } = await h.admin<{ token: string }>("POST", "/v1/tokens", { kind: "node", node: name });
  const tls = { rootsPem: h.cp.rotation.rootsPem().join(""), serverName: "istiod.istio-system.svc" };
  const address = `127.0.0.1:${h.cp.xdsPort}`;
  const { certs, closeCa } = controlPlaneCertStore({
    control: { address, tls, token: body.token },
    caClient: undefined,
    ttlSeconds,
    rootsPem: tls.rootsPem,
  });
  const xds = new XdsClient({
    address,
    tls,
    token: body.token,
    node: { id: `ztunnel~${name}` },
    subscriptions: [{ type: TRUST_BUNDLE_TYPE }],
  });
  const follower = new TrustBundleFollower(certs);
  xds.on("change", (c) => {
    follower.apply(c)?.renewals.catch(() => {});
  });
  xds.start();
  await xds.synced();
  return {
    name,
    certs,
    xds,
    close() {
      xds.close();
      certs.close();
      closeCa();
    },
  };
}

export interface TrafficLoop {
  ok: number;
  failures: Error[];
  /** Client certificates the server saw, newest last. */
  readonly peers: ConnectRequest["peerCertificate"][];
  stop(): Promise<void>;
}

/**
 * `client` (an identity of node `from`) connects again and again over HBONE to `server` (of node `to`):
 * each connection a fresh CONNECT (new sessions when a certificate changes), a 1 KiB echo, then close.
 */
export async function startTraffic(
  from: TestNode,
  client: SpiffeId,
  to: TestNode,
  server: SpiffeId,
): Promise<TrafficLoop> {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  const echoPort = (echo.address() as net.AddressInfo).port;
  const peers: ConnectRequest["peerCertificate"][] = [];
  const hbone = new HboneServer({
    credentialFor: () => to.certs.current(server),
    authorize: (r) => {
      peers.push(r.peerCertificate);
      return {
        allow: true,
        connect: () =>
          new Promise<Duplex>((resolve, reject) => {
            const s = net.connect({ host: "127.0.0.1", port: echoPort, allowHalfOpen: true });
            s.once("connect", () => resolve(s));
            s.once("error", reject);
          }),
      };
    },
  });
  const { port } = await hbone.listen(0, "127.0.0.1");
  const pool = new HbonePool();
  await to.certs.get(server);
  const loop: TrafficLoop = { ok: 0, failures: [], peers, stop: async () => {} };
  let running = true;
  const payload = Buffer.alloc(1024, 7);
  const once1 = async (): Promise<void> => {
    const stream = await pool.connect({
      source: await from.certs.get(client),
      dstAddress: { host: "127.0.0.1", port },
      expectedIdentities: [server],
      authority: `127.0.0.1:${echoPort}`,
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    const ended = once(stream, "end");
    stream.end(payload);
    await ended;
    if (!Buffer.concat(chunks).equals(payload)) throw new Error("echo mismatch");
  };
  const done = (async () => {
    while (running) {
      try {
        await once1();
        loop.ok++;
      } catch (e) {
        loop.failures.push(e as Error);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  loop.stop = async () => {
    running = false;
    await done;
    await pool.close(200);
    await hbone.close();
    echo.close();
  };
  return loop;
}

/** Polls `check` every 100 ms until it returns true; fails after `ms` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ShopNodes {
  readonly h: ControlHarness;
  readonly node1: TestNode;
  readonly node2: TestNode;
}

/** A control plane with the shop applied and the certificate halves of node1 and node2. */
export async function startShopNodes(
  opts: { certTtl?: string; ttlSeconds?: number } = {},
): Promise<ShopNodes> {
  const h = await startControl(opts.certTtl !== undefined ? { certTtl: opts.certTtl } : {});
  const applied = await h.admin("POST", "/v1/apply", { filename: "shop.yaml", yaml: SHOP });
  if (applied.status !== 200) throw new Error(`applying the shop answered ${applied.status}`);
  const node1 = await startNode(h, "node1", opts.ttlSeconds);
  const node2 = await startNode(h, "node2", opts.ttlSeconds);
  return { h, node1, node2 };
}

/** Stops what startShopNodes (and a traffic loop over it) started, in reverse order; absent parts are skipped. */
export async function stopShopNodes(m: Partial<ShopNodes>, traffic?: TrafficLoop): Promise<void> {
  await traffic?.stop();
  m.node1?.close();
  m.node2?.close();
  await m.h?.close();
}
