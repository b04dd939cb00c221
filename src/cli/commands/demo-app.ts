/**
 * `ambit demo-app …`: the small workloads the examples run as pod processes.
 *   http   — answers every request with JSON naming the service, version and pod (so a canary
 *            split is visible from the client side).
 *   client — requests a URL in a loop and prints one line per response.
 * Other areas add their own demo workloads (e.g. `mariadb`) as subcommands via `demoAppCommand()`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { demoDbEnv } from "../../local/cluster-config.js";
import { runDemoMariadb } from "../../local/demo-mariadb.js";

/** The `demo-app` command, created on first use, so several command files can add subcommands. */
export function demoAppCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === "demo-app");
  if (existing) return existing;
  return program.command("demo-app").description("demo workloads used by the examples (run inside pods)");
}

export interface DemoHttpOptions {
  service: string;
  version: string;
  port: number;
  host: string;
  /** Defaults to $POD_NAME, else the host name. */
  pod?: string;
  /** Pad each reply to at least this many bytes (benchmarks ask for 1 KB responses). */
  bodyBytes?: number;
}

export interface DemoHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface DemoReply {
  service: string;
  version: string;
  pod: string;
  method: string;
  path: string;
  host: string;
  /** Filler up to `--body-bytes`. */
  pad?: string;
}

export async function startDemoHttpServer(opts: DemoHttpOptions): Promise<DemoHttpServer> {
  const pod = opts.pod ?? process.env["POD_NAME"] ?? hostname();
  const server: Server = createServer((req, res) => {
    req.on("error", () => res.destroy());
    const body: DemoReply = {
      service: opts.service,
      version: opts.version,
      pod,
      method: req.method ?? "",
      path: req.url ?? "/",
      host: req.headers.host ?? "",
    };
    let text = `${JSON.stringify(body)}\n`;
    const short = (opts.bodyBytes ?? 0) - Buffer.byteLength(text) - 9; // 9 = `,"pad":""`
    if (short > 0) text = `${JSON.stringify({ ...body, pad: "x".repeat(short) })}\n`;
    // Drain the request body so keep-alive connections stay usable.
    req.resume();
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // In-flight requests finish; idle keep-alive connections would hold close() open forever.
        server.closeIdleConnections();
      }),
  };
}

export interface DemoClientOptions {
  url: string;
  intervalMs: number;
  /** Stop after this many requests; undefined runs until SIGTERM/SIGINT. */
  count?: number;
  write: (line: string) => void;
  signal?: AbortSignal;
}

/** Returns the number of failed requests. */
export async function runDemoClient(opts: DemoClientOptions): Promise<number> {
  let failures = 0;
  for (let i = 0; opts.count === undefined || i < opts.count; i++) {
    if (opts.signal?.aborted) break;
    if (i > 0) await sleep(opts.intervalMs, opts.signal);
    if (opts.signal?.aborted) break;
    const started = Date.now();
    try {
      const res = await fetch(opts.url, opts.signal ? { signal: opts.signal } : {});
      const text = (await res.text()).trim();
      opts.write(`${res.status} ${Date.now() - started}ms ${text}`);
      if (!res.ok) failures++;
    } catch (e) {
      if (opts.signal?.aborted) break;
      failures++;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      opts.write(`error ${cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))}`);
    }
  }
  return failures;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`--port ${JSON.stringify(v)} is not a port number (0-65535)`);
  return n;
}

function parsePositiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${name} ${JSON.stringify(v)} is not a non-negative integer`);
    return n;
  };
}

export function register(program: Command): void {
  const demo = demoAppCommand(program);

  demo
    .command("http")
    .description('HTTP server answering {"service","version","pod","method","path","host"}')
    .requiredOption("--service <name>", "service name to report")
    .requiredOption("--version <v>", "version to report (e.g. v1)")
    .option("--port <port>", "port to listen on", parsePort, 8080)
    .option("--host <address>", "address to bind", "0.0.0.0")
    .option("--body-bytes <n>", "pad each reply to about n bytes", parsePositiveInt("--body-bytes"))
    .action(
      async (flags: { service: string; version: string; port: number; host: string; bodyBytes?: number }) => {
        const server = await startDemoHttpServer(flags);
        process.stdout.write(
          `demo-app http ${flags.service} ${flags.version} listening on ${flags.host}:${server.port}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off("SIGTERM", stop);
            process.off("SIGINT", stop);
            resolve();
          };
          process.on("SIGTERM", stop);
          process.on("SIGINT", stop);
        });
        await server.close();
        process.stdout.write("demo-app http stopped\n");
      },
    );

  demo
    .command("client")
    .description("request a URL in a loop, one line per response")
    .requiredOption("--url <url>", "URL to request")
    .option("--interval-ms <ms>", "pause between requests", parsePositiveInt("--interval-ms"), 1000)
    .option("--count <n>", "stop after n requests (default: run until stopped)", parsePositiveInt("--count"))
    .action(async (flags: { url: string; intervalMs: number; count?: number }) => {
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      const failures = await runDemoClient({
        url: flags.url,
        intervalMs: flags.intervalMs,
        ...(flags.count === undefined ? {} : { count: flags.count }),
        write: (line) => process.stdout.write(`${line}\n`),
        signal: abort.signal,
      });
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      if (flags.count !== undefined && failures > 0) process.exitCode = 1;
    });

  demo
    .command("mariadb")
    .description("a real MariaDB server with the demo database `payments` and user `payment` (demo password)")
    .option("--port <port>", "port to listen on", parsePort, 3306)
    .option("--datadir <dir>", "data directory (default $AMBIT_HOME/mariadb/<namespace>.<pod>)")
    .action(async (flags: { port: number; datadir?: string }) => {
      const env = demoDbEnv();
      process.exitCode = await runDemoMariadb({
        port: flags.port,
        dataDir: flags.datadir ?? join(env.dataRoot, env.podKey),
        password: env.password,
        write: (line) => process.stdout.write(`${line}\n`),
      });
    });
}
