/**
 * An HTTP "pod" for the waypoint L7 tests: HTTP/1.1 and HTTP/2 with prior knowledge on one port
 * (sniffed from the first bytes), behaviour chosen by the path, and every request recorded the
 * moment its headers arrive (so "the backend received nothing" is checkable). Counters are shared
 * between pods, so "fails N times" holds whichever endpoint an attempt reaches.
 *
 *   /fail/<key>/<n>/<status>  the first n calls for key answer <status>, then 200
 *   /slow/<key>/<n>/<ms>      the first n calls for key wait <ms> first
 *   /sleep/<ms>               always waits <ms>
 *   /slow-on/<pod>/<ms>       waits <ms> on that pod only
 *   /grpc                     answers with gRPC trailers (grpc-status 0)
 *   anything else             echoes what it received as JSON
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { duplexPair } from "../../src/waypoint/duplex-pair.js";

export interface SeenRequest {
  readonly pod: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly attempt: string | undefined;
  readonly httpVersion: string;
}

export interface L7Pod {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface PodWorld {
  readonly counters: Map<string, number>;
  readonly seen: SeenRequest[];
}

export async function startL7Pod(ip: string, name: string, world: PodWorld): Promise<L7Pod> {
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const handler = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): void => {
    const host = String(req.headers[":authority"] ?? req.headers["host"] ?? "");
    const attempt = req.headers["x-envoy-attempt-count"];
    world.seen.push({
      pod: name,
      method: req.method ?? "",
      path: req.url ?? "",
      host,
      attempt: typeof attempt === "string" ? attempt : undefined,
      httpVersion: req.httpVersion,
    });
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("error", () => {});
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const parts = (req.url ?? "/").split("?")[0]!.split("/");
      const count = (key: string): number => {
        const n = (world.counters.get(key) ?? 0) + 1;
        world.counters.set(key, n);
        return n;
      };
      let status = 200;
      let delay = 0;
      if (parts[1] === "fail") {
        const c = count(parts[2] ?? "");
        if (c <= Number(parts[3])) status = Number(parts[4]);
      } else if (parts[1] === "slow") {
        const c = count(parts[2] ?? "");
        if (c <= Number(parts[3])) delay = Number(parts[4]);
      } else if (parts[1] === "sleep") delay = Number(parts[2]);
      else if (parts[1] === "slow-on" && parts[2] === name) delay = Number(parts[3]);
      const answer = (): void => {
        if (res.destroyed || res.writableEnded) return;
        if (parts[1] === "grpc") {
          res.writeHead(200, { "content-type": "application/grpc" });
          res.addTrailers({ "grpc-status": "0", "grpc-message": "ok" });
          res.end(Buffer.from([0, 0, 0, 0, 0]));
          return;
        }
        const json = JSON.stringify({
          pod: name,
          method: req.method,
          path: req.url,
          host,
          attempt,
          httpVersion: req.httpVersion,
          body: body.length <= 1024 ? body.toString() : undefined,
          bodyLength: body.length,
        });
        res.writeHead(status, { "content-type": "application/json" });
        res.end(json);
      };
      if (delay > 0) later(delay, answer);
      else answer();
    });
  };
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
    // Node's HTTP/2 server reads a real socket's handle directly, past any unshifted bytes: the
    // sniffed connection is handed over through an in-memory pair instead.
    s.once("data", (d: Buffer) => {
      const [near, far] = duplexPair();
      near.on("error", () => {});
      far.on("error", () => {});
      near.write(d);
      s.pipe(near);
      near.pipe(s);
      s.once("close", () => near.destroy());
      near.once("close", () => s.destroy());
      (d.subarray(0, 3).toString() === "PRI" ? h2 : h1).emit("connection", far);
    });
  });
  await new Promise<void>((r) => server.listen(0, ip, () => r()));
  return {
    name,
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        h1.closeAllConnections();
        server.close(() => r());
      }),
  };
}
