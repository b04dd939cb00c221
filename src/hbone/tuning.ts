/**
 * HTTP/2 and timing defaults both HBONE directions use. Numbers come from istio/ztunnel's
 * defaults where they exist and from measurements on this project's machines (docs/hbone.md).
 */
import { HboneError, HboneErrorCode } from "./errors.js";

/** Streams per session; ztunnel's pool uses 100 (the RFC 9113 recommended minimum). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100;
/**
 * Per-stream receive window. The 64 KiB default caps one stream at ~100 MB/s on loopback here;
 * 8 MiB lets a single stream fill the pipe (PLATFORM-NOTES "HTTP/2 CONNECT over mTLS").
 */
export const DEFAULT_STREAM_WINDOW = 8 * 1024 * 1024;
/** Session receive window: two full stream windows, so one bulk stream cannot starve the rest. */
export const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024;
/** Larger DATA frames mean fewer frame headers and fewer nghttp2 callbacks per megabyte. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;
/** ztunnel bounds header blocks at 64 KiB: HBONE requests carry a handful of small headers. */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;
export const DEFAULT_MAX_HEADER_PAIRS = 64;
/** nghttp2 memory budget per session (Node's default 10 MB is below two full windows). */
export const DEFAULT_MAX_SESSION_MEMORY_MB = 64;

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** ztunnel's pool releases unused connections after 5 minutes. */
export const DEFAULT_POOL_IDLE_TIMEOUT_MS = 5 * 60_000;
/** The server waits longer than clients, so the client (which knows it is idle) closes first. */
export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_PING_INTERVAL_MS = 10_000;
export const DEFAULT_PING_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing server lets streams finish before it destroys their sessions. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

export function requirePositiveInt(
  name: string,
  value: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HboneError(
      HboneErrorCode.CONFIG,
      `${name} must be an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

export interface FlowControlOptions {
  streamWindowSize?: number;
  connectionWindowSize?: number;
  maxFrameSize?: number;
}

/** Window and frame sizes, defaulted and checked against RFC 9113's bounds (both HBONE directions). */
export function flowControlSettings(o: FlowControlOptions): Required<FlowControlOptions> {
  return {
    streamWindowSize: requirePositiveInt(
      "streamWindowSize",
      o.streamWindowSize ?? DEFAULT_STREAM_WINDOW,
      65_535,
      2 ** 31 - 1,
    ),
    connectionWindowSize: requirePositiveInt(
      "connectionWindowSize",
      o.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW,
      65_535,
      2 ** 31 - 1,
    ),
    maxFrameSize: requirePositiveInt(
      "maxFrameSize",
      o.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      16_384,
      2 ** 24 - 1,
    ),
  };
}
