/**
 * `ambit demo-app mariadb`: a real MariaDB server for the payment demo (`payment-db`). Debian's
 * `mariadb-server` binaries, a data directory per pod under `$AMBIT_HOME/mariadb/` (kept across
 * restarts), a `payments` database with a `payments` table and a `payment`@`%` user. The server
 * runs in the foreground of this process (the pod's process): SIGTERM stops it cleanly.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { LocalError, LocalErrorCode } from "./errors.js";

const run = promisify(execFile);

export interface DemoMariadbOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly password: string;
  readonly write: (line: string) => void;
}

export function demoSchemaSql(password: string): string {
  const quoted = password.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  return [
    "CREATE DATABASE IF NOT EXISTS payments;",
    "CREATE TABLE IF NOT EXISTS payments.payments (",
    "  id INT AUTO_INCREMENT PRIMARY KEY,",
    "  account VARCHAR(64) NOT NULL,",
    "  amount_cents INT NOT NULL,",
    "  status VARCHAR(16) NOT NULL DEFAULT 'pending',",
    "  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
    ");",
    "INSERT INTO payments.payments (account, amount_cents, status)",
    "  SELECT * FROM (SELECT 'acct-001', 1250, 'settled' UNION ALL SELECT 'acct-002', 990, 'pending') AS seed",
    "  WHERE NOT EXISTS (SELECT 1 FROM payments.payments);",
    `CREATE USER IF NOT EXISTS 'payment'@'%' IDENTIFIED BY '${quoted}';`,
    "GRANT SELECT, INSERT, UPDATE, DELETE ON payments.* TO 'payment'@'%';",
    "FLUSH PRIVILEGES;",
    "",
  ].join("\n");
}

export async function runDemoMariadb(o: DemoMariadbOptions): Promise<number> {
  if (!existsSync("/usr/sbin/mariadbd")) {
    throw new LocalError(
      LocalErrorCode.PLATFORM,
      "mariadbd is not installed; apt-get install mariadb-server mariadb-client (scripts/setup.sh does)",
    );
  }
  await mkdir(o.dataDir, { recursive: true });
  const socket = join(o.dataDir, "mysqld.sock");
  if (!existsSync(join(o.dataDir, "mysql"))) {
    o.write(`initialising ${o.dataDir}`);
    await run(
      "mariadb-install-db",
      ["--no-defaults", "--user=root", `--datadir=${o.dataDir}`, "--skip-test-db"],
      {
        timeout: 120_000,
      },
    );
  }
  const server: ChildProcess = spawn(
    "/usr/sbin/mariadbd",
    [
      "--no-defaults",
      "--user=root",
      `--datadir=${o.dataDir}`,
      "--bind-address=0.0.0.0",
      `--port=${o.port}`,
      `--socket=${socket}`,
      `--pid-file=${join(o.dataDir, "mysqld.pid")}`,
      "--skip-name-resolve",
      "--log-error=",
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const exited = new Promise<number>((resolve) => {
    server.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
    server.once("error", () => resolve(1));
  });
  const stop = (): void => {
    server.kill("SIGTERM");
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await run("mariadb", ["--no-defaults", "-S", socket, "-u", "root", "-e", demoSchemaSql(o.password)], {
        timeout: 10_000,
      });
      break;
    } catch (e) {
      if (server.exitCode !== null || Date.now() > deadline) {
        stop();
        throw new LocalError(LocalErrorCode.START, `MariaDB did not come up: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  o.write(`mariadb ready on 0.0.0.0:${o.port}: database payments, user payment (demo password)`);
  const code = await exited;
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
  return code;
}
