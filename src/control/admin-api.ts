/**
 * The admin API: HTTP/1.1 + JSON on a unix socket (`<home>/admin.sock`, 0600) and optionally a
 * loopback TCP address. Every request needs `Authorization: Bearer <admin-token>`; a refusal is
 * logged with the caller's address (never the token). Routes (all under /v1):
 *
 *   POST   /apply                     {sources: [{filename, yaml}], namespace?} → {results}  (422: {errors})
 *   POST   /delete                    {sources: [{filename, yaml}], namespace?} → {results}
 *   GET    /resources/:kind[?namespace=ns]             → {items}
 *   GET    /resources/:kind/:name[?namespace=ns]       → resource
 *   DELETE /resources/:kind/:name[?namespace=ns]       → {results}
 *   POST   /label                     {kind, name, namespace?, set, remove, overwrite} → {resource, changed}
 *   GET    /registry/workloads|services|nodes[?namespace=&node=]
 *   GET    /registry/nodes/:node/pods → the pods to run on a node, with their commands
 *   GET    /watch                     → text/event-stream of registry snapshots
 *   GET    /status                    → control plane, CA, store, xDS clients
 *   POST   /tokens                    {kind: "node", node} | {kind: "waypoint", namespace, name} → {token}
 *   GET    /health                    → {score, indicators} (docs/health.md)
 *   GET    /traffic                   → per-edge rates, recent denials, proxy states (docs/dashboard.md)
 *   POST   /dashboard/logins          → {code, expiresAt}: a one-time dashboard login code
 *   GET    /certs                     → {certificates}: the CA's ledger (docs/identity.md)
 *   POST   /certs/rotate              {namespace} | {all: true} → {generation, requestedAt, targets}
 *   GET    /ca                        → signer, roots, rotation phase, nodes' trust bundles
 *   POST   /ca/rotate-root            {fromDir?, retireNow?} → as GET /ca
 *   POST   /ca/revoke                 {serial, reason?} → {revoked, added, known, heldBy}
 *   GET    /ca/revoked                → {revoked}: the revocation list
 * and, outside /v1, `GET /metrics`: the `ambit_mesh_health_*` gauges in Prometheus text.
 */
import { chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type Server as NetServer } from "node:net";
import { isAmbitError } from "../errors.js";
import type { Credentials, TokenSubject } from "./credentials.js";
import { ControlError, ControlErrorCode } from "./errors.js";
import { lookupKind } from "./kinds.js";
import type { ControlLogger } from "./log.js";
import { InvalidConfigError, type MeshState, type Source } from "./mesh-state.js";
import type { Registry } from "./registry.js";

/** A 10k-object manifest is well under this; anything larger is a mistake or an attack. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface AdminApiDeps {
  state: MeshState;
  credentials: Credentials;
  log: ControlLogger;
  /** The status document; the daemon fills in xDS, CA and store details. */
  status: () => unknown;
  /** The mesh health model (src/control/health-collector.ts). */
  health?: {
    report(): Promise<unknown>;
    metricsText(): Promise<{ contentType: string; text: string }>;
  };
  /** The traffic graph (src/control/traffic-collector.ts). */
  traffic?: { report(): Promise<unknown> };
  /** Mints one-time dashboard login codes (src/dashboard/logins.ts). */
  dashboard?: { createCode(): { code: string; expiresAt: number } };
  /** Certificates and the CA (src/control/control-plane.ts). */
  certs?: {
    list(): unknown;
    rotate(namespace: string | undefined): unknown;
    ca(): unknown;
    rotateRoot(o: { fromDir?: string; retireNow?: boolean }): unknown;
    revoke?(serial: string, reason: string | undefined): unknown;
    revoked?(): unknown;
  };
}

export class AdminApi {
  readonly #deps: AdminApiDeps;
  readonly #servers: Server[] = [];
  readonly #streams = new Set<ServerResponse>();
  #unsubscribe: (() => void) | undefined;

  constructor(deps: AdminApiDeps) {
    this.#deps = deps;
  }

  /** Binds the unix socket (replacing a stale one, refusing a live one) at mode 0600. */
  async listenUnix(path: string): Promise<void> {
    if (await socketAlive(path)) {
      throw new ControlError(
        ControlErrorCode.BIND,
        `admin socket ${path} is in use by another ambit control; stop it or pick another --home`,
      );
    }
    await unlink(path).catch(() => undefined);
    const server = this.#newServer();
    await listen(server, { path }, `admin socket ${path}`);
    await chmod(path, 0o600);
  }

  /** Binds a TCP address; returns the bound port (useful with port 0). */
  async listenTcp(host: string, port: number): Promise<number> {
    const server = this.#newServer();
    await listen(server, { host, port }, `admin address ${host}:${port}`);
    const addr = server.address();
    return typeof addr === "object" && addr ? addr.port : port;
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    for (const s of this.#streams) s.end();
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
      this.#handle(req, res).catch((e: unknown) => this.#fail(res, e));
    });
    server.on("clientError", (_e, socket) => socket.destroy());
    this.#servers.push(server);
    if (!this.#unsubscribe) {
      this.#unsubscribe = this.#deps.state.subscribe((r) => {
        for (const s of this.#streams) writeEvent(s, this.#deps.state.version, r);
      });
    }
    return server;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m?.[1] || !this.#deps.credentials.isAdmin(m[1])) {
      this.#deps.log.warn(
        {
          remote: req.socket.remoteAddress ?? "unix socket",
          method: req.method,
          path: req.url?.split("?")[0],
        },
        m ? "admin request with a wrong token refused" : "admin request without a token refused",
      );
      send(res, 401, { code: ControlErrorCode.UNAUTHENTICATED, message: "missing or wrong admin token" });
      return;
    }
    const url = new URL(req.url ?? "/", "http://admin");
    const parts = url.pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    const q = url.searchParams;
    const ns = q.get("namespace") ?? undefined;
    const { state } = this.#deps;
    if (req.method === "GET" && url.pathname === "/metrics" && this.#deps.health) {
      const m = await this.#deps.health.metricsText();
      res.writeHead(200, { "content-type": m.contentType });
      res.end(m.text);
      return;
    }
    if (parts[0] !== "v1") throw notFound(url.pathname);
    const route = `${req.method} ${parts[1] ?? ""}`;
    switch (route) {
      case "POST apply": {
        const b = await jsonBody(req);
        send(res, 200, { results: await state.apply(sourcesOf(b), optStr(b, "namespace")) });
        return;
      }
      case "POST delete": {
        const b = await jsonBody(req);
        send(res, 200, {
          results: await state.deleteManifest(sourcesOf(b), optStr(b, "namespace")),
        });
        return;
      }
      case "GET resources": {
        const kind = kindOf(parts[2]);
        if (parts[3] === undefined) {
          send(res, 200, {
            items: state.list(kind, q.get("allNamespaces") === "true" ? undefined : (ns ?? "default")),
          });
          return;
        }
        const r = state.get(kind, ns, parts[3]);
        if (!r)
          throw new ControlError(
            ControlErrorCode.NOT_FOUND,
            `${kind} ${ns ? `${ns}/` : ""}${parts[3]} not found`,
          );
        send(res, 200, r);
        return;
      }
      case "DELETE resources": {
        const kind = kindOf(parts[2]);
        if (parts[3] === undefined)
          throw new ControlError(ControlErrorCode.BAD_REQUEST, "name the object to delete");
        send(res, 200, { results: await state.deleteObjects([{ kind, namespace: ns, name: parts[3] }]) });
        return;
      }
      case "POST label": {
        const b = await jsonBody(req);
        const set = b["set"] ?? {};
        const remove = b["remove"] ?? [];
        if (typeof set !== "object" || Array.isArray(set) || !Array.isArray(remove)) {
          throw new ControlError(ControlErrorCode.BAD_REQUEST, "set must be an object and remove a list");
        }
        send(
          res,
          200,
          await state.label({
            kind: kindOf(str(b, "kind")),
            name: str(b, "name"),
            ...(optStr(b, "namespace") !== undefined ? { namespace: optStr(b, "namespace") as string } : {}),
            set: Object.fromEntries(
              Object.entries(set as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
            ),
            remove: remove.map(String),
            overwrite: b["overwrite"] === true,
          }),
        );
        return;
      }
      case "GET registry": {
        send(res, 200, registryView(state.registry, parts.slice(2), ns, q.get("node") ?? undefined));
        return;
      }
      case "GET watch": {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          connection: "keep-alive",
        });
        this.#streams.add(res);
        res.on("close", () => this.#streams.delete(res));
        writeEvent(res, state.version, state.registry);
        return;
      }
      case "GET status": {
        send(res, 200, this.#deps.status());
        return;
      }
      case "GET health": {
        if (!this.#deps.health) throw notFound(url.pathname);
        send(res, 200, await this.#deps.health.report());
        return;
      }
      case "GET traffic": {
        if (!this.#deps.traffic) throw notFound(url.pathname);
        send(res, 200, await this.#deps.traffic.report());
        return;
      }
      case "POST dashboard": {
        if (!this.#deps.dashboard || parts[2] !== "logins") throw notFound(url.pathname);
        // The code is a credential for the page: never logged.
        this.#deps.log.info({}, "issued a dashboard login code");
        send(res, 200, this.#deps.dashboard.createCode());
        return;
      }
      case "POST tokens": {
        const b = await jsonBody(req);
        const subject: TokenSubject =
          b["kind"] === "waypoint"
            ? { kind: "waypoint", namespace: str(b, "namespace"), name: str(b, "name") }
            : { kind: "node", node: str(b, "node") };
        const token = await this.#deps.credentials.issue(subject);
        this.#deps.log.info({ subject }, "issued a data-plane token");
        send(res, 200, { token });
        return;
      }
      case "GET certs":
      case "POST certs":
      case "GET ca":
      case "POST ca": {
        const certs = this.#deps.certs;
        if (certs === undefined) throw notFound(url.pathname);
        if (route === "GET certs" && parts.length === 2) send(res, 200, certs.list());
        else if (route === "GET ca" && parts.length === 2) send(res, 200, certs.ca());
        else if (route === "GET ca" && parts[2] === "revoked" && parts.length === 3 && certs.revoked)
          send(res, 200, certs.revoked());
        else if (route === "POST ca" && parts[2] === "revoke" && parts.length === 3 && certs.revoke) {
          const b = await jsonBody(req);
          send(res, 200, certs.revoke(str(b, "serial"), optStr(b, "reason")));
        } else if (route === "POST certs" && parts[2] === "rotate") {
          const b = await jsonBody(req);
          const namespace = optStr(b, "namespace");
          if ((namespace === undefined) === (b["all"] !== true)) {
            throw new ControlError(
              ControlErrorCode.BAD_REQUEST,
              'POST /v1/certs/rotate needs exactly one of {"namespace": "<ns>"} or {"all": true}',
            );
          }
          send(res, 200, certs.rotate(namespace));
        } else if (route === "POST ca" && parts[2] === "rotate-root") {
          const b = await jsonBody(req);
          const fromDir = optStr(b, "fromDir");
          send(
            res,
            200,
            certs.rotateRoot({
              ...(fromDir !== undefined ? { fromDir } : {}),
              ...(b["retireNow"] === true ? { retireNow: true } : {}),
            }),
          );
        } else throw notFound(url.pathname);
        return;
      }
      default:
        throw notFound(url.pathname);
    }
  }

  #fail(res: ServerResponse, e: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof InvalidConfigError) {
      send(res, 422, { code: e.code, message: e.message, errors: e.errors });
      return;
    }
    if (isAmbitError(e)) {
      const status =
        e.code === ControlErrorCode.NOT_FOUND
          ? 404
          : e.code === ControlErrorCode.LABEL_CONFLICT || e.code === ControlErrorCode.ROTATION_CONFLICT
            ? 409
            : e.code === ControlErrorCode.BAD_REQUEST
              ? 400
              : 500;
      send(res, status, { code: e.code, message: e.message });
      return;
    }
    this.#deps.log.error({ err: e }, "admin request failed");
    send(res, 500, { code: "CP_ERR_INTERNAL", message: e instanceof Error ? e.message : String(e) });
  }
}

function registryView(
  r: Registry,
  path: string[],
  ns: string | undefined,
  node: string | undefined,
): unknown {
  const inNs = <T extends { namespace: string }>(xs: T[]): T[] =>
    ns ? xs.filter((x) => x.namespace === ns) : xs;
  switch (path[0]) {
    case undefined:
      return r;
    case "workloads":
      return { items: inNs(r.workloads).filter((w) => node === undefined || w.node === node) };
    case "services":
      return { items: inNs(r.services) };
    case "nodes":
      if (path[1] !== undefined && path[2] === "pods") {
        return { node: path[1], items: r.workloads.filter((w) => w.kind === "Pod" && w.node === path[1]) };
      }
      return { items: r.nodes };
    case "problems":
      return { items: r.problems };
    default:
      throw notFound(`/v1/registry/${path.join("/")}`);
  }
}

function writeEvent(res: ServerResponse, version: number, r: Registry): void {
  res.write(`event: registry\nid: ${version}\ndata: ${JSON.stringify({ version, ...r })}\n\n`);
}

function kindOf(name: string | undefined): string {
  const info = name === undefined ? undefined : lookupKind(name);
  if (!info) {
    throw new ControlError(
      ControlErrorCode.BAD_REQUEST,
      `unknown resource type ${JSON.stringify(name ?? "")}`,
    );
  }
  return info.kind;
}

function notFound(path: string): ControlError {
  return new ControlError(ControlErrorCode.NOT_FOUND, `no admin route ${path}`);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES)
      throw new ControlError(ControlErrorCode.BAD_REQUEST, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ControlError(ControlErrorCode.BAD_REQUEST, "the request body must be a JSON object");
}

/** `{sources: [{filename, yaml}]}`, or the single-file shorthand `{filename, yaml}`. */
function sourcesOf(b: Record<string, unknown>): Source[] {
  const list = b["sources"];
  if (list === undefined) return [{ filename: str(b, "filename", "<request>"), yaml: str(b, "yaml") }];
  if (!Array.isArray(list)) throw new ControlError(ControlErrorCode.BAD_REQUEST, "sources must be a list");
  return list.map((s: unknown) => {
    const o = (s && typeof s === "object" ? s : {}) as Record<string, unknown>;
    return { filename: str(o, "filename", "<request>"), yaml: str(o, "yaml") };
  });
}

function str(b: Record<string, unknown>, k: string, dflt?: string): string {
  const v = b[k] ?? dflt;
  if (typeof v !== "string")
    throw new ControlError(ControlErrorCode.BAD_REQUEST, `field ${k} must be a string`);
  return v;
}

function optStr(b: Record<string, unknown>, k: string): string | undefined {
  const v = b[k];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function listen(
  server: NetServer,
  at: { path: string } | { host: string; port: number },
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        new ControlError(
          ControlErrorCode.BIND,
          `cannot bind the ${what}: ${e.code === "EADDRINUSE" ? "already in use" : e.message}; stop what holds it or choose another`,
          { cause: e },
        ),
      );
    };
    server.once("error", onError);
    server.listen(at, () => {
      server.off("error", onError);
      server.on("error", () => undefined);
      resolve();
    });
  });
}

export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
