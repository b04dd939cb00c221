import { AmbitError } from "../errors.js";

/** Error catalogue of the telemetry library. Tests assert on `code`. */
export const TelemetryErrorCode = {
  /** An environment variable holds a value ambit cannot use. */
  BadEnv: "TEL_ERR_BAD_ENV",
  /** A log level name is not one pino knows. */
  BadLogLevel: "TEL_ERR_BAD_LOG_LEVEL",
  /** An OTLP exporter setting (endpoint URL, protocol, batch or queue size) is unusable. */
  BadOtlpConfig: "TEL_ERR_BAD_OTLP_CONFIG",
} as const;
export type TelemetryErrorCode = (typeof TelemetryErrorCode)[keyof typeof TelemetryErrorCode];

export class TelemetryError extends AmbitError {
  constructor(code: TelemetryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "TelemetryError";
  }
}
