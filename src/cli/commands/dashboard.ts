/**
 * `ambit dashboard [--no-browser] [--port n] [--home dir]`: the control plane's web dashboard in
 * the browser. Like `istioctl dashboard`, it port-forwards: a loopback port here (15014 by
 * default, 0 picks a free one) to the control plane's `<home>/dashboard.sock`, which works
 * wherever the control plane runs (in `ambit up` it lives in its own network namespace). It asks
 * the admin API for a one-time login code and prints the URL that carries it; the browser trades
 * it for a session cookie, so the admin token never leaves the home directory. Runs until Ctrl-C.
 */
import type { Command } from "commander";
import { AdminClient, adminOptionsOf } from "../admin-client.js";

interface DashboardFlags {
  browser: boolean;
  port: string;
  home?: string;
}

export function register(program: Command): void {
  program
    .command("dashboard")
    .description("open the mesh dashboard (traffic graph, health, certificates, denials) in a browser")
    .option("--no-browser", "only print the URL")
    .option("--port <port>", "local loopback port to serve it on (0 picks a free one)", "15014")
    .option("--home <dir>", "data directory of the control plane (default $AMBIT_HOME or ./.ambit)")
    .action(async (flags: DashboardFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        process.stderr.write(`--port ${JSON.stringify(flags.port)} must be a port number (0-65535)\n`);
        process.exitCode = 2;
        return;
      }
      const { join } = await import("node:path");
      const { DASHBOARD_SOCKET } = await import("../../dashboard/dashboard-server.js");
      const { forwardToUnixSocket } = await import("../../dashboard/port-forward.js");
      const { untilStopSignal } = await import("../process-io.js");
      const client = await AdminClient.connect(adminOptionsOf(flags));
      const login = await client.post<{ code: string }>("/v1/dashboard/logins", {});
      const forward = await forwardToUnixSocket({
        host: "127.0.0.1",
        port,
        socketPath: join(client.home, DASHBOARD_SOCKET),
      });
      const url = `http://127.0.0.1:${forward.port}/login?code=${encodeURIComponent(login.code)}`;
      process.stdout.write(`dashboard: ${url}\n(the link works once; Ctrl-C stops serving it)\n`);
      if (flags.browser) await openBrowser(url);
      await untilStopSignal();
      await forward.close();
    });
}

/** xdg-open when the machine has it; else the printed URL is the way in. */
async function openBrowser(url: string): Promise<void> {
  const { spawn } = await import("node:child_process");
  const { access, constants } = await import("node:fs/promises");
  const { delimiter, join } = await import("node:path");
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const exe = join(dir, "xdg-open");
    const found = await access(exe, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!found) continue;
    const child = spawn(exe, [url], { detached: true, stdio: "ignore" });
    child.on("error", () => process.stderr.write("xdg-open failed; open the URL above by hand\n"));
    child.unref();
    return;
  }
  process.stderr.write("no xdg-open here; open the URL above in a browser\n");
}
