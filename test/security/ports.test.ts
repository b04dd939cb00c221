/**
 * The capture-port corpus (corpus/ports.ts) against the real in-process ztunnels: garbage on
 * node-a's 15001 (captured from the client pod) and node-b's 15006 (plaintext from outside the
 * mesh), and raw bytes instead of a ClientHello on node-b's 15008. Each case asserts exactly
 * whether the bytes were forwarded as opaque TCP or the connection was closed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { after, before } from "node:test";
import { corpusCategory } from "./category.js";
import { PORT_CASES, type PortCase, type PortOutcome, type PortTarget } from "./corpus/ports.js";
import {
  CLIENT_IP,
  OUTSIDER_IP,
  REMOTE_POD_IP,
  SERVER_IP,
  type SecurityMesh,
  STRICT_IP,
  startSecurityMesh,
} from "./mesh.js";

/** A hang guard: every case is decided within milliseconds (4 MiB through HBONE in well under a second). */
const DEADLINE_MS = 30_000;
const EOF_MARK = "<EOF SEEN>";

let mesh: SecurityMesh;

before(async () => {
  mesh = await startSecurityMesh();
});

after(async () => {
  await mesh.close();
});

async function inboundHandshakeErrors(): Promise<number> {
  const m = await mesh.b.zt.metrics.handshakeErrors.get();
  return m.values
    .filter((v) => v.labels["direction"] === "inbound" && v.labels["reason"] === "HBONE_ERR_HANDSHAKE")
    .reduce((a, v) => a + v.value, 0);
}

function dial(c: PortCase): { host: string; port: number; localAddress: string } {
  const to = { server: SERVER_IP, strict: STRICT_IP, outsider: OUTSIDER_IP, permissive: REMOTE_POD_IP }[
    c.to ?? "server"
  ];
  if (c.target === "15001") {
    mesh.capture(CLIENT_IP, { address: to, port: mesh.echoPort });
    return { host: mesh.a.host, port: mesh.a.port("outbound"), localAddress: CLIENT_IP };
  }
  if (c.target === "15006") {
    mesh.capture(OUTSIDER_IP, { address: to, port: mesh.echoPort });
    // The PERMISSIVE pod without policy lives on node-a; the others on node-b.
    const node = c.to === "permissive" ? mesh.a : mesh.b;
    return { host: node.host, port: node.port("inboundPlaintext"), localAddress: OUTSIDER_IP };
  }
  return { host: SERVER_IP, port: mesh.hbonePort, localAddress: CLIENT_IP };
}

type Observed = PortOutcome | { readonly other: string };

const digest = (b: Buffer): string => createHash("sha256").update(b).digest("hex").slice(0, 16);

async function runPortCase(c: PortCase): Promise<Observed> {
  const input = c.input();
  const s = net.connect({ ...dial(c), allowHalfOpen: true });
  s.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  if (c.after === "reset") {
    if (input.length > 0) s.write(input);
    s.resetAndDestroy();
    return { reset: true };
  }
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  s.end(input);
  const timer = setTimeout(() => s.destroy(), DEADLINE_MS);
  await closed;
  clearTimeout(timer);
  const got = Buffer.concat(chunks);
  if (got.length === 0) return { closed: "silent" };
  if (got.equals(Buffer.concat([input, Buffer.from(EOF_MARK)]))) return { forwarded: true };
  if (got[0] === 0x15) return { closed: "alert" };
  return {
    other: `${got.length} bytes back (sha ${digest(got)}), sent ${input.length} (sha ${digest(input)})`,
  };
}

function category(title: string, target: PortTarget): void {
  corpusCategory(
    title,
    () => mesh,
    PORT_CASES.filter((c) => c.target === target),
    async (c) => {
      const before = c.counted === undefined ? 0 : await inboundHandshakeErrors();
      assert.deepEqual(await runPortCase(c), c.expect, `${c.target}: ${c.name}`);
      if (c.counted !== undefined) {
        const started = Date.now();
        while ((await inboundHandshakeErrors()) !== before + 1) {
          if (Date.now() - started > DEADLINE_MS) {
            assert.fail(
              `${c.counted} counted ${(await inboundHandshakeErrors()) - before} times, expected once`,
            );
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    },
  );
}

category("15001 captured outbound garbage", "15001");
category("15006 captured inbound plaintext garbage", "15006");
category("15008 raw bytes instead of a ClientHello", "15008-raw");
