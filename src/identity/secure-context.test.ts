import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from "node:tls";
import { CertStore } from "./cert-store.js";
import type { WorkloadCredential } from "./credential.js";
import { localCaClient } from "./local-ca-client.js";
import { secureContextFor, tlsOptionsFor } from "./secure-context.js";
import { identityFromCertificate, SpiffeId } from "./spiffe.js";
import { createTestPki } from "./testing.js";

const SERVER = SpiffeId.of("shop", "server");
const CLIENT = SpiffeId.of("shop", "client");

/**
 * A TLS echo server requiring client certificates, as HBONE's server is built: a tls.Server whose
 * credential is swapped with setSecureContext on rotation. It records the peer identity of each connection.
 */
async function startServer(initial: WorkloadCredential) {
  const peers: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer(
    { ...tlsOptionsFor(initial), requestCert: true, rejectUnauthorized: true },
    (tls) => {
      sockets.add(tls);
      tls.on("error", () => {});
      tls.on("close", () => sockets.delete(tls));
      const cert = tls.getPeerX509Certificate();
      assert.ok(tls.authorized && cert !== undefined);
      peers.push(identityFromCertificate(cert).toString());
      tls.pipe(tls);
    },
  );
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    peers,
    swap(cred: WorkloadCredential) {
      server.setSecureContext(tlsOptionsFor(cred));
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** Connects with `cred`, requiring the server to present `expected` (by SAN, since we dial an IP). */
async function connectAs(port: number, cred: WorkloadCredential, expected: SpiffeId): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port,
    secureContext: secureContextFor(cred),
    checkServerIdentity: (_host, cert) => {
      const got = identityFromCertificate(cert);
      return got.equals(expected) ? undefined : new Error(`server is ${got}, expected ${expected}`);
    },
  });
  socket.on("error", () => {});
  await Promise.race([
    once(socket, "secureConnect"),
    once(socket, "close").then(() => {
      throw new Error("handshake failed");
    }),
  ]);
  return socket;
}

async function roundTrip(socket: TLSSocket, text: string): Promise<string> {
  socket.write(text);
  const [chunk] = (await Promise.race([
    once(socket, "data"),
    once(socket, "close").then(() => {
      throw new Error("connection closed before the echo");
    }),
  ])) as [Buffer];
  return chunk.toString();
}

describe("mTLS with issued credentials", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("handshake succeeds, each side reads the other's identity, rotation spares the open connection", async () => {
    const pki = createTestPki();
    const store = new CertStore({ ca: localCaClient(pki.ca) });
    cleanups.push(() => store.close());
    const server = await startServer(await store.get(SERVER));
    cleanups.push(() => server.close());
    store.on("rotated", (id, cred) => {
      if (id.equals(SERVER)) server.swap(cred);
    });
    const clientCred = pki.issue(CLIENT);

    const first = await connectAs(server.port, clientCred, SERVER);
    cleanups.push(() => void first.destroy());
    const serialBefore = first.getPeerX509Certificate()?.serialNumber;
    assert.equal(serialBefore, store.current(SERVER)?.serial);
    assert.equal(await roundTrip(first, "ping-1"), "ping-1");
    assert.deepEqual(server.peers, [CLIENT.toString()]);

    await store.rotate(SERVER);
    const rotated = store.current(SERVER)!;
    assert.notEqual(rotated.serial, serialBefore);

    // The connection made before the swap keeps working on its original session.
    assert.equal(await roundTrip(first, "ping-2"), "ping-2");
    assert.ok(!first.destroyed);

    const second = await connectAs(server.port, clientCred, SERVER);
    cleanups.push(() => void second.destroy());
    assert.equal(second.getPeerX509Certificate()?.serialNumber, rotated.serial);
    assert.equal(await roundTrip(second, "ping-3"), "ping-3");
    assert.equal(await roundTrip(first, "ping-4"), "ping-4");
    first.end();
    second.end();
  });

  test("a client from another CA is refused, and so is a server with the wrong identity", async () => {
    const pki = createTestPki();
    const serverCred = pki.issue(SERVER);
    const server = await startServer(serverCred);
    cleanups.push(() => server.close());
    // Trusts the server's root, but its own certificate comes from an unrelated CA.
    const stranger = { ...createTestPki().issue(CLIENT), rootsPem: pki.rootsPem };
    await assert.rejects(async () => {
      const s = await connectAs(server.port, stranger, SERVER);
      try {
        // TLS 1.3: the server judges the client certificate after the client's handshake completes.
        await roundTrip(s, "x");
      } finally {
        s.destroy();
      }
    });
    await assert.rejects(connectAs(server.port, pki.issue(CLIENT), SpiffeId.of("shop", "someone-else")));
    assert.deepEqual(server.peers, []);
  });

  test("contexts are memoised by serial", () => {
    const pki = createTestPki();
    const cred = pki.issue(CLIENT);
    assert.equal(secureContextFor(cred), secureContextFor(cred));
    assert.notEqual(secureContextFor(cred), secureContextFor(pki.issue(CLIENT)));
    assert.notEqual(secureContextFor(cred), secureContextFor(cred, { minVersion: "TLSv1.3" }));
  });
});
