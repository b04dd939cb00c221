/**
 * HTTP/1.1 through the waypoint: L7 AuthorizationPolicy, routing (redirects, direct responses,
 * faults, header changes, weighted backends, timeouts, retries on connect failure), then one HBONE
 * stream per request to the chosen endpoint with the waypoint's own certificate. Errors map to
 * statuses here, and only here (Envoy's bodies, so clients see what they would see with Istio).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { SpiffeId } from "../identity/spiffe.js";
import { evaluate } from "../policy/index.js";
import { applyHeaderOps, type RouteDecision, route } from "../routing/index.js";
import { type HttpLabels, trafficLabels } from "../telemetry/metrics.js";
import type { InboundConnection, WaypointContext } from "./context.js";
import { duplexPair } from "./duplex-pair.js";
import { WaypointError, WaypointErrorCode } from "./errors.js";
import { chooseUpstream, type UpstreamChoice } from "./upstream.js";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/** Largest request header block accepted (Envoy's default is 60 KiB). */
const MAX_HEADER_BYTES = 60 * 1024;

export class HttpProxy {
  readonly #ctx: WaypointContext;
  readonly #server: http.Server;
  readonly #conns = new WeakMap<Duplex, InboundConnection>();
  readonly #open = new Set<Duplex>();

  constructor(ctx: WaypointContext) {
    this.#ctx = ctx;
    this.#server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        ctx.logger.error({ err: e }, "HTTP handler failed");
        if (!res.headersSent) send(res, 500, "internal error\n");
        else res.destroy();
      });
    });
    // Node's parser rejects smuggling shapes (Content-Length with Transfer-Encoding, duplicate
    // Content-Length, bad chunk framing): answer 400 and never forward a byte of it.
    this.#server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
      const conn = this.#conns.get(socket);
      const rec = ctx.accessLog.open({
        "conn.id": conn?.connId,
        direction: "inbound",
        entry: "hbone",
        "src.identity": conn?.peer.toString(),
        "dst.service": conn?.service.hostname,
        reason: `malformed HTTP request: ${err.code ?? err.message}`,
        "error.code": WaypointErrorCode.BadRequest,
      });
      if (conn !== undefined) this.#count(conn, undefined, 400, 0, 0, 0);
      rec.finish();
      if (socket.writable)
        socket.end(
          "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 12\r\n\r\nBad Request\n",
        );
      else socket.destroy();
    });
  }

  /** Serves HTTP/1.1 on a CONNECT stream whose first bytes were pushed back already. */
  serve(stream: Duplex, conn: InboundConnection): void {
    this.#conns.set(stream, conn);
    this.#open.add(stream);
    stream.once("close", () => this.#open.delete(stream));
    this.#server.emit("connection", stream);
    // Detection paused the stream; a listener added to a paused stream does not restart the flow.
    stream.resume();
  }

  close(): void {
    for (const s of this.#open) s.destroy();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = this.#ctx;
    const conn = this.#conns.get(req.socket as unknown as Duplex);
    if (conn === undefined) return send(res, 500, "connection without context\n");
    const started = performance.now();
    const headers = flatHeaders(req);
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const host = headers["host"] ?? conn.service.hostname;
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
    });
    let status = 0;
    let upstream: UpstreamChoice | undefined;
    let reqBytes = 0;
    let resBytes = 0;
    try {
      const l7 = ctx.l7();
      const decision = evaluate(l7.policies, {
        enforcement: "waypoint",
        source: {
          principal: conn.peer.toString(),
          namespace: conn.peer.namespace,
          ip: conn.peerIp,
          mtls: true,
        },
        destination: {
          namespace: conn.service.namespace,
          labels: {},
          service: conn.service.name,
          waypoint: `${ctx.config.namespace}/${ctx.config.name}`,
          ip: conn.vip,
          port: conn.port,
        },
        http: { method, path, host, headers },
      });
      rec.set({
        authz: decision.decision,
        "authz.policy": decision.policy ?? undefined,
        "authz.rule": decision.rule === null ? undefined : String(decision.rule),
      });
      if (decision.decision === "deny") {
        status = 403;
        rec.set({ reason: decision.reason, "error.code": WaypointErrorCode.Denied });
        return send(res, 403, "RBAC: access denied\n");
      }
      const rd = route(
        l7.routes,
        {
          client: { namespace: conn.peer.namespace },
          host: conn.service.hostname,
          port: conn.port,
          method,
          path,
          headers,
        },
        ctx.config.rand,
      );
      rec.set({ route: rd.route ?? "none" });
      const early = earlyResponse(rd);
      if (early !== undefined) {
        status = early.status;
        if (early.delayMs > 0) await new Promise((r) => setTimeout(r, early.delayMs));
        if (early.location !== undefined) res.setHeader("location", early.location);
        return send(res, early.status, early.body);
      }
      if (rd.faultInjected?.delayMs !== undefined)
        await new Promise((r) => setTimeout(r, rd.faultInjected?.delayMs));
      const dst = rd.destination ?? { host: conn.service.hostname };
      const subsetLabels = dst.subset === undefined ? undefined : l7.subsets.get(`${dst.host}|${dst.subset}`);
      if (dst.subset !== undefined && subsetLabels === undefined) {
        status = 503;
        rec.set({ reason: `subset ${dst.subset} of ${dst.host} is not defined` });
        return send(res, 503, "no healthy upstream\n");
      }
      const choice = chooseUpstream(
        ctx.book,
        { host: dst.host, port: dst.port ?? conn.port, subsetLabels },
        (k, n) => ctx.next(k, n),
      );
      if (choice.kind === "none") {
        status = 503;
        rec.set({ reason: choice.reason, "error.code": WaypointErrorCode.NoEndpoint });
        return send(res, 503, "no healthy upstream\n");
      }
      upstream = choice.choice;
      rec.set({
        "dst.workload": upstream.endpoint.name,
        "dst.namespace": upstream.endpoint.namespace,
        "dst.identity": upstream.endpoint.identity,
        "dst.hbone_addr": `${upstream.endpoint.ip}:${upstream.port}`,
      });
      const result = await this.#forward(
        req,
        res,
        rd,
        upstream,
        conn,
        (n) => {
          reqBytes += n;
        },
        (n) => {
          resBytes += n;
        },
      );
      status = result;
    } catch (e) {
      const err = e as WaypointError;
      status = err.code === WaypointErrorCode.Timeout ? 504 : 503;
      rec.set({ reason: err.message, "error.code": err.code });
      if (!res.headersSent)
        send(res, status, status === 504 ? "upstream request timeout\n" : "upstream connect error\n");
      else res.destroy();
    } finally {
      rec.set({ "bytes.received": reqBytes, "bytes.sent": resBytes });
      this.#count(conn, upstream, status, performance.now() - started, reqBytes, resBytes);
      rec.finish();
    }
  }

  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    rd: RouteDecision,
    up: UpstreamChoice,
    conn: InboundConnection,
    received: (n: number) => void,
    sent: (n: number) => void,
  ): Promise<number> {
    const ctx = this.#ctx;
    const cred = ctx.credential();
    if (cred === undefined)
      throw new WaypointError(WaypointErrorCode.Certificate, "the waypoint has no certificate yet");
    const attempts = 1 + Math.max(0, rd.retries?.attempts ?? 0);
    const retryConnect = rd.retries?.retryOn.some((r) => r === "connect-failure" || r === "5xx") ?? false;
    let stream: Duplex | undefined;
    let lastError: unknown;
    // Only connection failures are retried: the request body has not been read yet, so it can still go out whole.
    for (let i = 0; i < (retryConnect ? attempts : 1) && stream === undefined; i++) {
      try {
        stream = await ctx.pool.connect({
          source: cred,
          dstAddress: { host: up.endpoint.ip, port: 15008 },
          expectedIdentities: [SpiffeId.parse(up.endpoint.identity)],
          authority: `${up.endpoint.ip}:${up.port}`,
          connId: conn.connId,
        });
      } catch (e) {
        lastError = e;
      }
    }
    if (stream === undefined)
      throw new WaypointError(
        WaypointErrorCode.Upstream,
        `cannot open HBONE to ${up.endpoint.ip}:${up.port} (${up.endpoint.identity}): ${(lastError as Error)?.message}`,
        { cause: lastError },
      );
    const tunnel = stream;
    tunnel.on("error", () => {});
    // Node's HTTP client corks the header block and the body into one writev; an HTTP/2 stream
    // mangled the header bytes of such a write here (seen with POST bodies). Through an in-memory
    // pair every chunk reaches the tunnel as a plain write.
    const [s, far] = duplexPair();
    far.on("error", () => {});
    s.on("error", () => {});
    far.pipe(tunnel);
    tunnel.pipe(far);
    tunnel.once("close", () => far.destroy());
    far.once("close", () => tunnel.destroy());
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(rd.upstream.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
    if (rd.upstream.authority !== undefined) out["host"] = rd.upstream.authority;
    // One HBONE stream per request: `close` makes the upstream end it, so the stream finishes with END_STREAM.
    out["connection"] = "close";
    if (req.headers["transfer-encoding"] !== undefined) out["transfer-encoding"] = "chunked";
    return new Promise<number>((resolve, reject) => {
      const upReq = http.request({
        method: req.method,
        path: rd.upstream.path,
        headers: out,
        createConnection: () => s as never,
      });
      let timer: NodeJS.Timeout | undefined;
      if (rd.timeoutMs !== undefined && rd.timeoutMs > 0) {
        timer = setTimeout(() => {
          upReq.destroy(
            new WaypointError(WaypointErrorCode.Timeout, `upstream did not answer within ${rd.timeoutMs} ms`),
          );
        }, rd.timeoutMs);
      }
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
      };
      upReq.on("error", (e) => {
        done();
        s.destroy();
        reject(
          e instanceof WaypointError
            ? e
            : new WaypointError(
                WaypointErrorCode.Upstream,
                `upstream ${up.endpoint.ip}:${up.port}: ${e.message}`,
                {
                  cause: e,
                },
              ),
        );
      });
      upReq.on("response", (upRes) => {
        done();
        const status = upRes.statusCode ?? 502;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(upRes.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k)) continue;
          headers[k] = Array.isArray(v) ? v.join(", ") : v;
        }
        const final = applyHeaderOps(headers, rd.responseHeaders);
        res.writeHead(status, final);
        upRes.on("data", (d: Buffer) => sent(d.length));
        upRes.pipe(res);
        upRes.once("end", () => resolve(status));
        upRes.once("error", (e) => reject(e));
      });
      // Counting starts with the pipe: a data listener added earlier would let the body flow away unread.
      req.on("data", (d: Buffer) => received(d.length));
      req.pipe(upReq);
    });
  }

  #count(
    conn: InboundConnection,
    up: UpstreamChoice | undefined,
    status: number,
    ms: number,
    reqBytes: number,
    resBytes: number,
  ): void {
    const m = this.#ctx.metrics;
    const labels: HttpLabels = {
      ...trafficLabels({
        reporter: "waypoint",
        source_principal: conn.peer.toString(),
        source_workload_namespace: conn.peer.namespace,
        destination_service: conn.service.hostname,
        destination_service_name: conn.service.name,
        destination_service_namespace: conn.service.namespace,
        destination_workload: up?.endpoint.name,
        destination_workload_namespace: up?.endpoint.namespace,
        destination_principal: up?.endpoint.identity,
        destination_app: up?.endpoint.labels["app"],
        destination_version: up?.endpoint.labels["version"],
        request_protocol: "http",
        connection_security_policy: "mutual_tls",
      }),
      response_code: String(status),
      grpc_response_status: "",
    };
    m.requests.inc(labels);
    m.requestDuration.observe(labels, ms);
    m.requestBytes.observe(labels, reqBytes);
    m.responseBytes.observe(labels, resBytes);
  }
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function earlyResponse(
  rd: RouteDecision,
): { status: number; body: string; location?: string; delayMs: number } | undefined {
  const delayMs = rd.faultInjected?.delayMs ?? 0;
  if (rd.faultInjected?.abortStatus !== undefined)
    return { status: rd.faultInjected.abortStatus, body: "fault filter abort\n", delayMs };
  if (rd.redirect !== null)
    return { status: rd.redirect.status, body: "", location: rd.redirect.location, delayMs };
  if (rd.directResponse !== undefined)
    return { status: rd.directResponse.status, body: rd.directResponse.body ?? "", delayMs };
  if (rd.destination === null && rd.route !== null)
    return { status: rd.status, body: `${rd.reason}\n`, delayMs };
  return undefined;
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
