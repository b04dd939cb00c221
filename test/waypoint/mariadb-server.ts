/**
 * A throwaway MariaDB server for tests (Debian's `mariadb-server`): a fresh datadir under /dev/shm
 * (or the OS temp dir), `mariadbd` on 127.0.0.1 with a free port and its own socket, root reachable
 * over that socket without a password. `stop()` terminates the server and removes the directory;
 * call it in `after`, also when tests fail. Reusable by any test that needs a real database:
 *
 *   const db = await startMariadb();
 *   await db.sql("CREATE DATABASE payments");
 *   …   // connect to 127.0.0.1:db.port
 *   await db.stop();
 *
 * Needs `mariadb-server` and `mariadb-client` (scripts/packages.txt); `mariadbSkipReason()` says
 * why not when they are missing.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "/usr/bin/mariadb-install-db";
const CLIENT = "/usr/bin/mariadb";

/** A reason to skip when the binaries are missing, else false (for `test(…, { skip })`). */
export function mariadbSkipReason(): string | false {
  for (const bin of [MARIADBD, INSTALL_DB, CLIENT]) {
    if (!existsSync(bin)) return `${bin} is missing: apt-get install -y mariadb-server mariadb-client`;
  }
  return false;
}

export interface ClientResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the `mariadb` CLI with `args` (after --no-defaults), feeding `stdin` when given. */
export function runMariadbClient(args: readonly string[], stdin?: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(CLIENT, ["--no-defaults", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
    });
    child.stdin?.end(stdin ?? "");
  });
}

export interface MariadbServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  /** Runs SQL as root over the socket; returns the tab-separated output without headers. */
  sql(text: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`${cmd} failed: ${stderr || err.message}`));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts a fresh server; rejects (after cleaning up) when it does not come up within ~30 s. */
export async function startMariadb(): Promise<MariadbServer> {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = await mkdtemp(join(base, "ambit-mariadb-"));
  const datadir = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  const errLog = join(dir, "error.log");
  let child: ChildProcess | null = null;
  try {
    await run(INSTALL_DB, [
      "--no-defaults",
      "--user=root",
      `--datadir=${datadir}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ]);
    const port = await freePort();
    const proc = spawn(
      MARIADBD,
      [
        "--no-defaults",
        "--user=root",
        `--datadir=${datadir}`,
        `--socket=${socket}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--pid-file=${join(dir, "mysqld.pid")}`,
        `--log-error=${errLog}`,
        "--skip-log-bin",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=8M",
        "--innodb-log-file-size=8M",
      ],
      { stdio: "ignore" },
    );
    child = proc;
    proc.on("error", () => {});
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const log = await readFile(errLog, "utf8").catch(() => "");
        throw new Error(`mariadbd exited during start-up: ${log.slice(-2000)}`);
      }
      if (existsSync(socket) && (await canConnect(port))) break;
      if (i > 300) throw new Error(`mariadbd did not listen on 127.0.0.1:${port} within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      host: "127.0.0.1",
      port,
      socket,
      dir,
      async sql(text: string): Promise<string> {
        const r = await runMariadbClient(["-S", socket, "-u", "root", "-N", "-B"], text);
        if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr}`);
        return r.stdout;
      },
      async stop(): Promise<void> {
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
        await waitExit(proc);
        clearTimeout(killer);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child !== null) {
      child.kill("SIGKILL");
      await waitExit(child);
    }
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
