import { create, type Message } from "@bufbuild/protobuf";
import { createTestPki, type TestPki } from "../../src/identity/testing.js";
import { bearerToken, type XdsCaller } from "../../src/xds/auth.js";
import type { CaServiceOptions } from "../../src/xds/ca-service.js";
import { type XdsClient, XdsClient as XdsClientClass, type XdsClientOptions } from "../../src/xds/client.js";
import { AuthorizationSchema } from "../../src/xds/gen/istio/security/authorization_pb.js";
import { type Address, AddressSchema, type Workload } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { XdsServer } from "../../src/xds/server.js";

export const CONTROL_PLANE_ID = "spiffe://cluster.local/ns/istio-system/sa/istiod";

export interface TestCaller extends XdsCaller {
  readonly kind: "ztunnel" | "waypoint";
  readonly id: string;
}

export interface Fixture {
  readonly pki: TestPki;
  readonly server: XdsServer<TestCaller>;
  /** token → caller; tokens "node1", "node2", … map to ztunnel callers of that node. */
  readonly tokens: Map<string, TestCaller>;
  client(token: string, opts?: Partial<XdsClientOptions>): XdsClient;
  close(): Promise<void>;
}

export async function startFixture(
  opts: {
    debounceMs?: number;
    visible?: (caller: TestCaller, typeUrl: string, name: string, resource: Message) => boolean;
    ca?: CaServiceOptions<TestCaller>;
    pki?: TestPki;
  } = {},
): Promise<Fixture> {
  const pki = opts.pki ?? createTestPki();
  const serverCred = pki.issue(CONTROL_PLANE_ID);
  const tokens = new Map<string, TestCaller>();
  for (let i = 1; i <= 200; i++) tokens.set(`node${i}`, { kind: "ztunnel", id: `node${i}` });
  const server = await XdsServer.listen<TestCaller>({
    address: "127.0.0.1:0",
    tls: { certChainPem: serverCred.certChainPem, keyPem: serverCred.keyPem },
    authenticate: async ({ metadata }) => {
      const token = bearerToken(metadata);
      return token === null ? null : (tokens.get(token) ?? null);
    },
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : { debounceMs: 20 }),
    ...(opts.visible !== undefined ? { visible: opts.visible } : {}),
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
  });
  const clients: XdsClient[] = [];
  return {
    pki,
    server,
    tokens,
    client(token, extra = {}) {
      const c = new XdsClientClass({
        address: `127.0.0.1:${server.port}`,
        tls: { rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE_ID },
        token,
        node: { id: `${token}-ztunnel` },
        backoff: { initialMs: 20, maxMs: 200 },
        ...extra,
      });
      clients.push(c);
      c.start();
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close(500);
    },
  };
}

export function workload(
  uid: string,
  ip: readonly number[],
  extra: Partial<Omit<Workload, "$typeName">> = {},
): Address {
  return create(AddressSchema, {
    type: {
      case: "workload",
      value: {
        uid,
        name: uid.split("/").at(-1) ?? uid,
        namespace: "default",
        addresses: [new Uint8Array(ip)],
        trustDomain: "cluster.local",
        serviceAccount: "default",
        node: "node1",
        ...extra,
      },
    },
  });
}

export function policy(namespace: string, name: string) {
  return create(AuthorizationSchema, { namespace, name, rules: [] });
}

/** Resolves when `predicate` holds, checking after every client change; rejects after `ms` (a hang guard, not a timing assertion). */
export function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const started = Date.now();
    const tick = setInterval(() => {
      if (predicate()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(tick);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 5);
  });
}
