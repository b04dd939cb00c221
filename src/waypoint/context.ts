/** What every connection handler of a waypoint shares. */
import type { HbonePool } from "../hbone/pool.js";
import type { WorkloadCredential } from "../identity/credential.js";
import type { SpiffeId } from "../identity/spiffe.js";
import type { AccessLog } from "../telemetry/access-log.js";
import type { Logger } from "../telemetry/logger.js";
import type { MeshMetrics } from "../telemetry/metrics.js";
import type { AddressBook, WaypointService } from "./address-book.js";
import type { WaypointConfig } from "./config.js";
import type { L7Snapshot } from "./l7-config.js";

export interface WaypointContext {
  readonly config: WaypointConfig;
  readonly book: AddressBook;
  l7(): L7Snapshot;
  /** The waypoint's own credential (present once ready). */
  credential(): WorkloadCredential | undefined;
  readonly pool: HbonePool;
  readonly metrics: MeshMetrics;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  /** Round-robin index per key. */
  next(key: string, n: number): number;
}

/** One HBONE CONNECT that reached the waypoint. */
export interface InboundConnection {
  readonly connId: string;
  /** From the verified client certificate. */
  readonly peer: SpiffeId;
  readonly peerIp: string;
  readonly service: WaypointService;
  readonly vip: string;
  readonly port: number;
}
