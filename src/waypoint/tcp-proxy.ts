/**
 * Protocol detection on a CONNECT stream's first bytes, and the opaque-TCP path: L4
 * AuthorizationPolicy with the waypoint's view (no HTTP attributes), TCP metrics, one access
 * record, then a byte relay to one endpoint over HBONE with the waypoint's certificate.
 */
import type { Duplex } from "node:stream";
import { pipeBoth } from "../hbone/splice.js";
import { SpiffeId } from "../identity/spiffe.js";
import { evaluate } from "../policy/index.js";
import { trafficLabels } from "../telemetry/metrics.js";
import type { InboundConnection, WaypointContext } from "./context.js";
import { WaypointErrorCode } from "./errors.js";
import { policyAuthorizer } from "./mysql/authorize.js";
import { relayMysql } from "./mysql/session.js";
import { chooseUpstream } from "./upstream.js";

export type DetectedProtocol = "http1" | "http2" | "tcp";

/** The HTTP/2 client connection preface (RFC 9113 §3.4): prior knowledge starts with it. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Longest first line looked at: a request line longer than this is not treated as HTTP. */
const MAX_SNIFF_BYTES = 8192;
/**
 * A first line that names an HTTP/1 version after a method-like token is HTTP, valid or not: the
 * parser answers a malformed one with 400 rather than relaying it as opaque bytes. HTTP/0.9 (no
 * version) is not detected, as with Envoy's http_inspector, and stays opaque TCP.
 */
const HTTP1_LINE = /^[A-Z][!-~]{0,19} .*HTTP\/1/;

/** Pure: what the first bytes say, or undefined when more bytes are needed to tell. */
export function classify(head: Buffer, ended: boolean): DetectedProtocol | undefined {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) {
    if (n === HTTP2_PREFACE.length) return "http2";
    if (!ended && head.length < MAX_SNIFF_BYTES) return undefined;
  }
  const nl = head.indexOf(0x0a);
  if (nl >= 0) return HTTP1_LINE.test(head.subarray(0, nl).toString("latin1")) ? "http1" : "tcp";
  // A method token starts with an upper-case letter and ends at a space; anything else cannot become a request line.
  if (!/^[A-Z][!-~]{0,19}( [^\r\n]*)?$/.test(head.toString("latin1"))) return "tcp";
  if (ended || head.length >= MAX_SNIFF_BYTES) return "tcp";
  return undefined;
}

/**
 * Reads until the protocol is known, then pushes the bytes back so the next reader sees them all.
 * A client that stays silent (a server-first protocol) is opaque TCP after `timeoutMs`.
 */
export function detectProtocol(stream: Duplex, timeoutMs: number): Promise<DetectedProtocol> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const finish = (kind: DetectedProtocol): void => {
      clearTimeout(timer);
      stream.removeListener("data", onData);
      stream.removeListener("end", onEnd);
      stream.pause();
      if (head.length > 0) stream.unshift(head);
      resolve(kind);
    };
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const kind = classify(head, false);
      if (kind !== undefined) finish(kind);
    };
    const onEnd = (): void => finish(classify(head, true) ?? "tcp");
    const timer = setTimeout(() => finish("tcp"), timeoutMs);
    stream.on("data", onData);
    stream.once("end", onEnd);
  });
}

/**
 * `mysql`: the port speaks MySQL (see l7-config.ts); the colleague's relay judges every statement
 * with the policy engine (statement kind as the method), so no connection-level L4 check runs: an
 * ALLOW policy naming SQL methods would otherwise refuse every connection.
 */
export async function relayTcp(
  ctx: WaypointContext,
  client: Duplex,
  conn: InboundConnection,
  mode: "tcp" | "mysql" = "tcp",
): Promise<void> {
  const rec = ctx.accessLog.open({
    "conn.id": conn.connId,
    direction: "inbound",
    entry: "hbone",
    "src.addr": conn.peerIp,
    "src.identity": conn.peer.toString(),
    "src.namespace": conn.peer.namespace,
    "dst.service": conn.service.hostname,
    "dst.addr": `${conn.vip}:${conn.port}`,
    security: "mutual_tls",
    route: mode,
  });
  const base = {
    reporter: "waypoint",
    source_principal: conn.peer.toString(),
    source_workload_namespace: conn.peer.namespace,
    destination_service: conn.service.hostname,
    destination_service_name: conn.service.name,
    destination_service_namespace: conn.service.namespace,
    connection_security_policy: "mutual_tls",
  };
  let sent = 0;
  let received = 0;
  let labels = trafficLabels(base);
  const source = {
    principal: conn.peer.toString(),
    namespace: conn.peer.namespace,
    ip: conn.peerIp,
    mtls: true,
  };
  const destination = {
    namespace: conn.service.namespace,
    labels: {},
    service: conn.service.name,
    waypoint: `${ctx.config.namespace}/${ctx.config.name}`,
    ip: conn.vip,
    port: conn.port,
  };
  try {
    const decision =
      mode === "mysql"
        ? undefined
        : evaluate(ctx.l7().policies, { enforcement: "waypoint", source, destination, http: null });
    rec.set({ authz: decision?.decision, "authz.policy": decision?.policy ?? undefined });
    if (decision?.decision === "deny") {
      rec.set({ reason: decision.reason, "error.code": WaypointErrorCode.Denied });
      ctx.metrics.authzDecisions.inc({ direction: "inbound", decision: "deny" });
      client.destroy();
      return;
    }
    const choice = chooseUpstream(
      ctx.book,
      { host: conn.service.hostname, port: conn.port, subsetLabels: undefined },
      (k, n) => ctx.next(k, n),
    );
    const cred = ctx.credential();
    if (choice.kind === "none" || cred === undefined) {
      rec.set({
        reason: choice.kind === "none" ? choice.reason : "no waypoint certificate yet",
        "error.code": WaypointErrorCode.NoEndpoint,
      });
      client.destroy();
      return;
    }
    const up = choice.choice;
    labels = trafficLabels({
      ...base,
      destination_workload: up.endpoint.name,
      destination_workload_namespace: up.endpoint.namespace,
      destination_principal: up.endpoint.identity,
      destination_app: up.endpoint.labels["app"],
      destination_version: up.endpoint.labels["version"],
    });
    rec.set({ "dst.workload": up.endpoint.name, "dst.identity": up.endpoint.identity });
    const upstream = await ctx.pool.connect({
      source: cred,
      dstAddress: { host: up.endpoint.ip, port: 15008 },
      expectedIdentities: [SpiffeId.parse(up.endpoint.identity)],
      authority: `${up.endpoint.ip}:${up.port}`,
      connId: conn.connId,
    });
    upstream.on("error", () => {});
    ctx.metrics.tcpOpened.inc(labels);
    if (mode === "mysql") {
      client.on("data", (d: Buffer) => {
        received += d.length;
      });
      upstream.on("data", (d: Buffer) => {
        sent += d.length;
      });
      const session = relayMysql(client, upstream, {
        authorize: policyAuthorizer(() => ctx.l7().policies, {
          source,
          destination,
          host: conn.service.hostname,
        }),
        onStatement: (ev) => {
          ctx.metrics.authzDecisions.inc({ direction: "inbound", decision: ev.decision });
          if (ev.decision === "deny")
            ctx.logger.info(
              { "conn.id": conn.connId, method: ev.method, policy: ev.policy },
              "MySQL statement denied",
            );
        },
      });
      const end = await session.ended;
      rec.set({ reason: `${end.reason}; statements allowed ${end.allowed}, denied ${end.denied}` });
      ctx.metrics.tcpClosed.inc(labels);
      return;
    }
    // The same relay as the ztunnel's (`splice`): writes coalesced per event-loop turn (a `pipe` made
    // an HTTP/2 DATA frame of every piece the inbound TLS records cut the bytes into), half-close
    // kept, a stream its peer reset ends its direction; byte counts from the relay itself.
    const r = await pipeBoth(client, upstream);
    received = r.received;
    sent = r.sent;
    ctx.metrics.tcpClosed.inc(labels);
  } catch (e) {
    rec.set({ "error.code": WaypointErrorCode.Upstream });
    client.destroy();
    rec.finish(e);
  } finally {
    ctx.metrics.tcpSentBytes.inc(labels, sent);
    ctx.metrics.tcpReceivedBytes.inc(labels, received);
    rec.set({ "bytes.sent": sent, "bytes.received": received });
    rec.finish();
  }
}
