/**
 * The CLI's side of the admin API: finds the control plane through the data directory
 * (`--home` / `$AMBIT_HOME` / `./.ambit`): its unix socket `admin.sock` and token `admin-token`.
 * `--server host:port` (or the home's socket) picks the transport; the token always comes from home.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import type { Command } from "commander";
import type { ConfigError } from "../api/config-error.js";
import { resolveHome } from "../control/config.js";
import { ControlError, ControlErrorCode } from "../control/errors.js";

export interface AdminClientOptions {
  home?: string;
  /** host:port of a TCP admin listener, instead of the unix socket. */
  server?: string;
  /** Overrides the token file (tests). */
  token?: string;
}

/** The admin API refused an input as invalid; `errors` carry file:line:col positions. */
export class AdminInvalidConfigError extends ControlError {
  readonly errors: readonly ConfigError[];
  constructor(message: string, errors: readonly ConfigError[]) {
    super(ControlErrorCode.INVALID_CONFIG, message);
    this.errors = errors;
  }
}

export class AdminClient {
  readonly home: string;
  readonly #socket: string | undefined;
  readonly #host: string | undefined;
  readonly #port: number | undefined;
  readonly #token: string;

  private constructor(home: string, token: string, server: string | undefined) {
    this.home = home;
    this.#token = token;
    if (server) {
      const i = server.lastIndexOf(":");
      this.#host = server.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
      this.#port = Number(server.slice(i + 1));
    } else {
      this.#socket = join(home, "admin.sock");
    }
  }

  static async connect(o: AdminClientOptions = {}): Promise<AdminClient> {
    const home = resolveHome(o.home);
    let token = o.token;
    if (token === undefined) {
      try {
        token = (await readFile(join(home, "admin-token"), "utf8")).trim();
      } catch {
        throw new ControlError(
          ControlErrorCode.UNREACHABLE,
          `no admin token in ${home}; is \`ambit control\` running with this data directory? (set --home or $AMBIT_HOME)`,
        );
      }
    }
    return new AdminClient(home, token, o.server);
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>("DELETE", path);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.#send(method, path, body);
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status >= 200 && status < 300) return parsed as T;
    const err = (parsed ?? {}) as { code?: string; message?: string; errors?: ConfigError[] };
    if (status === 422 && Array.isArray(err.errors)) {
      throw new AdminInvalidConfigError(err.message ?? "invalid input", err.errors);
    }
    const code = Object.values(ControlErrorCode).find((c) => c === err.code) ?? ControlErrorCode.ADMIN_ERROR;
    throw new ControlError(code, err.message ?? `admin API answered ${status}`);
  }

  /** Server-sent events of `/v1/watch`; resolves when the stream ends. `signal` stops it. */
  async watch(onEvent: (data: unknown) => void, signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          ...this.#target(),
          method: "GET",
          path: "/v1/watch",
          headers: { authorization: `Bearer ${this.#token}` },
          signal,
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new ControlError(ControlErrorCode.ADMIN_ERROR, `watch refused with ${res.statusCode}`));
            return;
          }
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buf += chunk;
            for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
              const frame = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const data = frame
                .split("\n")
                .filter((l) => l.startsWith("data: "))
                .map((l) => l.slice(6))
                .join("\n");
              if (data !== "") onEvent(JSON.parse(data));
            }
          });
          res.on("end", () => resolve());
          res.on("error", () => resolve());
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) =>
        e.name === "AbortError" ? resolve() : reject(this.#unreachable(e)),
      );
      req.end();
    });
  }

  #target(): { socketPath: string } | { host: string; port: number } {
    return this.#socket
      ? { socketPath: this.#socket }
      : { host: this.#host ?? "127.0.0.1", port: this.#port ?? 0 };
  }

  #unreachable(e: NodeJS.ErrnoException): ControlError {
    const where = this.#socket ?? `${this.#host}:${this.#port}`;
    return new ControlError(
      ControlErrorCode.UNREACHABLE,
      `cannot reach the admin API at ${where} (${e.code ?? e.message}); is \`ambit control\` running? (check --home / $AMBIT_HOME)`,
      { cause: e },
    );
  }

  #send(method: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...this.#target(),
          method,
          path,
          headers: {
            authorization: `Bearer ${this.#token}`,
            ...(payload !== undefined
              ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => reject(this.#unreachable(e)));
      req.end(payload);
    });
  }
}

/** Options every admin command shares. */
export function adminOptionsOf(opts: { home?: string; server?: string }): AdminClientOptions {
  return {
    ...(opts.home !== undefined ? { home: opts.home } : {}),
    ...(opts.server !== undefined ? { server: opts.server } : {}),
  };
}

/** Flags of an admin subcommand (`ambit cert status`, `ambit ca rotate-root`, …). */
export interface AdminSubcommandFlags {
  output?: string;
  home?: string;
  server?: string;
}

/** `--home`/`--server` given before the subcommand (`ambit cert --home x status`) count too. */
export function withGroupOptions<T extends AdminSubcommandFlags>(flags: T, cmd: Command): T {
  const group = cmd.parent?.opts<AdminSubcommandFlags>() ?? {};
  return {
    ...flags,
    ...(flags.home === undefined && group.home !== undefined ? { home: group.home } : {}),
    ...(flags.server === undefined && group.server !== undefined ? { server: group.server } : {}),
  };
}

/** Adds `--home` and `--server`: where the control plane's admin API is. */
export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the home's unix socket");
}

/** Adds `-o`, `--home` and `--server` to an admin subcommand. */
export function withAdminOptions(cmd: Command): Command {
  return withConnectionOptions(cmd.option("-o, --output <format>", "json prints the raw answer"));
}

/** kubectl-style aligned table: columns separated by three spaces, no borders. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** Reads every `-f` argument as raw text: a file, a directory (recursive, sorted), or `-` for stdin. */
export async function readSources(paths: readonly string[]): Promise<{ filename: string; yaml: string }[]> {
  const out: { filename: string; yaml: string }[] = [];
  for (const p of paths) {
    if (p === "-") {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
      out.push({ filename: "<stdin>", yaml: Buffer.concat(chunks).toString("utf8") });
      continue;
    }
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(p);
    } catch (e) {
      throw new ControlError(
        ControlErrorCode.BAD_REQUEST,
        `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (st.isDirectory()) {
      const files = (await readdir(p, { recursive: true }))
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(p, f));
      if (files.length === 0)
        throw new ControlError(ControlErrorCode.BAD_REQUEST, `${p} holds no *.yaml, *.yml or *.json file`);
      for (const f of files) out.push({ filename: f, yaml: await readFile(f, "utf8") });
    } else {
      out.push({ filename: p, yaml: await readFile(p, "utf8") });
    }
  }
  return out;
}

/** `service/web`, `authorizationpolicy/deny-all` — how kubectl names objects in its output. */
export function objectName(r: { kind: string; name: string }): string {
  return `${r.kind.toLowerCase()}/${r.name}`;
}

export function repeatable(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
