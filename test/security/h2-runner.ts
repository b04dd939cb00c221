/**
 * Runs HTTP/2 corpus cases against a real ztunnel's HBONE listener: one fresh mTLS connection per
 * case, the case's bytes, then the first decisive answer read off the wire.
 */

import type { H2Case, H2Outcome, MeshAddresses } from "./corpus/types.js";
import {
  errorName,
  Flag,
  FrameType,
  firstStatus,
  type H2ErrorName,
  ping,
  type RawExchange,
  RawH2Client,
} from "./h2-wire.js";
import type { SecurityMesh } from "./mesh.js";
import { SERVER_IP } from "./mesh.js";

/** The observed outcome, or `silent` when the server neither answered nor closed (a hang). */
export type Observed = H2Outcome | { readonly silent: true };

/** A hang guard: a correct server answers every case within milliseconds. */
const ANSWER_DEADLINE_MS = 15_000;

export function meshAddresses(m: SecurityMesh): MeshAddresses {
  return {
    good: `${SERVER_IP}:${m.echoPort}`,
    serverIp: SERVER_IP,
    echoPort: m.echoPort,
    hbonePort: m.hbonePort,
    nodeIp: m.b.host,
    nodeAdminPort: m.b.port("admin"),
  };
}

/**
 * The strongest answer received: a connection error outranks a stream error, which outranks a
 * response (a flood may be answered on early streams before the session is ended).
 */
function decisive(ex: RawExchange, upTo: "goaway" | "rst" | "status" = "status"): H2Outcome | undefined {
  const first = (type: number, stream: boolean) =>
    ex.frames.find((f) => f.type === type && (stream ? f.stream > 0 : true));
  const g = first(FrameType.GOAWAY, false);
  if (g !== undefined) return { goaway: errorName(g.payload.readUInt32BE(4)) as H2ErrorName };
  if (upTo === "goaway") return undefined;
  const r = first(FrameType.RST_STREAM, true);
  if (r !== undefined) return { rst: errorName(r.payload.readUInt32BE(0)) as H2ErrorName };
  if (upTo === "rst") return undefined;
  const h = first(FrameType.HEADERS, true);
  if (h !== undefined) return { status: firstStatus(h.payload) ?? -1 };
  return undefined;
}

/** How strong an answer to wait for: a weaker one may come first and is not the outcome. */
function awaited(expect: H2Outcome): "goaway" | "rst" | "status" {
  if ("goaway" in expect || "closed" in expect) return "goaway";
  if ("rst" in expect) return "rst";
  return "status";
}

function pingAcked(ex: RawExchange, probe: Buffer): boolean {
  return ex.frames.some(
    (f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(probe),
  );
}

export async function runH2Case(m: SecurityMesh, c: H2Case): Promise<Observed> {
  const cred = c.as === "intruder" ? m.intruderCred : m.clientCred;
  const client = await RawH2Client.connect({
    host: SERVER_IP,
    port: m.hbonePort,
    tls: { cert: cred.certChainPem, key: cred.keyPem, ca: cred.rootsPem },
    ...(c.preface === false ? { preface: false as const } : {}),
  });
  try {
    if (c.preface !== false) {
      // Like a real client, start once the server's SETTINGS are in (and ACKed): its limits apply.
      await client.until(
        (ex) => ex.frames.some((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0),
        ANSWER_DEADLINE_MS,
      );
    }
    client.write(c.input(meshAddresses(m)));
    if ("alive" in c.expect) {
      // Two PING round trips: anything the server had to say about the case's frames was written
      // before it read the second PING.
      for (const text of ["probe-01", "probe-02"]) {
        const probe = Buffer.from(text);
        client.write(ping(probe));
        await client.until(
          (ex) => decisive(ex) !== undefined || ex.closedByPeer || pingAcked(ex, probe),
          ANSWER_DEADLINE_MS,
        );
      }
    } else {
      const upTo = awaited(c.expect);
      await client.until((ex) => decisive(ex, upTo) !== undefined || ex.closedByPeer, ANSWER_DEADLINE_MS);
    }
    const ex = client.exchange;
    const d = decisive(ex);
    if (d !== undefined) return d;
    if (ex.closedByPeer) return { closed: true };
    if (pingAcked(ex, Buffer.from("probe-02"))) return { alive: true };
    return { silent: true };
  } finally {
    client.destroy();
    await client.closed;
  }
}
