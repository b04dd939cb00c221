/**
 * The command-phase commands (first payload byte of a client packet) and what the relay does with each:
 * which statement kind it is judged as, and what shape the server's response has (so the relay knows
 * when the next command may start). Sources: MySQL's `enum_server_command` and MariaDB's
 * mariadb.com/kb/en/clientserver-protocol/ (COM_STMT_BULK_EXECUTE 0xFA, COM_MULTI 0xFE).
 */
import type { StatementKind } from "./statement.js";

/** The shape of the server's reply, which the response tracker follows. */
export type ResponseShape =
  /** OK, ERR, LOCAL INFILE request or result sets, chained by SERVER_MORE_RESULTS_EXISTS. */
  | "result"
  /** COM_STMT_PREPARE_OK followed by parameter and column definitions, or ERR. */
  | "prepare"
  /** Rows of an open cursor, ending in EOF/OK, or ERR. */
  | "fetch"
  /** Column definitions ending in EOF (COM_FIELD_LIST), or ERR. */
  | "columns"
  /** Exactly one packet: OK, EOF or ERR, or a plain string (COM_STATISTICS). */
  | "single"
  /** No reply at all. */
  | "none";

export type CommandHandling =
  /** Session plumbing: always forwarded, never judged. */
  | { readonly kind: "plumbing" }
  /** Judged as a fixed statement kind. */
  | { readonly kind: "fixed"; readonly statement: StatementKind }
  /** The payload after the command byte is SQL text to classify. */
  | { readonly kind: "query" }
  | { readonly kind: "prepare" }
  /** Judged as the kind of the prepared statement it names. */
  | { readonly kind: "execute" }
  /** Refused with an ERR whatever the policy (replication streams, user switches…). */
  | { readonly kind: "unsupported" };

export interface CommandSpec {
  readonly code: number;
  readonly name: string;
  readonly handling: CommandHandling;
  readonly response: ResponseShape;
}

const PLUMBING = { kind: "plumbing" } as const;
const UNSUPPORTED = { kind: "unsupported" } as const;

function fixed(statement: StatementKind): CommandHandling {
  return { kind: "fixed", statement };
}

export const Command = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  PING: 0x0e,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  RESET_CONNECTION: 0x1f,
} as const;

const SPECS: readonly CommandSpec[] = [
  { code: 0x00, name: "COM_SLEEP", handling: UNSUPPORTED, response: "single" },
  { code: 0x01, name: "COM_QUIT", handling: PLUMBING, response: "none" },
  { code: 0x02, name: "COM_INIT_DB", handling: fixed("USE"), response: "single" },
  { code: 0x03, name: "COM_QUERY", handling: { kind: "query" }, response: "result" },
  { code: 0x04, name: "COM_FIELD_LIST", handling: fixed("SHOW"), response: "columns" },
  { code: 0x05, name: "COM_CREATE_DB", handling: fixed("CREATE"), response: "single" },
  { code: 0x06, name: "COM_DROP_DB", handling: fixed("DROP"), response: "single" },
  { code: 0x07, name: "COM_REFRESH", handling: fixed("FLUSH"), response: "single" },
  { code: 0x08, name: "COM_SHUTDOWN", handling: fixed("SHUTDOWN"), response: "single" },
  { code: 0x09, name: "COM_STATISTICS", handling: fixed("SHOW"), response: "single" },
  { code: 0x0a, name: "COM_PROCESS_INFO", handling: fixed("SHOW"), response: "result" },
  { code: 0x0b, name: "COM_CONNECT", handling: UNSUPPORTED, response: "single" },
  { code: 0x0c, name: "COM_PROCESS_KILL", handling: fixed("KILL"), response: "single" },
  { code: 0x0d, name: "COM_DEBUG", handling: fixed("UNKNOWN"), response: "single" },
  { code: 0x0e, name: "COM_PING", handling: PLUMBING, response: "single" },
  { code: 0x0f, name: "COM_TIME", handling: UNSUPPORTED, response: "single" },
  { code: 0x10, name: "COM_DELAYED_INSERT", handling: UNSUPPORTED, response: "single" },
  // Re-authentication as another user mid-session: the relay would have to follow a new auth exchange.
  { code: 0x11, name: "COM_CHANGE_USER", handling: UNSUPPORTED, response: "single" },
  { code: 0x12, name: "COM_BINLOG_DUMP", handling: UNSUPPORTED, response: "none" },
  { code: 0x13, name: "COM_TABLE_DUMP", handling: UNSUPPORTED, response: "none" },
  { code: 0x14, name: "COM_CONNECT_OUT", handling: UNSUPPORTED, response: "none" },
  { code: 0x15, name: "COM_REGISTER_SLAVE", handling: UNSUPPORTED, response: "none" },
  { code: 0x16, name: "COM_STMT_PREPARE", handling: { kind: "prepare" }, response: "prepare" },
  { code: 0x17, name: "COM_STMT_EXECUTE", handling: { kind: "execute" }, response: "result" },
  { code: 0x18, name: "COM_STMT_SEND_LONG_DATA", handling: PLUMBING, response: "none" },
  { code: 0x19, name: "COM_STMT_CLOSE", handling: PLUMBING, response: "none" },
  { code: 0x1a, name: "COM_STMT_RESET", handling: PLUMBING, response: "single" },
  // Only toggles multi-statements; the relay tracks it (see session.ts).
  { code: 0x1b, name: "COM_SET_OPTION", handling: PLUMBING, response: "single" },
  // Fetches rows of a cursor opened by an already authorised COM_STMT_EXECUTE.
  { code: 0x1c, name: "COM_STMT_FETCH", handling: PLUMBING, response: "fetch" },
  { code: 0x1d, name: "COM_DAEMON", handling: UNSUPPORTED, response: "none" },
  { code: 0x1e, name: "COM_BINLOG_DUMP_GTID", handling: UNSUPPORTED, response: "none" },
  { code: 0x1f, name: "COM_RESET_CONNECTION", handling: PLUMBING, response: "single" },
  { code: 0xfa, name: "COM_STMT_BULK_EXECUTE", handling: UNSUPPORTED, response: "none" },
  { code: 0xfe, name: "COM_MULTI", handling: UNSUPPORTED, response: "none" },
];

const BY_CODE: ReadonlyMap<number, CommandSpec> = new Map(SPECS.map((s) => [s.code, s]));

/** The spec of a command byte, or undefined when the byte is no command at all (garbage). */
export function commandSpec(code: number): CommandSpec | undefined {
  return BY_CODE.get(code);
}
