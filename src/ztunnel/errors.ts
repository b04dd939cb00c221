import { AmbitError } from "../errors.js";

/**
 * The ztunnel's error catalogue. Wire mapping happens in one place per listener: HBONE answers
 * with an HTTP status (see `inbound.ts`), SOCKS5 with a reply code (`socks5.ts`), capture
 * listeners with a close/RST. Tests assert on `code`.
 */
export const ZtunnelErrorCode = {
  /** A listener's port is taken or cannot be bound. */
  Bind: "ZT_ERR_BIND",
  /** A command-line option or `ZtunnelOptions` field is invalid. */
  Config: "ZT_ERR_CONFIG",
  /** An xDS resource failed validation (it is NACKed; the last good config stays). */
  BadResource: "ZT_ERR_BAD_RESOURCE",
  /** The connection was refused by policy (L4 AuthorizationPolicy, PeerAuthentication). */
  Denied: "ZT_ERR_DENIED",
  /** An inbound target is not a workload on this node: ztunnel is never an open relay. */
  NotLocal: "ZT_ERR_NOT_LOCAL",
  /** No route: a service without healthy endpoints, an unresolvable waypoint. */
  NoRoute: "ZT_ERR_NO_ROUTE",
  /** A SOCKS5 client sent a malformed, oversized or too slow handshake. */
  Socks5: "ZT_ERR_SOCKS5",
  /** The original destination of a captured socket could not be read. */
  OriginalDst: "ZT_ERR_ORIGINAL_DST",
  /** Connecting to the destination (pod or HBONE peer) failed. */
  Upstream: "ZT_ERR_UPSTREAM",
  /** No certificate could be obtained for a local workload's identity. */
  Certificate: "ZT_ERR_CERTIFICATE",
} as const;
export type ZtunnelErrorCode = (typeof ZtunnelErrorCode)[keyof typeof ZtunnelErrorCode];

export class ZtunnelError extends AmbitError {
  constructor(code: ZtunnelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ZtunnelError";
  }
}
