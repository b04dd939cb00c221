import { AmbitError } from "../errors.js";

/**
 * The waypoint's error catalogue. Wire mapping happens in one place: HBONE CONNECTs get an HTTP
 * status in `waypoint.ts`, HTTP requests a status and a plain-text body in `http-proxy.ts`.
 * Tests assert on `code`.
 */
export const WaypointErrorCode = {
  /** A listener's port is taken or cannot be bound. */
  Bind: "WP_ERR_BIND",
  /** A command-line option or `WaypointOptions` field is invalid. */
  Config: "WP_ERR_CONFIG",
  /** A CONNECT target is not a service (or workload) this waypoint fronts. */
  UnknownTarget: "WP_ERR_UNKNOWN_TARGET",
  /** L7 or L4 AuthorizationPolicy denied the request. */
  Denied: "WP_ERR_DENIED",
  /** The route's backend has no healthy endpoint (Envoy's "no healthy upstream"). */
  NoEndpoint: "WP_ERR_NO_ENDPOINT",
  /** Connecting to (or talking with) the upstream failed. */
  Upstream: "WP_ERR_UPSTREAM",
  /** The upstream did not answer within the route's timeout. */
  Timeout: "WP_ERR_TIMEOUT",
  /** The client sent a request the HTTP/1.1 parser rejects (smuggling, bad framing, oversize). */
  BadRequest: "WP_ERR_BAD_REQUEST",
  /** The waypoint's own certificate could not be obtained. */
  Certificate: "WP_ERR_CERTIFICATE",
} as const;
export type WaypointErrorCode = (typeof WaypointErrorCode)[keyof typeof WaypointErrorCode];

export class WaypointError extends AmbitError {
  constructor(code: WaypointErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "WaypointError";
  }
}
