import { pino } from "pino";

/** The slice of pino the control plane uses; tests pass a silent or capturing one. */
export type ControlLogger = Pick<pino.Logger, "info" | "warn" | "error" | "debug">;

export function silentLogger(): ControlLogger {
  return pino({ level: "silent" });
}

/** JSON lines on stderr, so stdout stays free for command output. */
export function defaultLogger(level = "info"): ControlLogger {
  return pino({ level, base: { component: "control" } }, pino.destination(2));
}
