/** Binding at start-up: every listener is opened before the daemon reports itself started. */
import http from "node:http";
import type net from "node:net";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";

export type Bound =
  | { readonly kind: "tcp"; readonly server: net.Server }
  | { readonly kind: "http"; readonly server: http.Server };

export function listenOn(
  server: net.Server,
  host: string,
  port: number,
  role: string,
): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why =
        e.code === "EADDRINUSE"
          ? "is already in use (another ztunnel, or another program): stop it or choose another port"
          : e.code === "EADDRNOTAVAIL"
            ? "is not an address of this machine / network namespace"
            : e.code === "EACCES"
              ? "needs privileges to bind"
              : `cannot be bound (${e.code ?? e.message})`;
      reject(
        new ZtunnelError(ZtunnelErrorCode.Bind, `port ${port} (${role}) on ${host} ${why}`, { cause: e }),
      );
    };
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener("error", onError);
      server.on("error", () => {});
      resolve(server.address() as net.AddressInfo);
    });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
  });
}
