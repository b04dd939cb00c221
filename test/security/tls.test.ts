/**
 * The certificate / handshake corpus (corpus/tls.ts) over real TLS: hostile client certificates
 * against the real ztunnel's 15008, hostile server certificates against the real `HbonePool`.
 * Revoked serials travel the real way: a trust bundle pushed by the xDS server, applied by each
 * ztunnel's certificate store (whose list the client-side pool also uses).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type net from "node:net";
import { after, before } from "node:test";
import tls from "node:tls";
import { isHboneError } from "../../src/hbone/errors.js";
import { HbonePool } from "../../src/hbone/pool.js";
import type { WorkloadCredential } from "../../src/hbone/tls.js";
import type { TestPki } from "../../src/identity/testing.js";
import {
  TRUST_BUNDLE_RESOURCE,
  TRUST_BUNDLE_TYPE_URL,
  trustBundleMessage,
} from "../../src/xds/trust-bundle.js";
import { corpusCategory } from "./category.js";
import { type CertRecipe, TLS_CASES, type TlsCase, type TlsOutcome } from "./corpus/tls.js";
import { Forge, forgeablePki, type KeyPair } from "./forge.js";
import { SERVER_ID, SERVER_IP, type SecurityMesh, startSecurityMesh } from "./mesh.js";

const HOUR = 3_600_000;
/** A hang guard: a correct peer answers every case within milliseconds. */
const DEADLINE_MS = 15_000;

interface Material {
  readonly certChainPem: string;
  readonly keyPem: string;
}

let mesh: SecurityMesh;
let forge: Forge;
let pki: TestPki;
const material = new Map<TlsCase, Material | undefined>();

/** The CAs recipes sign with, made once. */
interface Issuers {
  readonly root: KeyPair;
  readonly lookAlike: KeyPair;
  readonly intermediate: KeyPair;
  readonly revokedIntermediate: KeyPair;
  readonly leafIssuer: KeyPair;
}

async function make(r: CertRecipe, cas: Issuers, revoke: string[]): Promise<Material | undefined> {
  switch (r.kind) {
    case "none":
      return undefined;
    case "issued": {
      const now = Date.now();
      const window =
        r.validity === "expired"
          ? { notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - HOUR) }
          : r.validity === "not-yet-valid"
            ? { notBefore: new Date(now + HOUR), notAfter: new Date(now + 2 * HOUR) }
            : {};
      return pki.issue(r.identity, window);
    }
    case "revoked": {
      if (r.which === "leaf") {
        const cred = pki.issue(r.identity);
        revoke.push(cred.serial);
        return cred;
      }
      const leaf = await forge.leaf({ sans: [`URI:${r.identity}`] }, cas.revokedIntermediate);
      revoke.push(cas.revokedIntermediate.serial);
      return { certChainPem: leaf.certPem + cas.revokedIntermediate.certPem, keyPem: leaf.keyPem };
    }
    case "forged": {
      const spec = {
        sans: r.sans,
        ...(r.ca !== undefined ? { ca: r.ca } : {}),
        ...(r.keyUsage !== undefined ? { keyUsage: r.keyUsage } : {}),
        ...(r.extendedKeyUsage !== undefined ? { extendedKeyUsage: r.extendedKeyUsage } : {}),
      };
      const by: Record<typeof r.issuer, { issuer: KeyPair | "self"; chain: string }> = {
        mesh: { issuer: cas.root, chain: "" },
        self: { issuer: "self", chain: "" },
        "look-alike-root": { issuer: cas.lookAlike, chain: r.sendRoot === true ? cas.lookAlike.certPem : "" },
        "mesh-intermediate": { issuer: cas.intermediate, chain: cas.intermediate.certPem },
        "unsent-intermediate": { issuer: cas.intermediate, chain: "" },
        "leaf-as-issuer": { issuer: cas.leafIssuer, chain: cas.leafIssuer.certPem },
      };
      const { issuer, chain } = by[r.issuer];
      const leaf = await forge.leaf(spec, issuer);
      return { certChainPem: leaf.certPem + chain, keyPem: leaf.keyPem };
    }
  }
}

/** Pushes the revoked serials in the mesh trust bundle and waits until both ztunnels hold them. */
async function revokeOverXds(serials: readonly string[]): Promise<void> {
  mesh.cp.server.setResources(
    TRUST_BUNDLE_TYPE_URL,
    new Map([
      [
        TRUST_BUNDLE_RESOURCE,
        {
          resource: trustBundleMessage({
            rootsPem: [pki.rootsPem],
            rotations: new Map(),
            revokedSerials: serials,
          }),
        },
      ],
    ]),
  );
  const started = Date.now();
  const held = (): boolean =>
    serials.every((s) => mesh.a.zt.certs.revocations.has(s) && mesh.b.zt.certs.revocations.has(s));
  while (!held()) {
    if (Date.now() - started > DEADLINE_MS) throw new Error("the ztunnels never applied the revocation list");
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  forge = new Forge();
  const made = await forgeablePki(forge);
  pki = made.pki;
  mesh = await startSecurityMesh({ pki });
  const cas: Issuers = {
    root: made.root,
    lookAlike: await forge.root(),
    intermediate: await forge.intermediate(made.root),
    revokedIntermediate: await forge.intermediate(made.root),
    leafIssuer: await forge.leaf({ sans: ["URI:spiffe://cluster.local/ns/default/sa/issuer"] }, made.root),
  };
  const revoke: string[] = [];
  for (const c of TLS_CASES) material.set(c, await make(c.present, cas, revoke));
  await revokeOverXds(revoke);
});

after(async () => {
  await mesh.close();
  forge.close();
});

async function inboundRejections(code: string): Promise<number> {
  const m = await mesh.b.zt.metrics.handshakeErrors.get();
  return m.values
    .filter((v) => v.labels["direction"] === "inbound" && v.labels["reason"] === code)
    .reduce((a, v) => a + v.value, 0);
}

type Observed = TlsOutcome | { readonly other: string };

/** A client with the case's certificate against node-b's 15008: the first decisive answer. */
async function probe15008(c: TlsCase, m: Material | undefined): Promise<Observed> {
  const socket = tls.connect({
    host: SERVER_IP,
    port: mesh.hbonePort,
    ...(m !== undefined ? { cert: m.certChainPem, key: m.keyPem } : {}),
    ca: pki.rootsPem,
    ALPNProtocols: [...(c.client?.alpn ?? ["h2"])],
    ...(c.client?.maxVersion !== undefined ? { maxVersion: c.client.maxVersion } : {}),
    // The client here is the attacker; the ztunnel's own identity is not what is under test.
    checkServerIdentity: () => undefined,
  });
  const handshake = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    socket.once("secureConnect", () => resolve(undefined));
    socket.once("error", resolve);
  });
  if (handshake !== undefined) {
    socket.destroy();
    return { tlsError: handshake.code ?? handshake.message };
  }
  const session = http2.connect(`https://${SERVER_IP}:${mesh.hbonePort}`, { createConnection: () => socket });
  session.on("error", () => {});
  try {
    return await new Promise<Observed>((resolve) => {
      const timer = setTimeout(() => resolve({ other: "silent" }), DEADLINE_MS);
      const done = (o: Observed): void => {
        clearTimeout(timer);
        resolve(o);
      };
      session.once("goaway", (code: number, _last: number, opaque?: Buffer) => {
        const debug = opaque?.toString("utf8") ?? "";
        done(
          code === http2.constants.NGHTTP2_INADEQUATE_SECURITY
            ? { refused: debug.split(":")[0] as TlsCase["counted"] & string }
            : { other: `goaway ${code} ${debug}` },
        );
      });
      session.once("close", () => done({ other: "closed" }));
      const req = session.request({ ":method": "CONNECT", ":authority": `${SERVER_IP}:${mesh.echoPort}` });
      req.on("error", () => {});
      req.once("response", (h) => {
        const status = Number(h[":status"]);
        done(status === 200 ? { served: 200 } : { other: `status ${status}` });
      });
    });
  } finally {
    session.destroy();
    socket.destroy();
  }
}

/** A hostile HBONE server presenting the case's certificate; the real pool connects to it. */
async function probePool(
  c: TlsCase,
  m: Material | undefined,
): Promise<{ observed: Observed; counted: number }> {
  assert.ok(m !== undefined, "a server always presents a certificate");
  const accepted = new Set<net.Socket>();
  const server = tls.createServer({
    cert: m.certChainPem,
    key: m.keyPem,
    ALPNProtocols: [...(c.server?.alpn ?? ["h2"])],
    minVersion: c.server?.maxVersion ?? "TLSv1.3",
    maxVersion: c.server?.maxVersion ?? "TLSv1.3",
  });
  server.on("connection", (s: net.Socket) => {
    accepted.add(s);
    s.on("error", () => {});
    s.once("close", () => accepted.delete(s));
  });
  server.on("tlsClientError", () => {});
  server.on("secureConnection", (s: tls.TLSSocket) => s.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const pool = new HbonePool({ connectTimeoutMs: DEADLINE_MS });
  // The client side's revocation list is node-a's, filled by the pushed trust bundle.
  const source: WorkloadCredential = { ...mesh.clientCred, revoked: mesh.a.zt.certs.revocations };
  let observed: Observed;
  try {
    const stream = await pool.connect({
      source,
      dstAddress: { host: "127.0.0.1", port },
      expectedIdentities: [SERVER_ID],
      authority: `${SERVER_IP}:${mesh.echoPort}`,
    });
    stream.destroy();
    observed = { other: "connected" };
  } catch (e) {
    observed = isHboneError(e) ? { refused: e.code } : { other: String(e) };
  }
  const counted = pool.stats.handshakeErrors;
  await pool.close(0);
  for (const s of accepted) s.destroy();
  server.close();
  return { observed, counted };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runCase(c: TlsCase): Promise<void> {
  const m = material.get(c);
  if (c.target === "hbone-client-tls") {
    const { observed, counted } = await probePool(c, m);
    assert.deepEqual(observed, c.expect, c.name);
    assert.equal(counted, 1, "the pool counts exactly one handshake error");
    return;
  }
  const code = c.counted ?? ("refused" in c.expect ? c.expect.refused : undefined);
  const before = code === undefined ? 0 : await inboundRejections(code);
  const observed = await probe15008(c, m);
  assert.deepEqual(observed, c.expect, c.name);
  if (code !== undefined) {
    await until(
      async () => (await inboundRejections(code)) === before + 1,
      `${code} counted once by the ztunnel`,
    );
  }
}

corpusCategory(
  "15008 client certificates",
  () => mesh,
  TLS_CASES.filter((c) => c.target === "15008-tls"),
  runCase,
);
corpusCategory(
  "HBONE client: hostile server certificates",
  () => mesh,
  TLS_CASES.filter((c) => c.target === "hbone-client-tls"),
  runCase,
);
