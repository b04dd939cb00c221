/**
 * The destination a captured client dialled. With nat REDIRECT the accepted socket's local
 * address is the node's own (port 15001/15006/15008); conntrack keeps the original tuple and
 * SO_ORIGINAL_DST reads it back. (With TPROXY, later, the local address already is the original.)
 */
import type { Socket } from "node:net";
import { PlatformError, PlatformErrorCode, SyscallError } from "./errors.js";
import { getOriginalDst, type SocketAddress } from "./native.js";

/** Node keeps the libuv handle on `_handle`; only its numeric `fd` is read here. */
interface SocketWithHandle {
  readonly _handle?: { readonly fd?: unknown } | null;
}

export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as SocketWithHandle)._handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    throw new PlatformError(
      PlatformErrorCode.NO_FD,
      "the socket has no file descriptor (not a connected TCP socket, or already destroyed)",
    );
  }
  return fd;
}

function unmapped(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/**
 * Original destination of an accepted, redirected TCP connection. Throws PLAT_ERR_NOT_REDIRECTED
 * when no nat rule rewrote it (conntrack has no entry, or the original destination is the
 * listener itself): a client connected to the capture port directly, which a proxy must refuse
 * rather than loop back into itself.
 */
export function originalDst(socket: Socket): SocketAddress {
  const fd = socketFd(socket);
  let dst: SocketAddress;
  try {
    dst = getOriginalDst(fd);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === "ENOENT") {
      throw new PlatformError(
        PlatformErrorCode.NOT_REDIRECTED,
        `connection from ${socket.remoteAddress}:${socket.remotePort} to ${socket.localAddress}:${socket.localPort} ` +
          "was not redirected (no conntrack NAT entry): it reached the capture port directly",
        { cause: e },
      );
    }
    throw e;
  }
  const local = socket.localAddress === undefined ? undefined : unmapped(socket.localAddress);
  if (dst.address === local && dst.port === socket.localPort) {
    throw new PlatformError(
      PlatformErrorCode.NOT_REDIRECTED,
      `connection from ${socket.remoteAddress}:${socket.remotePort} to ${local}:${dst.port} was not redirected: ` +
        "its original destination is the listener itself",
    );
  }
  return dst;
}
