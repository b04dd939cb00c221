/**
 * Inbound connections. HBONE (15008): the HBONE server terminates mTLS with the destination
 * workload's own certificate and asks `authorize` per CONNECT; the decision comes from
 * `decideInbound` and is mapped to an HTTP status here (the one place for HBONE). Plaintext
 * (15006): allowed only where no policy refuses a connection without a peer identity
 * (PeerAuthentication PERMISSIVE — Istio's default; STRICT arrives as such a policy).
 * Metrics are reported with reporter="destination"; one access record per CONNECT / connection.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { parseForwarded } from "../hbone/headers.js";
import type { ConnectDecision, ConnectRecord, ConnectRequest, HboneServer } from "../hbone/server.js";
import { pipeBoth } from "../hbone/splice.js";
import type { AccessRecord } from "../telemetry/access-log.js";
import { tracer } from "../telemetry/trace.js";
import { canonicalIp, hostPort } from "./addresses.js";
import { type ProxyContext, spiffe, track } from "./context.js";
import { decideInbound, type InboundDecision } from "./decide-inbound.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";
import { connectionLabels } from "./labels.js";
import { isBenignClose } from "./outbound.js";
import type { WorkloadInfo } from "./state.js";

const trace = tracer("inbound");

interface PendingConnect {
  readonly record: AccessRecord;
  readonly source: WorkloadInfo | undefined;
  readonly peer: string;
  readonly destination: WorkloadInfo | undefined;
  flags: "-" | "DENY" | "CONNECT";
}

/** The HBONE server callbacks of one ztunnel; `onConnectDone` closes what `authorize` opened. */
export class HboneInbound {
  readonly #ctx: ProxyContext;
  // Keyed by connection id (the CONNECT's trace id); a list, as a client may reuse a trace id.
  readonly #pending = new Map<string, PendingConnect[]>();

  constructor(ctx: ProxyContext) {
    this.#ctx = ctx;
  }

  /** The certificate to present for a connection to `dstAddress`: that local workload's own. */
  credentialFor(dstAddress: string): ReturnType<ProxyContext["certs"]["current"]> {
    const w = this.#ctx.state.workloadByIp(dstAddress);
    if (w === undefined || !this.#ctx.state.isLocal(w) || w.tunnel !== "hbone") return undefined;
    const id = spiffe(w.identity);
    const cred = this.#ctx.certs.current(id);
    if (cred === undefined) {
      // Not fetched yet (a workload that just arrived): fetch for the next attempt.
      this.#ctx.certs.get(id).catch(() => {});
    }
    return cred;
  }

  authorize(req: ConnectRequest): ConnectDecision {
    const ctx = this.#ctx;
    const peer = req.peer.toString();
    const remote = canonicalIp(req.remoteAddress);
    // The source pod's address rides in `forwarded`; it is believed only when the workload at that
    // address has the identity the certificate proved (a header never grants anything by itself).
    const fwd = parseForwarded(req.headers.forwarded);
    const fwdWorkload = fwd === undefined ? undefined : ctx.state.workloadByIp(fwd);
    const source = fwdWorkload !== undefined && fwdWorkload.identity === peer ? fwdWorkload : undefined;
    const peerIp = source !== undefined && fwd !== undefined ? canonicalIp(fwd) : remote;
    const target = { ip: canonicalIp(req.target.host), port: req.target.port };
    const record = ctx.accessLog.open({
      "conn.id": req.connId,
      direction: "inbound",
      entry: "hbone",
      "src.addr": peerIp,
      "src.identity": peer,
      "src.workload": source?.name,
      "src.namespace": source?.namespace,
      "dst.addr": hostPort(target.ip, target.port),
      "dst.hbone_addr": hostPort(req.localAddress.address, req.localAddress.port),
      "dst.identity": req.localIdentity.toString(),
      security: "mutual_tls",
    });
    let decision: InboundDecision;
    if (canonicalIp(req.localAddress.address) !== target.ip) {
      // The certificate presented was chosen by the dialled address; the tunnel may only lead there.
      decision = {
        kind: "deny",
        status: 403,
        code: "ZT_ERR_NOT_LOCAL",
        reason: `CONNECT to ${hostPort(target.ip, target.port)} arrived at ${req.localAddress.address}; HBONE targets must match the dialled workload`,
        workload: undefined,
        authz: undefined,
      };
    } else {
      decision = decideInbound(ctx.state, ctx.authorizer, { peerIdentity: peer, peerIp, target });
    }
    trace.trace("decision", () => ({ connId: req.connId, peer, target, kind: decision.kind }));
    const destination = decision.workload;
    record.set({ "dst.workload": destination?.name, "dst.namespace": destination?.namespace });
    if (decision.authz !== undefined) {
      record.set({
        authz: decision.kind === "deny" ? "deny" : decision.wouldDeny ? "would_deny" : "allow",
        "authz.policy": decision.authz.policy ?? undefined,
        "authz.rule": decision.authz.rule === null ? undefined : String(decision.authz.rule),
      });
    }
    const pending: PendingConnect = { record, source, peer, destination, flags: "-" };
    const list = this.#pending.get(req.connId);
    if (list === undefined) this.#pending.set(req.connId, [pending]);
    else list.push(pending);
    ctx.metrics.activeConnections.inc({ direction: "inbound" });
    ctx.metrics.tcpOpened.inc(this.#labels(pending));
    if (decision.kind === "deny") {
      pending.flags = "DENY";
      record.set({ authz: "deny", reason: decision.reason, "error.code": decision.code });
      ctx.metrics.authzDecisions.inc({ direction: "inbound", decision: "deny" });
      return { allow: false, status: decision.status, reason: decision.reason };
    }
    ctx.metrics.authzDecisions.inc({
      direction: "inbound",
      decision: decision.wouldDeny ? "would_deny" : "allow",
    });
    return {
      allow: true,
      connect: async (): Promise<Duplex> => {
        try {
          const upstream = await ctx.connectUpstream(
            { host: target.ip, port: target.port },
            ctx.podNetns(target.ip),
          );
          track(ctx, upstream);
          ctx.connections.observe(record, upstream, "upstream");
          return upstream;
        } catch (e) {
          pending.flags = "CONNECT";
          throw e;
        }
      },
    };
  }

  onConnectDone(r: ConnectRecord): void {
    const ctx = this.#ctx;
    const list = this.#pending.get(r.connId);
    const pending = list?.shift();
    if (list !== undefined && list.length === 0) this.#pending.delete(r.connId);
    if (pending === undefined) {
      // Refused before authorization (not CONNECT, bad authority): still one record.
      const record = ctx.accessLog.open({
        "conn.id": r.connId,
        direction: "inbound",
        entry: "hbone",
        "src.identity": r.peer,
        "dst.addr": r.target,
        security: "mutual_tls",
      });
      record.set({ reason: r.reason });
      record.finish(r.error);
      return;
    }
    const { record } = pending;
    // bytesIn = client → pod (received from the client); bytesOut = pod → client (sent).
    const labels = this.#labels(pending);
    ctx.metrics.activeConnections.dec({ direction: "inbound" });
    ctx.metrics.tcpClosed.inc(labels);
    if (r.bytesIn > 0) ctx.metrics.tcpReceivedBytes.inc(labels, r.bytesIn);
    if (r.bytesOut > 0) ctx.metrics.tcpSentBytes.inc(labels, r.bytesOut);
    record.set({ "bytes.received": r.bytesIn, "bytes.sent": r.bytesOut, reason: r.reason });
    const error = r.error !== undefined && !isBenignClose(r.error) ? r.error : undefined;
    if (error !== undefined || pending.flags === "CONNECT") {
      const code = (error as { code?: unknown } | undefined)?.code;
      ctx.metrics.connectionErrors.inc({
        direction: "inbound",
        reason: typeof code === "string" ? code : pending.flags,
      });
    }
    record.finish(error);
  }

  /** TLS-level rejections (garbage, wrong identity, no local workload): counted, logged, no record. */
  onRejected(error: { code: string; message: string }, remote: string | undefined): void {
    this.#ctx.metrics.handshakeErrors.inc({ direction: "inbound", reason: error.code });
    this.#ctx.logger.debug({ remote, code: error.code }, error.message);
  }

  #labels(p: PendingConnect): ReturnType<typeof connectionLabels> {
    return connectionLabels({
      reporter: "destination",
      source: p.source,
      sourceIdentity: p.peer,
      destination: p.destination,
      destinationIdentity: p.destination?.identity,
      service: undefined,
      mtls: true,
      responseFlags: p.flags,
    });
  }

  /** Connections that never reached onConnectDone (server closed): finish their records. */
  flush(): void {
    for (const list of this.#pending.values())
      for (const p of list) p.record.finish(new Error("ztunnel shutting down"));
    this.#pending.clear();
  }
}

export function handoffToHbone(ctx: ProxyContext, server: HboneServer, raw: Socket): void {
  let dst: { address: string; port: number };
  try {
    dst = ctx.config.originalDst?.(raw, "inbound") ?? localDst(raw);
  } catch {
    dst = localDst(raw);
  }
  server.handleConnection(raw, { address: canonicalIp(dst.address), port: dst.port });
}

function localDst(raw: Socket): { address: string; port: number } {
  return { address: canonicalIp(raw.localAddress ?? ""), port: raw.localPort ?? 0 };
}

/** 15006: plaintext from outside the mesh to a captured local workload. */
export async function handlePlaintextInbound(
  ctx: ProxyContext,
  client: Socket,
  dst: { ip: string; port: number },
): Promise<void> {
  const connId = randomBytes(16).toString("hex");
  const srcIp = canonicalIp(client.remoteAddress ?? "");
  const record = ctx.accessLog.open({
    "conn.id": connId,
    direction: "inbound",
    entry: "plaintext",
    "src.addr": hostPort(srcIp, client.remotePort ?? 0),
    "dst.addr": hostPort(dst.ip, dst.port),
    security: "none",
  });
  ctx.connections.observe(record, client, "client");
  const source = ctx.state.workloadByIp(srcIp);
  record.set({ "src.workload": source?.name, "src.namespace": source?.namespace });
  const decision = decideInbound(ctx.state, ctx.authorizer, {
    peerIdentity: undefined,
    peerIp: srcIp,
    target: dst,
  });
  const destination = decision.workload;
  record.set({
    "dst.workload": destination?.name,
    "dst.namespace": destination?.namespace,
    route: destination?.mode === "monitor" ? "monitor" : "plaintext",
  });
  let flags: "-" | "DENY" | "CONNECT" = "-";
  let received = 0;
  let sent = 0;
  let failure: unknown;
  const labels = (): ReturnType<typeof connectionLabels> =>
    connectionLabels({
      reporter: "destination",
      source,
      sourceIdentity: undefined,
      destination,
      destinationIdentity: undefined,
      service: undefined,
      mtls: false,
      responseFlags: flags,
    });
  ctx.metrics.activeConnections.inc({ direction: "inbound" });
  try {
    if (decision.authz !== undefined) {
      record.set({ "authz.policy": decision.authz.policy ?? undefined });
    }
    if (decision.kind === "deny") {
      flags = "DENY";
      record.set({ authz: "deny", reason: decision.reason, "error.code": decision.code });
      ctx.metrics.authzDecisions.inc({ direction: "inbound", decision: "deny" });
      throw new ZtunnelError(ZtunnelErrorCode.Denied, decision.reason);
    }
    const verdict = decision.wouldDeny ? "would_deny" : "allow";
    record.set({ authz: verdict });
    ctx.metrics.authzDecisions.inc({ direction: "inbound", decision: verdict });
    let upstream: Duplex;
    try {
      upstream = await ctx.connectUpstream({ host: dst.ip, port: dst.port }, ctx.podNetns(dst.ip));
    } catch (e) {
      flags = "CONNECT";
      throw e;
    }
    track(ctx, upstream);
    const r = await pipeBoth(client, upstream);
    received = r.received;
    sent = r.sent;
    if (r.error !== undefined && !isBenignClose(r.error)) failure = r.error;
  } catch (e) {
    failure = e;
    client.destroy();
  } finally {
    ctx.metrics.activeConnections.dec({ direction: "inbound" });
    const l = labels();
    ctx.metrics.tcpOpened.inc(l);
    ctx.metrics.tcpClosed.inc(l);
    if (received > 0) ctx.metrics.tcpReceivedBytes.inc(l, received);
    if (sent > 0) ctx.metrics.tcpSentBytes.inc(l, sent);
    record.set({ "bytes.received": received, "bytes.sent": sent });
    record.finish(failure);
  }
}
