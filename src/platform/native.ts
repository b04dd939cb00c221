/**
 * Typed access to the native addon (native/src/ambit_native.cc): the socket and namespace calls
 * Node does not expose. Loaded lazily, once; a missing build fails with PLAT_ERR_ADDON_MISSING
 * and the command that builds it. Syscall failures become SyscallError (PLAT_ERR_SYSCALL).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PlatformError, PlatformErrorCode, SyscallError } from "./errors.js";

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface NativeConstants {
  readonly SOL_SOCKET: number;
  readonly SOL_IP: number;
  readonly SOL_IPV6: number;
  readonly IPPROTO_TCP: number;
  readonly SO_REUSEADDR: number;
  readonly SO_REUSEPORT: number;
  readonly SO_MARK: number;
  readonly SO_KEEPALIVE: number;
  readonly IP_TRANSPARENT: number;
  readonly IPV6_TRANSPARENT: number;
  readonly IP_FREEBIND: number;
  readonly TCP_NODELAY: number;
  readonly SO_ORIGINAL_DST: number;
}

export interface ListenSocketOptions {
  /** An IPv4 or IPv6 literal (`0.0.0.0`, `::`, `10.244.1.2`). */
  readonly address: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** IP_TRANSPARENT: accept connections for non-local addresses (TPROXY). Needs CAP_NET_ADMIN. */
  readonly transparent?: boolean;
  /** SO_REUSEPORT: several listeners (processes or threads) share one port. */
  readonly reusePort?: boolean;
  /** SO_MARK on the listener (and so on accepted sockets). Needs CAP_NET_ADMIN. */
  readonly mark?: number;
  readonly backlog?: number;
  /** Path of a network namespace (`/run/netns/<name>`) to create the socket in. */
  readonly netns?: string;
  /**
   * false: bind only; `server.listen({ fd })` listens later. A reuse-port socket takes a share of
   * new connections from listen() on, so a successor binds early and listens once it is ready.
   */
  readonly listen?: boolean;
}

export interface SocketOptions {
  readonly family: 4 | 6;
  readonly netns?: string;
}

interface RawAddon {
  getOriginalDst(fd: number): SocketAddress;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  createListenSocket(options: ListenSocketOptions): number;
  createSocket(options: SocketOptions): number;
  inNetns(path: string, fn: () => unknown): unknown;
  currentNetnsInode(): string;
  mallocTrim(): boolean;
  constants: NativeConstants;
}

const ADDON_RELATIVE = join("native", "build", "Release", "ambit_native.node");

let cached: RawAddon | undefined;

/** The addon sits at the package root; this file runs from src/platform or dist/src/platform. */
function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, "..", "..", ADDON_RELATIVE), join(here, "..", "..", "..", ADDON_RELATIVE)];
}

function load(): RawAddon {
  if (cached) return cached;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new PlatformError(
      PlatformErrorCode.ADDON_MISSING,
      `the native addon is not built (looked for ${candidates.join(", ")}); run scripts/setup.sh ` +
        "(or `npx node-gyp rebuild --directory native --nodedir=/usr`)",
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as RawAddon;
  } catch (cause) {
    throw new PlatformError(
      PlatformErrorCode.ADDON_MISSING,
      `the native addon at ${path} cannot be loaded (built for another Node version?); run scripts/setup.sh`,
      { cause },
    );
  }
  return cached;
}

/** True when the addon is built; lets callers pick a fallback (e.g. SOCKS5 capture) up front. */
export function nativeAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

interface AddonErrorShape {
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
}

/** Turns the addon's errno errors into SyscallError; TypeErrors (bad arguments) pass through. */
function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const shape = (typeof e === "object" && e !== null ? e : {}) as AddonErrorShape;
    if (typeof shape.syscall === "string" && typeof shape.code === "string") {
      throw new SyscallError(shape.syscall, shape.code, String(shape.message), { cause: e });
    }
    throw e;
  }
}

/** glibc's `malloc_trim(0)`: hands the free pages of every malloc arena back; true if any went. */
export function mallocTrim(): boolean {
  return load().mallocTrim();
}

export function constants(): NativeConstants {
  return load().constants;
}

/** SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6) of an accepted socket's fd. */
export function getOriginalDst(fd: number): SocketAddress {
  const addon = load();
  return call(() => addon.getOriginalDst(fd));
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const addon = load();
  call(() => addon.setsockoptInt(fd, level, name, value));
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  const addon = load();
  return call(() => addon.getsockoptInt(fd, level, name));
}

/** A bound, listening, non-blocking fd for `server.listen({ fd })`. The caller owns the fd. */
export function createListenSocket(options: ListenSocketOptions): number {
  const addon = load();
  return call(() => addon.createListenSocket(options));
}

/** An unconnected non-blocking TCP fd (in `netns` when given) for `new net.Socket({ fd }).connect()`. */
export function createSocket(options: SocketOptions): number {
  const addon = load();
  return call(() => addon.createSocket(options));
}

/**
 * Runs `fn` with the JS thread inside the network namespace at `path` and switches back before
 * returning, also when `fn` throws. `fn` must be synchronous and only create sockets through this
 * module: Node binds its own sockets later (after a DNS lookup or on the next tick), which would
 * happen back in the original namespace.
 */
export function inNetns<T>(path: string, fn: () => T): T {
  const addon = load();
  const result = call(() => addon.inNetns(path, fn)) as T;
  if (
    typeof result === "object" &&
    result !== null &&
    typeof (result as { then?: unknown }).then === "function"
  ) {
    // Its rejection would otherwise surface later as an unhandled one, far from the cause.
    Promise.resolve(result).catch(() => undefined);
    throw new PlatformError(
      PlatformErrorCode.NETNS_ASYNC,
      `inNetns(${path}) got an async callback; only its synchronous part ran inside the namespace. ` +
        "Create the socket synchronously (createListenSocket/createSocket) and use it afterwards",
    );
  }
  return result;
}

/** `net:[<inode>]` of the calling thread's namespace. */
export function currentNetns(): string {
  return load().currentNetnsInode();
}
