/**
 * Sockets in another network namespace, opened from this process: what Istio's ztunnel does in
 * "in-pod" mode (listen inside each pod's netns from one node process). The socket is created in
 * the namespace by the addon; the connection or listener then works from any thread.
 */
import { closeSync } from "node:fs";
import { isIP, type Server, Socket, type SocketConstructorOpts } from "node:net";
import { invalid } from "./errors.js";
import {
  constants,
  createListenSocket,
  createSocket,
  type ListenSocketOptions,
  setsockoptInt,
} from "./native.js";
import { netnsPath } from "./netns.js";

export interface ListenOptions extends Omit<ListenSocketOptions, "netns"> {
  /** Name of the network namespace (under /run/netns); omitted = the process's own. */
  readonly netns?: string;
}

/**
 * Makes `server` listen on a socket created by the addon (so it can be transparent, reuse-port,
 * marked, or inside another netns). Resolves once listening; the fd is closed on failure.
 */
export function listenOn(server: Server, options: ListenOptions): Promise<void> {
  const { netns, ...socketOptions } = options;
  const fd = createListenSocket(
    netns === undefined ? socketOptions : { ...socketOptions, netns: netnsPath(netns) },
  );
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off("listening", onListening);
      try {
        closeSync(fd);
      } catch {
        // Node may already own and have closed it.
      }
      reject(err);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ fd });
  });
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Name of the network namespace the connection leaves from. */
  readonly netns: string;
  readonly allowHalfOpen?: boolean;
  /** SO_MARK on the socket (CAP_NET_ADMIN): lets capture rules recognise it. */
  readonly mark?: number;
}

/** A TCP connection from inside `netns`. Returns at once; listen for `connect`/`error` as usual. */
export function connectFrom(options: ConnectOptions): Socket {
  const family = isIP(options.host);
  if (family === 0) throw invalid(`connectFrom: host must be an IP literal, got "${options.host}"`);
  const fd = createSocket({ family: family === 6 ? 6 : 4, netns: netnsPath(options.netns) });
  if (options.mark !== undefined) {
    try {
      setsockoptInt(fd, constants().SOL_SOCKET, constants().SO_MARK, options.mark);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
  const socketOptions: SocketConstructorOpts = { fd, allowHalfOpen: options.allowHalfOpen ?? false };
  const socket = new Socket(socketOptions);
  socket.connect({ host: options.host, port: options.port });
  return socket;
}

/** Whether `host:port` accepts a TCP connection from inside `netns` within `timeoutMs`. */
export function acceptsConnection(
  netns: string,
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: Socket;
    try {
      socket = connectFrom({ netns, host, port });
    } catch {
      resolve(false);
      return;
    }
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
