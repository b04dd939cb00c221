/** Binding at start-up: every listener is opened before the daemon reports itself started. */
import http from "node:http";
import type net from "node:net";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";

export type Bound =
  | { readonly kind: "tcp"; readonly server: net.Server }
  | { readonly kind: "http"; readonly server: http.Server };

export async function listenOn(
  server: net.Server,
  host: string,
  port: number,
  role: string,
  reusePort = false,
): Promise<net.AddressInfo> {
  if (reusePort) {
    // Node 20 has no reusePort option: the addon makes the socket, Node adopts the fd.
    const { listenOn: listenOnSocket } = await import("../platform/netns-sockets.js");
    try {
      await listenOnSocket(server, { address: host, port, reusePort: true });
    } catch (e) {
      // The addon's SyscallError carries the errno name in `errno`, Node's errors in `code`.
      const errno = (e as { errno?: unknown }).errno;
      throw bindError(e, typeof errno === "string" ? errno : (e as Error).message, host, port, role);
    }
    server.on("error", () => {});
    return server.address() as net.AddressInfo;
  }
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void =>
      reject(bindError(e, e.code ?? e.message, host, port, role));
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener("error", onError);
      server.on("error", () => {});
      resolve(server.address() as net.AddressInfo);
    });
  });
}

function bindError(cause: unknown, code: string, host: string, port: number, role: string): ZtunnelError {
  const why =
    code === "EADDRINUSE"
      ? "is already in use (another ztunnel, or another program): stop it or choose another port"
      : code === "EADDRNOTAVAIL"
        ? "is not an address of this machine / network namespace"
        : code === "EACCES"
          ? "needs privileges to bind"
          : `cannot be bound (${code})`;
  return new ZtunnelError(ZtunnelErrorCode.Bind, `port ${port} (${role}) on ${host} ${why}`, { cause });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
  });
}
