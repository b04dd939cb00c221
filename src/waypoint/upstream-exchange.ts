/**
 * One HTTP exchange with an endpoint over an HBONE stream the caller opened: HTTP/1.1 (one request,
 * `connection: close`) or HTTP/2 with prior knowledge (one session, one stream; trailers kept, so
 * gRPC passes through). Resolves at the response headers so the caller can still decide to retry;
 * rejects with an `ExchangeFailure` telling how it failed.
 */
import http from "node:http";
import http2 from "node:http2";
import type { Duplex, Readable } from "node:stream";
import { duplexPair } from "./duplex-pair.js";

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

export class ExchangeFailure extends Error {
  readonly reason: "reset" | "refused-stream";
  constructor(reason: "reset" | "refused-stream", message: string, options?: { cause?: unknown }) {
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

/**
 * Node's HTTP client corks the header block and the body into one writev; an HTTP/2 stream mangled
 * the header bytes of such a write here (seen with POST bodies). Through an in-memory pair every
 * chunk reaches the tunnel as a plain write.
 */
function paired(tunnel: Duplex): Duplex {
  const [s, far] = duplexPair();
  far.on("error", () => {});
  s.on("error", () => {});
  tunnel.on("error", () => {});
  far.pipe(tunnel);
  tunnel.pipe(far);
  tunnel.once("close", () => far.destroy());
  far.once("close", () => tunnel.destroy());
  return s;
}

function sendBody(body: Buffer | Readable, sink: NodeJS.WritableStream & { end(b?: Buffer): unknown }): void {
  if (Buffer.isBuffer(body)) sink.end(body.length > 0 ? body : undefined);
  else body.pipe(sink);
}

export function exchange(tunnel: Duplex, req: ExchangeRequest): Promise<ExchangeResponse> {
  return req.protocol === "http2" ? exchangeH2(tunnel, req) : exchangeH1(tunnel, req);
}

function exchangeH1(tunnel: Duplex, req: ExchangeRequest): Promise<ExchangeResponse> {
  const s = paired(tunnel);
  const headers: Record<string, string> = { ...req.headers, host: req.authority, connection: "close" };
  if (!Buffer.isBuffer(req.body)) headers["transfer-encoding"] = "chunked";
  return new Promise((resolve, reject) => {
    const upReq = http.request({
      method: req.method,
      path: req.path,
      headers,
      createConnection: () => s as never,
    });
    const abort = (): void => {
      upReq.destroy();
      s.destroy();
    };
    upReq.on("error", (e) => {
      s.destroy();
      reject(
        new ExchangeFailure("reset", `upstream reset before response headers: ${e.message}`, { cause: e }),
      );
    });
    upReq.on("response", (res) => {
      res.on("error", () => {});
      resolve({
        status: res.statusCode ?? 502,
        headers: flatten(res.headers),
        body: res,
        trailers: () => undefined,
        abort,
      });
    });
    sendBody(req.body, upReq);
  });
}

function exchangeH2(tunnel: Duplex, req: ExchangeRequest): Promise<ExchangeResponse> {
  const s = paired(tunnel);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${req.authority}`, { createConnection: () => s });
    session.on("error", () => {});
    const headers: http2.OutgoingHttpHeaders = {
      ...req.headers,
      ":method": req.method,
      ":path": req.path,
      ":authority": req.authority,
      ":scheme": "http",
    };
    // gRPC requires `te: trailers`; it is the one TE value HTTP/2 allows.
    if (req.headers["content-type"]?.startsWith("application/grpc")) headers["te"] = "trailers";
    const stream = session.request(headers);
    let trailers: Record<string, string> | undefined;
    const abort = (): void => {
      stream.destroy();
      session.destroy();
    };
    stream.on("trailers", (t) => {
      trailers = {};
      for (const [k, v] of Object.entries(t))
        if (v !== undefined) trailers[k] = Array.isArray(v) ? v.join(", ") : String(v);
    });
    stream.once("close", () => session.close());
    stream.on("error", (e: Error) => {
      const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      reject(
        new ExchangeFailure(refused ? "refused-stream" : "reset", `upstream stream reset: ${e.message}`, {
          cause: e,
        }),
      );
      session.destroy();
    });
    stream.once("close", () =>
      reject(
        new ExchangeFailure(
          "reset",
          `upstream stream closed before response headers (code ${stream.rstCode})`,
        ),
      ),
    );
    stream.on("response", (h) => {
      resolve({
        status: Number(h[":status"] ?? 502),
        headers: flatten(h),
        body: stream,
        trailers: () => trailers,
        abort,
      });
    });
    sendBody(req.body, stream);
  });
}
