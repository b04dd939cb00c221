/**
 * The dashboard's HTTP server, run by the control plane: the page (static files bundled at build
 * time, no CDN), `GET /api/snapshot` and `GET /events` (server-sent events, one `snapshot` event a
 * second). It listens on `<home>/dashboard.sock` (0600), reached from a browser through
 * `ambit dashboard`'s loopback port-forward, and optionally on a loopback TCP port.
 *
 * Every route but `/login` needs the session cookie that a one-time login code buys
 * (src/dashboard/logins.ts). Only loopback Host headers are served, so a web page elsewhere cannot
 * reach the port through DNS rebinding.
 */
import { chmod, readFile, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { listen, socketAlive } from "../control/admin-api.js";
import { ControlError, ControlErrorCode } from "../control/errors.js";
import type { ControlLogger } from "../control/log.js";
import { type DashboardLogins, SESSION_COOKIE } from "./logins.js";
import type { DashboardSnapshot } from "./snapshot.js";

export const DASHBOARD_SOCKET = "dashboard.sock";
/** Istio serves istiod's monitoring on 15014; `ambit dashboard` forwards from this port by default. */
export const DEFAULT_DASHBOARD_PORT = 15014;

const ASSETS: Readonly<Record<string, string>> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/app.js": "app.js",
  "/app.css": "app.css",
};
const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;

export interface DashboardServerDeps {
  snapshot: () => Promise<DashboardSnapshot>;
  logins: DashboardLogins;
  log: ControlLogger;
  /** Where index.html, app.js and app.css are; default: `static/` next to this module in dist/. */
  assetsDir?: string;
  /** Push period of `/events`; 1 s by default. */
  intervalMs?: number;
}

export class DashboardServer {
  readonly #deps: DashboardServerDeps;
  readonly #servers: Server[] = [];
  readonly #streams = new Set<ServerResponse>();
  readonly #assetsDir: string;
  #timer: NodeJS.Timeout | undefined;
  #pushing = false;

  constructor(deps: DashboardServerDeps) {
    this.#deps = deps;
    this.#assetsDir = deps.assetsDir ?? fileURLToPath(new URL("./static/", import.meta.url));
  }

  async listenUnix(path: string): Promise<void> {
    if (await socketAlive(path)) {
      throw new ControlError(
        ControlErrorCode.BIND,
        `dashboard socket ${path} is in use by another ambit control; stop it or pick another --home`,
      );
    }
    await unlink(path).catch(() => undefined);
    await listen(this.#newServer(), { path }, `dashboard socket ${path}`);
    await chmod(path, 0o600);
  }

  /** Binds a TCP address (loopback only makes sense: the page has no TLS); returns the port. */
  async listenTcp(host: string, port: number): Promise<number> {
    const server = this.#newServer();
    await listen(server, { host, port }, `dashboard address ${host}:${port}`);
    const addr = server.address();
    return typeof addr === "object" && addr ? addr.port : port;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const s of this.#streams) s.end();
    this.#streams.clear();
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  #newServer(): Server {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        this.#deps.log.error(
          { err: (e as Error).message, path: req.url?.split("?")[0] },
          "dashboard request failed",
        );
        if (!res.headersSent) sendText(res, 500, "internal error; see the control plane log\n");
        else res.destroy();
      });
    });
    server.on("clientError", (_e, socket) => socket.destroy());
    this.#servers.push(server);
    return server;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Through the unix socket the forwarder passes the browser's Host unchanged (127.0.0.1:<port>).
    if (!LOOPBACK_HOST.test(req.headers.host ?? "")) {
      sendText(res, 421, "the dashboard answers only on a loopback address (use `ambit dashboard`)\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (req.method !== "GET") {
      sendText(res, 405, "only GET\n");
      return;
    }
    if (url.pathname === "/login") {
      const session = this.#deps.logins.redeem(url.searchParams.get("code") ?? "");
      if (session === undefined) {
        this.#deps.log.warn({ remote: req.socket.remoteAddress ?? "unix socket" }, "dashboard login refused");
        sendText(res, 401, "this login link is expired or was used; run `ambit dashboard` for a new one\n");
        return;
      }
      res.writeHead(303, {
        location: "/",
        "set-cookie": `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`,
        "cache-control": "no-store",
      });
      res.end();
      return;
    }
    if (!this.#deps.logins.isSession(req.headers.cookie)) {
      sendText(res, 401, "not logged in; run `ambit dashboard` and open the link it prints\n");
      return;
    }
    const asset = ASSETS[url.pathname];
    if (asset !== undefined) {
      const body = await readFile(join(this.#assetsDir, asset)).catch(() => undefined);
      if (body === undefined) {
        sendText(
          res,
          404,
          `${asset} is missing from ${this.#assetsDir}; run the build (scripts/build-web.mjs)\n`,
        );
        return;
      }
      res.writeHead(200, {
        "content-type": TYPES[extname(asset)] ?? "application/octet-stream",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
      });
      res.end(body);
      return;
    }
    if (url.pathname === "/api/snapshot") {
      const text = JSON.stringify(await this.#deps.snapshot());
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(text);
      return;
    }
    if (url.pathname === "/events") {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      this.#streams.add(res);
      res.on("close", () => {
        this.#streams.delete(res);
        if (this.#streams.size === 0 && this.#timer) {
          clearInterval(this.#timer);
          this.#timer = undefined;
        }
      });
      await this.#push([res]);
      this.#timer ??= setInterval(() => void this.#push([...this.#streams]), this.#deps.intervalMs ?? 1000);
      return;
    }
    sendText(res, 404, `no dashboard route ${url.pathname}\n`);
  }

  /** One snapshot for every open stream; a slow snapshot skips ticks rather than piling up. */
  async #push(to: readonly ServerResponse[]): Promise<void> {
    if (this.#pushing || to.length === 0) return;
    this.#pushing = true;
    try {
      const data = `event: snapshot\ndata: ${JSON.stringify(await this.#deps.snapshot())}\n\n`;
      for (const s of to) if (!s.writableEnded) s.write(data);
    } catch (e) {
      this.#deps.log.warn({ err: (e as Error).message }, "dashboard snapshot failed");
    } finally {
      this.#pushing = false;
    }
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
