/**
 * Error catalogue of the waypoint's MySQL relay (`WP_ERR_MYSQL_…`). A protocol error closes only the
 * session it happened in; the code says why, for logs and tests.
 */
import { AmbitError } from "../../errors.js";

export const MysqlErrorCode = {
  /** A packet longer than the configured limit (or a 16 MiB continuation chain beyond it). */
  PACKET_TOO_LARGE: "WP_ERR_MYSQL_PACKET_TOO_LARGE",
  /** A packet that breaks the protocol: wrong sequence id, empty command, truncated fields. */
  MALFORMED_PACKET: "WP_ERR_MYSQL_MALFORMED_PACKET",
  /** A command byte that is not a MySQL/MariaDB command at all. */
  UNKNOWN_COMMAND: "WP_ERR_MYSQL_UNKNOWN_COMMAND",
  /** The client asked for TLS inside the tunnel (CLIENT_SSL), or lacks CLIENT_PROTOCOL_41. */
  UNSUPPORTED_HANDSHAKE: "WP_ERR_MYSQL_UNSUPPORTED_HANDSHAKE",
  /** A relay option is out of range. */
  BAD_CONFIG: "WP_ERR_MYSQL_BAD_CONFIG",
} as const;
export type MysqlErrorCode = (typeof MysqlErrorCode)[keyof typeof MysqlErrorCode];

export class MysqlError extends AmbitError {
  constructor(code: MysqlErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "MysqlError";
  }
}
