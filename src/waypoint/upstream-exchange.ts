/**
 * One HTTP exchange with an endpoint over its kept-alive upstream connections (upstream-connections.ts):
 * HTTP/1.1 or HTTP/2 with prior knowledge (a stream of the endpoint's session; trailers kept, so gRPC
 * passes through). Resolves at the response headers so the caller can still decide to retry;
 * rejects with an `ExchangeFailure` telling how it failed.
 */
import http from "node:http";
import http2 from "node:http2";
import type { Readable } from "node:stream";
import type { UpstreamChoice } from "./upstream.js";
import { UpstreamConnectError, type UpstreamConnections } from "./upstream-connections.js";

export type UpstreamProtocol = "http1" | "http2";

export interface ExchangeRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** Lower-case names; hop-by-hop, `host` and pseudo headers already removed. */
  readonly headers: Readonly<Record<string, string>>;
  /** A Buffer (whole body, re-sendable) or a stream read once. */
  readonly body: Buffer | Readable;
  readonly protocol: UpstreamProtocol;
}

export interface ExchangeResponse {
  readonly status: number;
  /** Hop-by-hop headers removed. */
  readonly headers: Record<string, string>;
  readonly body: Readable;
  /** Trailers, once the body ended (HTTP/2 only). */
  trailers(): Record<string, string> | undefined;
  /** Abandons the exchange (a retried attempt, a timeout, a client that went away). */
  abort(): void;
}

export type ExchangeFailureReason = "connect-failure" | "reset" | "refused-stream";

export class ExchangeFailure extends Error {
  readonly reason: ExchangeFailureReason;
  constructor(reason: ExchangeFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

export function flatten(
  h: Readonly<Record<string, string | string[] | number | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(":") || HOP_BY_HOP.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}

function sendBody(body: Buffer | Readable, sink: NodeJS.WritableStream & { end(b?: Buffer): unknown }): void {
  if (Buffer.isBuffer(body)) sink.end(body.length > 0 ? body : undefined);
  else body.pipe(sink);
}

/** An exchange under way: its response (at the headers), or abandon it. */
export interface PendingExchange {
  readonly response: Promise<ExchangeResponse>;
  abort(): void;
}

/** Abandoning an exchange resets its stream: the error marks the socket as not reusable. */
const abandoned = (): Error => new Error("exchange abandoned by the waypoint");

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export function exchange(
  conns: UpstreamConnections,
  up: UpstreamChoice,
  req: ExchangeRequest,
): PendingExchange {
  return req.protocol === "http2" ? exchangeH2(conns, up, req) : exchangeH1(conns, up, req);
}

function connectFailure(e: unknown): ExchangeFailure {
  const err = e as Error;
  return new ExchangeFailure("connect-failure", `cannot open HBONE: ${err.message}`, { cause: err });
}

function exchangeH1(conns: UpstreamConnections, up: UpstreamChoice, req: ExchangeRequest): PendingExchange {
  const headers: Record<string, string> = { ...req.headers, host: req.authority };
  if (!Buffer.isBuffer(req.body)) headers["transfer-encoding"] = "chunked";
  let current: http.ClientRequest | undefined;
  let aborted = false;
  const response = new Promise<ExchangeResponse>((resolve, reject) => {
    const send = (retryingStale: boolean): void => {
      const upReq = http.request({
        agent: conns.agent(up),
        host: up.endpoint.ip,
        port: up.port,
        method: req.method,
        path: req.path,
        headers,
      });
      current = upReq;
      let responded = false;
      upReq.on("error", (e) => {
        // After the headers, the response body reports failures; the exchange is settled.
        if (responded) return;
        if (aborted) return reject(new ExchangeFailure("reset", "exchange abandoned"));
        if (e instanceof UpstreamConnectError) return reject(connectFailure(e));
        // The pod closed a kept-alive connection as the request went out on it: nothing was
        // processed, so an idempotent request goes again once on another connection.
        if (upReq.reusedSocket && !retryingStale && Buffer.isBuffer(req.body) && IDEMPOTENT.has(req.method))
          return send(true);
        reject(
          new ExchangeFailure("reset", `upstream reset before response headers: ${e.message}`, { cause: e }),
        );
      });
      upReq.on("response", (res) => {
        responded = true;
        res.on("error", () => {});
        resolve({
          status: res.statusCode ?? 502,
          headers: flatten(res.headers),
          body: res,
          trailers: () => undefined,
          abort: () => upReq.destroy(abandoned()),
        });
      });
      sendBody(req.body, upReq);
    };
    send(false);
  });
  return {
    response,
    abort: () => {
      aborted = true;
      current?.destroy(abandoned());
    },
  };
}

function exchangeH2(conns: UpstreamConnections, up: UpstreamChoice, req: ExchangeRequest): PendingExchange {
  let stream: http2.ClientHttp2Stream | undefined;
  let aborted = false;
  const abort = (): void => {
    aborted = true;
    if (stream !== undefined && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  };
  const response = conns.http2Session(up, req.authority).then(
    (session) =>
      new Promise<ExchangeResponse>((resolve, reject) => {
        if (aborted) return reject(new ExchangeFailure("reset", "exchange abandoned"));
        const headers: http2.OutgoingHttpHeaders = {
          ...req.headers,
          ":method": req.method,
          ":path": req.path,
          ":authority": req.authority,
          ":scheme": "http",
        };
        // gRPC requires `te: trailers`; it is the one TE value HTTP/2 allows.
        if (req.headers["content-type"]?.startsWith("application/grpc")) headers["te"] = "trailers";
        let s: http2.ClientHttp2Stream;
        try {
          s = session.request(headers);
        } catch (e) {
          return reject(new ExchangeFailure("reset", `upstream session unusable: ${(e as Error).message}`));
        }
        stream = s;
        let trailers: Record<string, string> | undefined;
        s.on("trailers", (t) => {
          trailers = {};
          for (const [k, v] of Object.entries(t))
            if (v !== undefined) trailers[k] = Array.isArray(v) ? v.join(", ") : String(v);
        });
        s.on("error", (e: Error) => {
          const refused = s.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
          reject(
            new ExchangeFailure(refused ? "refused-stream" : "reset", `upstream stream reset: ${e.message}`, {
              cause: e,
            }),
          );
        });
        s.once("close", () =>
          reject(
            new ExchangeFailure(
              "reset",
              `upstream stream closed before response headers (code ${s.rstCode})`,
            ),
          ),
        );
        s.on("response", (h) => {
          resolve({
            status: Number(h[":status"] ?? 502),
            headers: flatten(h),
            body: s,
            trailers: () => trailers,
            abort,
          });
        });
        sendBody(req.body, s);
      }),
    (e: unknown) => {
      throw e instanceof UpstreamConnectError ? connectFailure(e) : e;
    },
  );
  return { response, abort };
}
