/**
 * A TCP send buffer large enough that a write on the socket is never left pending: what lets an
 * HBONE client session run on its TLS socket directly instead of `UnblockedWrites`
 * (src/hbone/unblocked-writes.ts explains the deadlock both prevent).
 *
 * `SO_SNDBUFFORCE` sets the limit past `net.core.wmem_max`; it needs CAP_NET_ADMIN, which a
 * ztunnel has (it programs iptables). The limit is a ceiling, not an allocation: the kernel
 * allocates only for data actually queued. Numbers from Linux's asm-generic/socket.h.
 */
import type { Socket } from "node:net";
import { getsockoptInt, nativeAvailable, setsockoptInt } from "./native.js";
import { socketFd } from "./original-dst.js";

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_SNDBUFFORCE = 32;

/**
 * Asks the kernel to accept `bytes` of unsent data on `socket` (it doubles the value for its own
 * bookkeeping, and counts that bookkeeping against it). True when the limit is now at least that;
 * false, with the socket unchanged or only partly raised, when the addon is missing, the process
 * lacks CAP_NET_ADMIN, or the socket has no descriptor.
 */
export function reserveSendBuffer(socket: Socket, bytes: number): boolean {
  if (!nativeAvailable()) return false;
  try {
    const fd = socketFd(socket);
    setsockoptInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes);
    return getsockoptInt(fd, SOL_SOCKET, SO_SNDBUF) >= 2 * bytes;
  } catch {
    return false;
  }
}
