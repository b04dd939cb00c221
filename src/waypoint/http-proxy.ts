/**
 * HTTP through the waypoint, HTTP/1.1 or HTTP/2 with prior knowledge: L7 AuthorizationPolicy,
 * routing (redirects, direct responses, faults, header changes, weighted backends), then the
 * request goes to an endpoint picked by the DestinationRule's load balancer over a kept-alive
 * upstream connection (upstream-connections.ts), with Envoy's retry semantics (retryOn, perTryTimeout, the route timeout over all attempts) and
 * fire-and-forget mirroring. Errors map to statuses here, and only here (Envoy's bodies, so clients
 * see what they would see with Istio).
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import http2 from "node:http2";
import { type Duplex, Readable } from "node:stream";
import { SpiffeId } from "../identity/spiffe.js";
import { evaluate } from "../policy/index.js";
import { applyHeaderOps, type MirrorSpec, type RouteDecision, route } from "../routing/index.js";
import { type HttpLabels, trafficLabels } from "../telemetry/metrics.js";
import { Balancers, endpointAddress, type Lease } from "./balancers.js";
import type { InboundConnection, WaypointContext } from "./context.js";
import { WaypointError, WaypointErrorCode } from "./errors.js";
import { type AttemptOutcome, backoffMs, RETRY_BUFFER_LIMIT, retriable } from "./retry-policy.js";
import { type UpstreamChoice, upstreamCandidates } from "./upstream.js";
import { UpstreamConnections } from "./upstream-connections.js";
import {
  type ExchangeFailure,
  type ExchangeRequest,
  type ExchangeResponse,
  exchange,
  flatten,
  type UpstreamProtocol,
} from "./upstream-exchange.js";

/** Largest request header block accepted (Envoy's default is 60 KiB). */
const MAX_HEADER_BYTES = 60 * 1024;
/** A mirrored request is abandoned after this long: its answer is discarded anyway. */
const MIRROR_TIMEOUT_MS = 30_000;

type InboundRequest = IncomingMessage | http2.Http2ServerRequest;

/** What both HTTP/1.1 and HTTP/2 (compatibility API) responses offer. */
interface ResponseSink extends NodeJS.WritableStream {
  readonly headersSent: boolean;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  setHeader(name: string, value: string): unknown;
  addTrailers(trailers: Record<string, string>): void;
}

/** How one attempt ended: a response to judge, a failure, or the route timeout cut it short. */
type Attempt =
  | { readonly kind: "response"; readonly response: ExchangeResponse }
  | { readonly kind: "failed"; readonly outcome: AttemptOutcome; readonly message: string }
  | { readonly kind: "route-timeout" };

export class HttpProxy {
  readonly #ctx: WaypointContext;
  readonly #server: http.Server;
  readonly #balancers: Balancers;
  readonly #upstreams: UpstreamConnections;
  readonly #conns = new WeakMap<Duplex, InboundConnection>();
  readonly #open = new Set<Duplex>();
  /** HTTP/1.1 connections whose request is in the handler: a body framing error is logged there, once. */
  readonly #busy = new WeakSet<Duplex>();

  constructor(ctx: WaypointContext) {
    this.#ctx = ctx;
    this.#balancers = new Balancers(ctx.config.rand);
    this.#upstreams = new UpstreamConnections({ open: (up) => this.#openTunnel(up) });
    this.#server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      const conn = this.#conns.get(req.socket as unknown as Duplex);
      if (conn === undefined) return send(res, 500, "connection without context\n");
      const problem = http1Problem(req);
      if (problem !== undefined) {
        this.#badRequest(conn, problem.reason, problem.status);
        res.shouldKeepAlive = false;
        return send(res, problem.status, problem.status === 501 ? "Not Implemented\n" : "Bad Request\n");
      }
      const socket = req.socket as unknown as Duplex;
      this.#busy.add(socket);
      res.once("close", () => this.#busy.delete(socket));
      this.#run(req, res, conn, "http1");
    });
    // Node's parser rejects smuggling shapes (Content-Length with Transfer-Encoding, duplicate
    // Content-Length, bad chunk framing): answer 400 and never forward a byte of it.
    this.#server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!this.#busy.has(socket))
        this.#badRequest(this.#conns.get(socket), `malformed HTTP request: ${err.code ?? err.message}`);
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
    this.#track(stream);
    this.#server.emit("connection", stream);
    // Detection paused the stream; a listener added to a paused stream does not restart the flow.
    stream.resume();
  }

  /** Serves HTTP/2 with prior knowledge (the client preface was pushed back) on a CONNECT stream. */
  serveHttp2(stream: Duplex, conn: InboundConnection): void {
    this.#track(stream);
    const server = http2.createServer(
      { maxSessionMemory: 16, settings: { maxHeaderListSize: MAX_HEADER_BYTES } },
      (req, res) => this.#run(req, res, conn, "http2"),
    );
    server.on("sessionError", () => stream.destroy());
    server.on("session", (session) => {
      session.on("error", () => {});
      stream.once("close", () => session.destroy());
    });
    server.emit("connection", stream);
    stream.resume();
  }

  close(): void {
    this.#upstreams.close();
    for (const s of this.#open) s.destroy();
  }

  /** Active requests per endpoint of a backend, as the least-request balancer counts them. */
  activeRequests(backendKey: string, loadBalancer: string): Record<string, number> {
    return this.#balancers.active(backendKey, loadBalancer);
  }

  #track(stream: Duplex): void {
    this.#open.add(stream);
    stream.once("close", () => this.#open.delete(stream));
  }

  #run(req: InboundRequest, res: ResponseSink, conn: InboundConnection, protocol: UpstreamProtocol): void {
    this.#handle(req, res, conn, protocol).catch((e: unknown) => {
      this.#ctx.logger.error({ err: e }, "HTTP handler failed");
      if (!res.headersSent) send(res, 500, "internal error\n");
      else abortResponse(res);
    });
  }

  #badRequest(conn: InboundConnection | undefined, reason: string, status = 400): void {
    const rec = this.#ctx.accessLog.open({
      "conn.id": conn?.connId,
      direction: "inbound",
      entry: "hbone",
      "src.identity": conn?.peer.toString(),
      "dst.service": conn?.service.hostname,
      reason,
      "error.code": WaypointErrorCode.BadRequest,
    });
    if (conn !== undefined) this.#count(conn, undefined, status, 0, 0, 0, "http", "");
    rec.finish();
  }

  async #handle(
    req: InboundRequest,
    res: ResponseSink,
    conn: InboundConnection,
    protocol: UpstreamProtocol,
  ): Promise<void> {
    const ctx = this.#ctx;
    const started = performance.now();
    const headers = requestHeaders(req);
    const method = req.method ?? "GET";
    const host = headers["host"] ?? conn.service.hostname;
    const target = originForm(req.url ?? "/", host);
    if (target === undefined) {
      this.#badRequest(conn, `request target ${JSON.stringify(req.url)} is not origin-form for host ${host}`);
      if (res instanceof http.ServerResponse) res.shouldKeepAlive = false;
      return send(res, 400, "Bad Request\n");
    }
    const path = target;
    const grpc = headers["content-type"]?.startsWith("application/grpc") ?? false;
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
    let grpcStatus = "";
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
      if (rd.faultInjected !== undefined) {
        // Envoy's response flags: DI = delay injected, FI = fault (abort) injected.
        const flags = [
          ...(rd.faultInjected.delayMs !== undefined ? ["DI"] : []),
          ...(rd.faultInjected.abortStatus !== undefined ? ["FI"] : []),
        ];
        rec.set({ reason: `response flags: ${flags.join(",")}` });
      }
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
      const found = upstreamCandidates(ctx.book, {
        host: dst.host,
        port: dst.port ?? conn.port,
        subsetLabels,
      });
      if (found.kind === "none") {
        status = 503;
        rec.set({ reason: found.reason, "error.code": WaypointErrorCode.NoEndpoint });
        return send(res, 503, "no healthy upstream\n");
      }
      const body = await readBody(req, RETRY_BUFFER_LIMIT);
      const out = upstreamHeaders(rd.upstream.headers, body);
      const authority = rd.upstream.authority ?? rd.upstream.headers["host"] ?? conn.service.hostname;
      const request = { method, path: rd.upstream.path, authority, headers: out, body, protocol };
      if (Buffer.isBuffer(body)) {
        reqBytes = body.length;
        for (const m of rd.mirrors) this.#mirror(m, request, conn);
      } else body.on("data", (d: Buffer) => (reqBytes += d.length));
      const result = await this.#forward(request, res, rd, found, (n) => {
        resBytes += n;
      });
      upstream = result.upstream;
      status = result.status;
      grpcStatus = result.grpcStatus;
      rec.set({
        "dst.workload": upstream.endpoint.name,
        "dst.namespace": upstream.endpoint.namespace,
        "dst.identity": upstream.endpoint.identity,
        "dst.hbone_addr": `${upstream.endpoint.ip}:${upstream.port}`,
      });
    } catch (e) {
      const err = e as WaypointError;
      status =
        err.code === WaypointErrorCode.Timeout ? 504 : err.code === WaypointErrorCode.BadRequest ? 400 : 503;
      rec.set({ reason: err.message, "error.code": err.code });
      if (!res.headersSent)
        send(
          res,
          status,
          status === 504
            ? "upstream request timeout\n"
            : "upstream connect error or disconnect/reset before headers\n",
        );
      else abortResponse(res);
    } finally {
      rec.set({ "bytes.received": reqBytes, "bytes.sent": resBytes });
      this.#count(
        conn,
        upstream,
        status,
        performance.now() - started,
        reqBytes,
        resBytes,
        grpc ? "grpc" : "http",
        grpcStatus,
      );
      rec.finish();
    }
  }

  /**
   * The attempt loop. Envoy semantics: `attempts` retries after the first try, only for outcomes
   * `retryOn` names; each try bounded by `perTryTimeout`; the route timeout bounds them all (until
   * the response headers); a body too large to buffer is never retried; a retry prefers an
   * endpoint not tried yet (Istio's `previous_hosts` predicate).
   */
  async #forward(
    request: ExchangeRequest,
    res: ResponseSink,
    rd: RouteDecision,
    found: { key: string; candidates: readonly UpstreamChoice[] },
    sent: (n: number) => void,
  ): Promise<{ status: number; grpcStatus: string; upstream: UpstreamChoice; attempts: number }> {
    const spec = rd.retries;
    const replayable = Buffer.isBuffer(request.body);
    const maxAttempts = 1 + (spec !== undefined && replayable ? Math.max(0, spec.attempts) : 0);
    const overall = new AbortController();
    const routeTimer =
      rd.timeoutMs !== undefined && rd.timeoutMs > 0
        ? setTimeout(() => overall.abort(), rd.timeoutMs)
        : undefined;
    const tried = new Set<string>();
    try {
      for (let n = 1; ; n++) {
        const lease = this.#balancers.pick(found.key, rd.loadBalancer, found.candidates, tried);
        if (lease === null)
          throw new WaypointError(WaypointErrorCode.NoEndpoint, `no endpoint left for ${found.key}`);
        tried.add(endpointAddress(lease.choice));
        const attempt = await this.#attempt(lease, request, n, spec?.perTryTimeoutMs, overall.signal);
        const last = n >= maxAttempts;
        if (attempt.kind === "route-timeout") {
          lease.release();
          throw new WaypointError(
            WaypointErrorCode.Timeout,
            `upstream did not answer within the route timeout of ${rd.timeoutMs} ms (${n} attempt(s))`,
          );
        }
        if (attempt.kind === "response") {
          const r = attempt.response;
          const grpcStatus = r.headers["grpc-status"];
          const outcome: AttemptOutcome = {
            kind: "response",
            status: r.status,
            ...(grpcStatus !== undefined ? { grpcStatus: Number(grpcStatus) } : {}),
          };
          if (last || spec === undefined || !retriable(spec, outcome)) {
            if (routeTimer !== undefined) clearTimeout(routeTimer);
            const final = await this.#commit(r, res, rd, lease, sent);
            return { status: r.status, grpcStatus: final, upstream: lease.choice, attempts: n };
          }
          r.abort();
        }
        lease.release();
        if (attempt.kind === "failed" && (last || spec === undefined || !retriable(spec, attempt.outcome)))
          throw new WaypointError(
            attempt.outcome.kind === "per-try-timeout"
              ? WaypointErrorCode.Timeout
              : WaypointErrorCode.Upstream,
            `${attempt.message} (attempt ${n} of ${maxAttempts})`,
          );
        const wait = backoffMs(n, this.#ctx.config.rand);
        if (wait > 0 && !overall.signal.aborted) await abortableSleep(wait, overall.signal);
      }
    } finally {
      if (routeTimer !== undefined) clearTimeout(routeTimer);
    }
  }

  #attempt(
    lease: Lease,
    request: ExchangeRequest,
    n: number,
    perTryTimeoutMs: number | undefined,
    overall: AbortSignal,
  ): Promise<Attempt> {
    const up = lease.choice;
    if (overall.aborted) return Promise.resolve({ kind: "route-timeout" });
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      const withCount = {
        ...request,
        // Istio sets include_request_attempt_count on its virtual hosts.
        headers: { ...request.headers, "x-envoy-attempt-count": String(n) },
      };
      const pending = exchange(this.#upstreams, up, withCount);
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        if (perTry !== undefined) clearTimeout(perTry);
        overall.removeEventListener("abort", onAbort);
        resolve(a);
      };
      const onAbort = (): void => {
        pending.abort();
        finish({ kind: "route-timeout" });
      };
      overall.addEventListener("abort", onAbort, { once: true });
      const perTry =
        perTryTimeoutMs !== undefined && perTryTimeoutMs > 0
          ? setTimeout(() => {
              pending.abort();
              finish({
                kind: "failed",
                outcome: { kind: "per-try-timeout" },
                message: `upstream ${up.endpoint.ip}:${up.port} did not answer within perTryTimeout ${perTryTimeoutMs} ms`,
              });
            }, perTryTimeoutMs)
          : undefined;
      pending.response.then(
        (response) => {
          if (settled) response.abort();
          else finish({ kind: "response", response });
        },
        (e: ExchangeFailure) =>
          finish({
            kind: "failed",
            outcome: { kind: e.reason },
            message:
              e.reason === "connect-failure"
                ? `cannot open HBONE to ${up.endpoint.ip}:${up.port} (${up.endpoint.identity}): ${e.message}`
                : `upstream ${up.endpoint.ip}:${up.port}: ${e.message}`,
          }),
      );
    });
  }

  /** Opens an HBONE stream to an endpoint with the waypoint's own certificate. */
  async #openTunnel(up: UpstreamChoice): Promise<Duplex> {
    const cred = this.#ctx.credential();
    if (cred === undefined)
      throw new WaypointError(WaypointErrorCode.Certificate, "the waypoint has no certificate yet");
    return this.#ctx.pool.connect({
      source: cred,
      dstAddress: { host: up.endpoint.ip, port: 15008 },
      expectedIdentities: [SpiffeId.parse(up.endpoint.identity)],
      authority: `${up.endpoint.ip}:${up.port}`,
    });
  }

  /** Sends the chosen attempt's response to the client; resolves with its gRPC status, if any. */
  #commit(
    r: ExchangeResponse,
    res: ResponseSink,
    rd: RouteDecision,
    lease: Lease,
    sent: (n: number) => void,
  ): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      res.writeHead(r.status, applyHeaderOps(r.headers, rd.responseHeaders));
      let ended = false;
      res.once("close", () => {
        if (!ended) r.abort();
        lease.release();
      });
      r.body.on("data", (d: Buffer) => sent(d.length));
      r.body.pipe(res, { end: false });
      r.body.once("end", () => {
        ended = true;
        lease.release();
        const trailers = r.trailers();
        if (trailers !== undefined && Object.keys(trailers).length > 0) res.addTrailers(trailers);
        res.end();
        resolve(trailers?.["grpc-status"] ?? r.headers["grpc-status"] ?? "");
      });
      r.body.once("error", (e) => {
        lease.release();
        reject(e);
      });
    });
  }

  /** Envoy's request mirroring: a copy to the mirror backend, `-shadow` on the authority, answer discarded. */
  #mirror(m: MirrorSpec, request: ExchangeRequest, conn: InboundConnection): void {
    const ctx = this.#ctx;
    const subsetLabels = m.subset === undefined ? undefined : ctx.l7().subsets.get(`${m.host}|${m.subset}`);
    if (m.subset !== undefined && subsetLabels === undefined) return;
    const found = upstreamCandidates(ctx.book, { host: m.host, port: m.port ?? conn.port, subsetLabels });
    if (found.kind === "none") return;
    const lease = this.#balancers.pick(found.key, null, found.candidates);
    if (lease === null) return;
    const shadow = { ...request, authority: shadowAuthority(request.authority) };
    const pending = exchange(this.#upstreams, lease.choice, shadow);
    let response: ExchangeResponse | undefined;
    const timer = setTimeout(() => {
      if (response !== undefined) response.abort();
      else pending.abort();
    }, MIRROR_TIMEOUT_MS);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      lease.release();
    };
    pending.response
      .then((r) => {
        response = r;
        r.body.once("close", done);
        r.body.resume();
      })
      .catch((e: Error) => {
        done();
        ctx.logger.debug({ mirror: m.backend, err: e.message }, "mirrored request failed");
      });
  }

  #count(
    conn: InboundConnection,
    up: UpstreamChoice | undefined,
    status: number,
    ms: number,
    reqBytes: number,
    resBytes: number,
    protocol: "http" | "grpc",
    grpcStatus: string,
  ): void {
    const m = this.#ctx.metrics;
    const peer = conn.peer.toString();
    const e = up?.endpoint;
    const app = e?.labels["app"];
    const version = e?.labels["version"];
    // Every fact the labels are made of, so one key never stands for two label sets.
    const key = [
      peer,
      conn.service.hostname,
      conn.service.name,
      conn.service.namespace,
      e?.name,
      e?.namespace,
      e?.identity,
      app,
      version,
      protocol,
      status,
      grpcStatus,
    ].join("\u0000");
    const labels = (): HttpLabels => ({
      ...trafficLabels({
        reporter: "waypoint",
        source_principal: peer,
        source_workload_namespace: conn.peer.namespace,
        destination_service: conn.service.hostname,
        destination_service_name: conn.service.name,
        destination_service_namespace: conn.service.namespace,
        destination_workload: e?.name,
        destination_workload_namespace: e?.namespace,
        destination_principal: e?.identity,
        destination_app: app,
        destination_version: version,
        request_protocol: protocol,
        connection_security_policy: "mutual_tls",
      }),
      response_code: String(status),
      grpc_response_status: grpcStatus,
    });
    m.requests.inc(key, labels);
    m.requestDuration.observe(key, labels, ms);
    m.requestBytes.observe(key, labels, reqBytes);
    m.responseBytes.observe(key, labels, resBytes);
  }
}

/**
 * What Node's HTTP/1.1 parser lets through but a proxy must refuse before forwarding (RFC 9112):
 * HTTP/0.9 and unknown versions, more than one Host, and transfer codings other than `chunked`
 * (501, as RFC 9112 §6.1 and Envoy's codec answer), which a backend could frame differently.
 */
function http1Problem(req: IncomingMessage): { status: number; reason: string } | undefined {
  if (req.httpVersion !== "1.1" && req.httpVersion !== "1.0")
    return { status: 400, reason: `HTTP version ${req.httpVersion} is not served` };
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === "host") hosts++;
  if (hosts > 1) return { status: 400, reason: `${hosts} Host headers (RFC 9112 §3.2 allows one)` };
  const te = req.headers["transfer-encoding"];
  if (te !== undefined && te.trim().toLowerCase() !== "chunked")
    return { status: 501, reason: `transfer-encoding ${JSON.stringify(te)} is not supported (only chunked)` };
  return undefined;
}

/** Request headers as one string each; HTTP/2's `:authority` becomes `host` (as Envoy exposes it). */
function requestHeaders(req: InboundRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k.startsWith(":")) continue;
    out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  const authority = req.headers[":authority"];
  if (typeof authority === "string" && out["host"] === undefined) out["host"] = authority;
  return out;
}

/**
 * The path to route on. Absolute-form (RFC 9112 §3.2.2) is accepted only for the Host the request
 * names, so a client cannot use the waypoint as a forward proxy to another host; any other
 * non-origin form is refused.
 */
function originForm(target: string, host: string): string | undefined {
  if (target.startsWith("/")) return target;
  const m = /^https?:\/\/([^/?#]+)([/?][^#]*)?$/i.exec(target);
  if (m === null) return undefined;
  if ((m[1] ?? "").toLowerCase() !== host.toLowerCase()) return undefined;
  const rest = m[2] ?? "/";
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** Envoy appends `-shadow` to the host of a mirrored request's authority (before any port). */
export function shadowAuthority(authority: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(authority);
  return `${m?.[1] ?? authority}-shadow${m?.[2] ?? ""}`;
}

/** Headers for the upstream: no hop-by-hop, no Host (the exchange sets the authority), body framing redone. */
function upstreamHeaders(h: Record<string, string>, body: Buffer | Readable): Record<string, string> {
  const out = flatten(h);
  const hadLength = out["content-length"] !== undefined;
  delete out["host"];
  delete out["content-length"];
  if (Buffer.isBuffer(body) && (body.length > 0 || hadLength)) out["content-length"] = String(body.length);
  return out;
}

/**
 * Reads the request body for re-sending on retry, up to `limit` bytes; a longer body continues as a
 * stream (sent once, never retried).
 */
function readBody(req: Readable, limit: number): Promise<Buffer | Readable> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("error", onError);
    };
    const onData = (d: Buffer): void => {
      chunks.push(d);
      size += d.length;
      if (size <= limit) return;
      cleanup();
      req.pause();
      const head = Buffer.concat(chunks);
      resolve(
        Readable.from(
          (async function* () {
            yield head;
            for await (const c of req) yield c as Buffer;
          })(),
        ),
      );
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error): void => {
      cleanup();
      // A framing error (bad chunk size…) surfaces here; nothing was sent upstream yet.
      reject(
        new WaypointError(WaypointErrorCode.BadRequest, `malformed request body: ${e.message}`, { cause: e }),
      );
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
  });
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function abortResponse(res: ResponseSink): void {
  if (res instanceof http2.Http2ServerResponse) res.stream.destroy();
  else (res as http.ServerResponse).destroy();
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

function send(res: ResponseSink, status: number, body: string): void {
  if (!res.headersSent)
    res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
