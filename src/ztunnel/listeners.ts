/** Binding at start-up: every listener is opened before the daemon reports itself started. */
import { closeSync, writeFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { isIP } from "node:net";
import { inNetns } from "../platform/native.js";
import { netnsPath } from "../platform/netns.js";
import type { Logger } from "../telemetry/logger.js";
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

/**
 * A hand-over successor's traffic listener: bound now (a port held by a program without
 * SO_REUSEPORT still fails start-up), listening only from `listenDeferred` on — a reuse-port
 * socket gets its share of new connections from listen(), which must wait until the ztunnel has
 * its config and certificates, or it would take connections it cannot serve yet.
 */
export interface DeferredListener {
  readonly server: net.Server;
  readonly fd: number;
}

export async function bindDeferred(
  server: net.Server,
  host: string,
  port: number,
  role: string,
): Promise<{ deferred: DeferredListener; address: net.AddressInfo }> {
  const { createListenSocket } = await import("../platform/native.js");
  let fd: number;
  try {
    fd = createListenSocket({ address: host, port, reusePort: true, listen: false });
  } catch (e) {
    const errno = (e as { errno?: unknown }).errno;
    throw bindError(e, typeof errno === "string" ? errno : (e as Error).message, host, port, role);
  }
  return {
    deferred: { server, fd },
    address: { address: host, port, family: isIP(host) === 6 ? "IPv6" : "IPv4" },
  };
}

export function listenDeferred(d: DeferredListener): Promise<void> {
  return new Promise((resolve, reject) => {
    d.server.once("error", reject);
    d.server.listen({ fd: d.fd }, () => {
      d.server.removeListener("error", reject);
      d.server.on("error", () => {});
      resolve();
    });
  });
}

/** Releases a deferred listener that never listened (start-up failed, or closed before ready). */
export function releaseDeferred(d: DeferredListener): void {
  if (d.server.listening) return;
  try {
    closeSync(d.fd);
  } catch {
    // Already closed.
  }
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

/**
 * Closing a listener resets the connections still in its accept queue, unless the kernel may move
 * them to another listener of the same SO_REUSEPORT group (Linux ≥ 5.14, per netns sysctl).
 * /proc/sys/net is the writer's own network namespace: the node's, or with `netns` (in-pod) that
 * pod's, entered for the write.
 */
export function allowQueueMigration(logger: Logger, netns?: string): void {
  const write = (): void => writeFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "1");
  try {
    if (netns === undefined) write();
    else inNetns(netnsPath(netns), write);
  } catch (e) {
    logger.warn(
      netns === undefined ? {} : { netns },
      `cannot enable net.ipv4.tcp_migrate_req${netns === undefined ? "" : " in the pod's netns"} (${(e as Error).message}): connections queued at a hand-over may be reset`,
    );
  }
}
