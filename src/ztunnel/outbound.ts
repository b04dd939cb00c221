/**
 * Outbound connections: captured on 15001 (original destination from the socket) or explicit on
 * SOCKS5 15080. The route comes from `decideOutbound`; this file only executes it: HBONE through
 * the pool presenting the source workload's certificate, or a plain TCP connection for
 * passthrough/monitor traffic. One access record and one set of metrics per connection.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { buildBaggage, buildForwarded, formatTraceParent, newTraceParent } from "../hbone/headers.js";
import { isRefusedStream } from "../hbone/pool.js";
import { pipeBoth } from "../hbone/splice.js";
import { tracer } from "../telemetry/trace.js";
import { canonicalIp, hostPort } from "./addresses.js";
import { type ProxyContext, spiffe, track } from "./context.js";
import { decideOutbound, type OutboundDecision } from "./decide-outbound.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";
import { connectionLabels } from "./labels.js";
import { SocksReply } from "./socks5.js";

const trace = tracer("outbound");

export interface OutboundEntry {
  readonly entry: "capture" | "socks5";
  readonly client: Socket;
  readonly dst: { readonly ip: string; readonly port: number };
  /** SOCKS5 answers the client once the upstream is (or is not) reachable. */
  readonly reply?: (code: SocksReply) => void;
}

/** Maps a failure to the SOCKS5 reply code (the one place SOCKS5 errors meet the wire). */
function socksReplyFor(e: unknown): SocksReply {
  const cause = (e as { cause?: unknown }).cause;
  const code =
    (e as { code?: unknown }).code === ZtunnelErrorCode.Upstream
      ? (cause as { code?: unknown } | undefined)?.code
      : (e as { code?: unknown }).code;
  const status = (e as { status?: unknown }).status;
  if (code === ZtunnelErrorCode.Denied || status === 401 || status === 403) return SocksReply.NotAllowed;
  if (code === "ECONNREFUSED") return SocksReply.ConnectionRefused;
  if (code === "EHOSTUNREACH" || code === ZtunnelErrorCode.NoRoute) return SocksReply.HostUnreachable;
  if (code === "ENETUNREACH") return SocksReply.NetworkUnreachable;
  if (code === "ETIMEDOUT") return SocksReply.TtlExpired;
  return SocksReply.GeneralFailure;
}

export async function handleOutbound(ctx: ProxyContext, conn: OutboundEntry): Promise<void> {
  const connId = randomBytes(16).toString("hex");
  const srcIp = canonicalIp(conn.client.remoteAddress ?? "");
  const record = ctx.accessLog.open({
    "conn.id": connId,
    direction: "outbound",
    entry: conn.entry,
    "src.addr": hostPort(srcIp, conn.client.remotePort ?? 0),
    "dst.addr": hostPort(conn.dst.ip, conn.dst.port),
  });
  ctx.connections.observe(record, conn.client, "client");
  const decision = decideOutbound(ctx.state, { srcIp, dst: conn.dst, entry: conn.entry });
  trace.trace("decision", () => ({
    connId,
    kind: decision.kind,
    reason: "reason" in decision ? decision.reason : undefined,
  }));
  const src = decision.source;
  record.set({
    "src.workload": src?.name,
    "src.namespace": src?.namespace,
    route: decision.kind === "passthrough" && decision.monitor ? "monitor" : decision.kind,
  });
  if (src !== undefined && src.tunnel === "hbone") record.set({ "src.identity": src.identity });

  let mtls = false;
  let flags: "-" | "DENY" | "CONNECT" = "-";
  let received = 0;
  let sent = 0;
  let failure: unknown;
  let opened = false;
  const labels = (): ReturnType<typeof connectionLabels> =>
    connectionLabels({
      reporter: "source",
      source: src,
      sourceIdentity: mtls ? src?.identity : undefined,
      destination:
        decision.kind === "deny"
          ? undefined
          : (decision.destination ?? (decision.kind === "hbone" ? decision.waypoint : undefined)),
      destinationIdentity: decision.kind === "hbone" && mtls ? decision.expectedIdentities[0] : undefined,
      service: decision.kind === "deny" ? undefined : decision.service,
      mtls,
      responseFlags: flags,
    });
  ctx.metrics.activeConnections.inc({ direction: "outbound" });
  try {
    if (decision.kind === "deny") {
      flags = "DENY";
      record.set({ authz: "deny", reason: decision.reason });
      throw new ZtunnelError(ZtunnelErrorCode.Denied, decision.reason);
    }
    mtls = decision.kind === "hbone";
    describeDestination(record, decision);
    ctx.metrics.tcpOpened.inc(labels());
    opened = true;
    let upstream: Duplex;
    let earlyBytes = 0;
    try {
      if (decision.kind === "hbone" && conn.reply === undefined) {
        const opened = await openWithEarlyData(ctx, decision, connId, srcIp, conn.client);
        earlyBytes = opened.earlyBytes;
        upstream = opened.stream;
      } else if (decision.kind === "hbone") {
        // A SOCKS5 client waits for our reply, so it gets the answer before it sends anything.
        const { stream, established } = await openHbone(ctx, decision, connId, srcIp);
        try {
          await established;
        } catch (e) {
          stream.destroy();
          throw e;
        }
        upstream = stream;
      } else {
        upstream = await openDirect(ctx, decision, srcIp, record);
      }
    } catch (e) {
      flags =
        (e as { status?: unknown }).status === 403 || (e as { status?: unknown }).status === 401
          ? "DENY"
          : "CONNECT";
      if (flags === "DENY") record.set({ authz: "deny" });
      throw e;
    }
    track(ctx, upstream);
    conn.reply?.(SocksReply.Succeeded);
    const r = await pipeBoth(conn.client, upstream);
    received = r.received + earlyBytes;
    sent = r.sent;
    if (r.error !== undefined && !isBenignClose(r.error)) failure = r.error;
  } catch (e) {
    failure = e;
    conn.reply?.(socksReplyFor(e));
    if (!conn.reply) conn.client.destroy();
  } finally {
    ctx.metrics.activeConnections.dec({ direction: "outbound" });
    const l = labels();
    if (!opened) ctx.metrics.tcpOpened.inc(l);
    ctx.metrics.tcpClosed.inc(l);
    if (received > 0) ctx.metrics.tcpReceivedBytes.inc(l, received);
    if (sent > 0) ctx.metrics.tcpSentBytes.inc(l, sent);
    if (failure !== undefined) {
      const code = (failure as { code?: unknown }).code;
      ctx.metrics.connectionErrors.inc({
        direction: "outbound",
        reason: typeof code === "string" ? code : "error",
      });
    }
    record.set({ "bytes.received": received, "bytes.sent": sent, security: mtls ? "mutual_tls" : "none" });
    record.finish(failure);
  }
}

function describeDestination(
  record: ReturnType<ProxyContext["accessLog"]["open"]>,
  d: Exclude<OutboundDecision, { kind: "deny" }>,
): void {
  record.set({
    "dst.workload": d.destination?.name,
    "dst.namespace": d.destination?.namespace,
    "dst.service": d.service?.hostname,
  });
  if (d.kind === "hbone") {
    record.set({
      "dst.hbone_addr": hostPort(d.target.ip, d.target.port),
      "dst.identity": d.expectedIdentities[0],
      "dst.waypoint": d.waypoint?.name,
    });
  } else {
    record.set({ reason: d.reason });
  }
}

/**
 * A captured client already believes it is connected: its first bytes ride right behind the CONNECT
 * (early data) instead of waiting a round trip for the 200; the server forwards nothing before it
 * accepts. A copy is kept until the answer: a stream refused with REFUSED_STREAM was not processed
 * (RFC 9113 §8.7 — one that crossed a draining ztunnel's GOAWAY, say), so it is opened once more,
 * on another session, with the same bytes. Later bytes wait in the client socket for the answer.
 */
async function openWithEarlyData(
  ctx: ProxyContext,
  d: Extract<OutboundDecision, { kind: "hbone" }>,
  connId: string,
  srcIp: string,
  client: Socket,
): Promise<{ stream: Duplex; earlyBytes: number }> {
  let early: Buffer | undefined;
  for (let attempt = 0; ; attempt++) {
    const { stream, established } = await openHbone(ctx, d, connId, srcIp);
    let onReadable: (() => void) | undefined;
    if (early !== undefined) stream.write(early);
    else {
      onReadable = (): void => {
        const chunk = client.read() as Buffer | null;
        if (chunk === null) return;
        client.removeListener("readable", onReadable as () => void);
        early = chunk;
        stream.write(chunk);
      };
      client.on("readable", onReadable);
      onReadable();
    }
    try {
      await established;
      return { stream, earlyBytes: early?.length ?? 0 };
    } catch (e) {
      stream.destroy();
      if (attempt === 0 && isRefusedStream(e)) continue;
      throw e;
    } finally {
      if (onReadable !== undefined) client.removeListener("readable", onReadable);
    }
  }
}

async function openHbone(
  ctx: ProxyContext,
  d: Extract<OutboundDecision, { kind: "hbone" }>,
  connId: string,
  srcIp: string,
): Promise<{ stream: Duplex; established: Promise<void> }> {
  let source: Awaited<ReturnType<ProxyContext["certs"]["get"]>>;
  try {
    source = await ctx.certs.get(spiffe(d.source.identity));
  } catch (e) {
    throw new ZtunnelError(
      ZtunnelErrorCode.Certificate,
      `no certificate for ${d.source.identity}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const { stream, established } = await ctx.pool.open({
    source,
    dstAddress: { host: d.target.ip, port: d.target.port },
    expectedIdentities: d.expectedIdentities.map(spiffe),
    authority: d.authority,
    connId,
    ...originOf(ctx, srcIp),
    headers: {
      baggage: buildBaggage({
        namespace: d.source.namespace,
        workloadName: d.source.workloadName,
        serviceName: d.source.canonicalName,
        serviceVersion: d.source.canonicalRevision,
        ...(d.source.clusterId !== "" ? { cluster: d.source.clusterId } : {}),
      }),
      forwarded: buildForwarded(srcIp),
      traceparent: formatTraceParent(newTraceParent(connId)),
    },
  });
  // splice, track and the pool each watch 'close' (errors reach them through splice).
  stream.setMaxListeners(32);
  return { stream, established };
}

/** In-pod mode: the session leaves from the source pod's netns (and is pooled per pod). */
function originOf(ctx: ProxyContext, srcIp: string): { origin?: string } {
  const origin = ctx.podNetns(srcIp);
  return origin === undefined ? {} : { origin };
}

async function openDirect(
  ctx: ProxyContext,
  d: Extract<OutboundDecision, { kind: "passthrough" }>,
  srcIp: string,
  record: ReturnType<ProxyContext["accessLog"]["open"]>,
): Promise<Duplex> {
  if (d.monitor && d.destination !== undefined && d.source !== undefined) {
    // Monitor mode: what enforcement would have decided, without enforcing it.
    const authz = ctx.authorizer.evaluate(d.destination, {
      peerIdentity: d.source.identity,
      sourceIp: srcIp,
      destinationIp: d.target.ip,
      destinationPort: d.target.port,
    });
    const verdict = authz.decision === "deny" ? "would_deny" : "allow";
    ctx.metrics.authzDecisions.inc({ direction: "outbound", decision: verdict });
    record.set({ authz: verdict, ...(authz.policy !== null ? { "authz.policy": authz.policy } : {}) });
  }
  return ctx.connectUpstream({ host: d.target.ip, port: d.target.port }, ctx.podNetns(srcIp));
}

/** A peer closing or resetting its side is how TCP connections end, not a proxy error. */
export function isBenignClose(e: Error): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return (
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "ERR_STREAM_PREMATURE_CLOSE" ||
    code === "ERR_HTTP2_STREAM_CANCEL"
  );
}
