/**
 * Operators see why pooled HBONE sessions end: a session lost to a peer reset, a GOAWAY or an unanswered
 * PING takes every stream on it down, so it is logged at `warn` with its cause; routine ends (idle,
 * certificate rotation, shutdown, a removed pod's sessions) only at `debug`.
 */
import type { Logger } from "../telemetry/logger.js";
import type { HbonePool, SessionCloseReason } from "./pool.js";

const ROUTINE: ReadonlySet<SessionCloseReason> = new Set([
  "idle",
  "rotated",
  "pool-closed",
  "origin-removed",
]);

export function logPoolSessions(pool: HbonePool, logger: Logger): void {
  pool.on("session-open", (e) => logger.debug({ session: e.key, writes: e.writes }, "HBONE session opened"));
  pool.on("session-close", (e) => {
    const fields = {
      session: e.key,
      reason: e.reason,
      ...(e.error !== undefined ? { err: e.error } : {}),
      ...(e.goaway !== undefined ? { goaway_code: e.goaway } : {}),
    };
    if (ROUTINE.has(e.reason)) logger.debug(fields, "HBONE session closed");
    else logger.warn(fields, "HBONE session lost");
  });
}
