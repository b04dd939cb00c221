import { AmbitError } from "../../errors.js";

/** Error catalogue of the health model. Tests assert on `code`; docs/health.md lists each with its fix. */
export const HealthErrorCode = {
  /** A metrics body is not Prometheus text exposition format (the message names the line). */
  BadExposition: "HEALTH_ERR_BAD_EXPOSITION",
  /** A threshold override is not a finite number. */
  BadThreshold: "HEALTH_ERR_BAD_THRESHOLD",
} as const;
export type HealthErrorCode = (typeof HealthErrorCode)[keyof typeof HealthErrorCode];

export class HealthError extends AmbitError {
  constructor(code: HealthErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "HealthError";
  }
}
