/** Public entry of the HBONE library: the mTLS HTTP/2 CONNECT tunnel (client pool, server, double HBONE). */
export { createDoubleHbonePool, type DoubleHboneOptions } from "./double.js";
export { certificateErrorCode, HboneError, HboneErrorCode, isHboneError } from "./errors.js";
export {
  buildBaggage,
  buildForwarded,
  type ConnectHeaders,
  type ConnectTarget,
  formatAuthority,
  formatTraceParent,
  newTraceParent,
  parseAuthority,
  parseBaggage,
  parseForwarded,
  parseTraceParent,
  type SourceMetadata,
  type TraceParent,
} from "./headers.js";
export {
  type Destination,
  HbonePool,
  type HbonePoolEvents,
  type HbonePoolOptions,
  type HbonePoolStats,
  type PoolConnectParams,
  type SessionCloseReason,
  type SocketConnector,
} from "./pool.js";
export {
  type ConnectDecision,
  type ConnectRecord,
  type ConnectRequest,
  HboneServer,
  type HboneServerOptions,
  type HboneServerStats,
  type OriginalDestination,
} from "./server.js";
export { type SpliceResult, splice } from "./splice.js";
export { realTimers, type TimerHandle, type Timers } from "./timers.js";
export { DEFAULT_CIPHER_SUITES, type WorkloadCredential } from "./tls.js";
