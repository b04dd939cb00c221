/**
 * xDS fan-out benchmark: one XdsServer, N XdsClients over real TLS gRPC on loopback, all in this
 * process. Each round changes one workload and measures the time from applyDelta() until every
 * client has applied it (its `change` event), including the server's debounce.
 *
 *   node dist/bench/xds.js [--clients 100] [--rounds 30] [--debounce 100]
 *
 * Server and clients share this process's event loop and the machine's cores, so the numbers are
 * an upper bound for a control plane serving N separate ztunnels.
 */
import { create } from "@bufbuild/protobuf";
import { createTestPki } from "../src/identity/testing.js";
import { bearerToken } from "../src/xds/auth.js";
import { XdsClient } from "../src/xds/client.js";
import { AddressSchema } from "../src/xds/gen/istio/workload/workload_pb.js";
import { XdsServer } from "../src/xds/server.js";
import { ADDRESS_TYPE_URL } from "../src/xds/type-urls.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number`);
  return v;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

const clientsN = arg("clients", 100);
const rounds = arg("rounds", 30);
const debounceMs = arg("debounce", 100);
const CONTROL_PLANE = "spiffe://cluster.local/ns/istio-system/sa/istiod";

const workload = (last: number) =>
  create(AddressSchema, {
    type: {
      case: "workload",
      value: { uid: "default/bench", addresses: [new Uint8Array([10, 9, last >> 8, last & 255])] },
    },
  });

const pki = createTestPki();
const cred = pki.issue(CONTROL_PLANE);
const server = await XdsServer.listen({
  address: "127.0.0.1:0",
  tls: { certChainPem: cred.certChainPem, keyPem: cred.keyPem },
  authenticate: async ({ metadata }) => {
    const t = bearerToken(metadata);
    return t === null ? null : { kind: "ztunnel", id: t };
  },
  debounceMs,
});
// Background resources, so each push is a delta against a realistically sized state.
server.setResources(
  ADDRESS_TYPE_URL,
  new Map(
    Array.from({ length: 1000 }, (_, i) => [
      `default/w${i}`,
      {
        resource: create(AddressSchema, {
          type: {
            case: "workload",
            value: { uid: `default/w${i}`, addresses: [new Uint8Array([10, 8, i >> 8, i & 255])] },
          },
        }),
      },
    ]),
  ),
);
server.applyDelta(ADDRESS_TYPE_URL, { upserts: [["default/bench", { resource: workload(0) }]] });

const connectStart = performance.now();
const clients = Array.from({ length: clientsN }, (_, i) => {
  const c = new XdsClient({
    address: `127.0.0.1:${server.port}`,
    tls: { rootsPem: pki.rootsPem, serverIdentity: CONTROL_PLANE },
    token: `node${i}`,
    node: { id: `node${i}` },
  });
  c.start();
  return c;
});
await Promise.all(clients.map((c) => c.synced()));
const connectMs = performance.now() - connectStart;

const allApplied: number[] = [];
const perClient: number[] = [];
for (let r = 1; r <= rounds; r++) {
  const start = performance.now();
  const done = Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          const onChange = (ch: { upserted: ReadonlyMap<string, unknown> }) => {
            if (!ch.upserted.has("default/bench")) return;
            perClient.push(performance.now() - start);
            c.off("change", onChange);
            resolve();
          };
          c.on("change", onChange);
        }),
    ),
  );
  server.applyDelta(ADDRESS_TYPE_URL, { upserts: [["default/bench", { resource: workload(r) }]] });
  await done;
  allApplied.push(performance.now() - start);
}

allApplied.sort((a, b) => a - b);
perClient.sort((a, b) => a - b);
const fmt = (n: number) => n.toFixed(1);
console.log(
  JSON.stringify(
    {
      clients: clientsN,
      rounds,
      debounceMs,
      backgroundResources: 1000,
      initialSyncAllMs: Math.round(connectMs),
      changeToAllAppliedMs: { p50: fmt(percentile(allApplied, 50)), p99: fmt(percentile(allApplied, 99)) },
      changeToEachAppliedMs: { p50: fmt(percentile(perClient, 50)), p99: fmt(percentile(perClient, 99)) },
      node: process.version,
      date: new Date().toISOString(),
    },
    null,
    2,
  ),
);
for (const c of clients) c.close();
await server.close(200);
