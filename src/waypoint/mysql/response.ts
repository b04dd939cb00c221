/**
 * Follows the server's reply to one command, packet head by packet head, to tell when it is complete
 * (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html). MySQL is strictly one
 * command, one reply; the relay reads the next client command only once this tracker says `done`.
 *
 * A result is OK | ERR | LOCAL INFILE request | result set (column count, column definitions, [EOF],
 * rows, EOF — or, with CLIENT_DEPRECATE_EOF, no middle EOF and an OK packet with a 0xFE header at the
 * end). An OK or final EOF with SERVER_MORE_RESULTS_EXISTS announces another result (multi-statements,
 * stored procedures); an ERR ends the whole reply.
 */
import type { ResponseShape } from "./commands.js";
import {
  eofStatus,
  MAX_FRAME_PAYLOAD,
  okStatus,
  type PacketHead,
  readLenEnc,
  ServerStatus,
} from "./packets.js";

export type ResponseState =
  | { readonly state: "first" }
  | { readonly state: "columns"; readonly left: number }
  | { readonly state: "columns-eof" }
  | { readonly state: "rows" }
  | { readonly state: "definitions"; readonly left: number }
  | { readonly state: "field-list" }
  | { readonly state: "single" }
  /** The server asked for a LOCAL INFILE: the client's file packets flow until an empty one. */
  | { readonly state: "infile" }
  | { readonly state: "done" };

/** MariaDB progress reports travel as ERR packets with code 0xFFFF; they never end a reply. */
const PROGRESS_CODE = 0xffff;

function isErr(p: PacketHead): boolean {
  return p.head[0] === 0xff && !(p.head.length >= 3 && p.head.readUInt16LE(1) === PROGRESS_CODE);
}

function isProgress(p: PacketHead): boolean {
  return p.head[0] === 0xff && p.head.length >= 3 && p.head.readUInt16LE(1) === PROGRESS_CODE;
}

/** An EOF (or, with CLIENT_DEPRECATE_EOF, an OK with a 0xFE header): 0xFE and shorter than a 16 MiB frame. */
function isEnd(p: PacketHead): boolean {
  return p.head[0] === 0xfe && p.length < MAX_FRAME_PAYLOAD;
}

export class ResponseTracker {
  readonly #deprecateEof: boolean;
  #state: ResponseState;
  #preparedId: number | null = null;
  readonly #prepare: boolean;

  constructor(shape: Exclude<ResponseShape, "none">, options: { deprecateEof: boolean }) {
    this.#deprecateEof = options.deprecateEof;
    this.#state =
      shape === "result" || shape === "prepare"
        ? { state: "first" }
        : shape === "fetch"
          ? { state: "rows" }
          : shape === "columns"
            ? { state: "field-list" }
            : { state: "single" };
    this.#prepare = shape === "prepare";
  }

  get state(): ResponseState {
    return this.#state;
  }

  get done(): boolean {
    return this.#state.state === "done";
  }

  /** Statement id from a COM_STMT_PREPARE_OK, once seen. */
  get preparedId(): number | null {
    return this.#preparedId;
  }

  /** The client sent the empty packet that ends a LOCAL INFILE upload: the server's OK/ERR follows. */
  clientDataEnded(): void {
    if (this.#state.state === "infile") this.#state = { state: "first" };
  }

  feed(p: PacketHead): void {
    const s = this.#state;
    if (isProgress(p)) return;
    switch (s.state) {
      case "done":
        return;
      case "single":
        this.#state = { state: "done" };
        return;
      case "infile":
      case "first":
        this.#first(p);
        return;
      case "columns": {
        const left = s.left - 1;
        if (left > 0) this.#state = { state: "columns", left };
        else this.#state = this.#deprecateEof ? { state: "rows" } : { state: "columns-eof" };
        return;
      }
      case "columns-eof":
        if (isErr(p)) this.#state = { state: "done" };
        // An open cursor (COM_STMT_EXECUTE with a cursor flag) sends no rows now: COM_STMT_FETCH gets them.
        else if ((eofStatus(p.head) & ServerStatus.CURSOR_EXISTS) !== 0) this.#state = { state: "done" };
        else this.#state = { state: "rows" };
        return;
      case "rows":
        if (isErr(p)) this.#state = { state: "done" };
        else if (isEnd(p)) this.#afterResult(this.#deprecateEof ? okStatus(p.head) : eofStatus(p.head));
        return;
      case "definitions": {
        const left = s.left - 1;
        this.#state = left > 0 ? { state: "definitions", left } : { state: "done" };
        return;
      }
      case "field-list":
        if (isErr(p) || isEnd(p)) this.#state = { state: "done" };
        return;
    }
  }

  #first(p: PacketHead): void {
    const h = p.head;
    const b = h[0];
    if (isErr(p)) {
      this.#state = { state: "done" };
      return;
    }
    if (this.#prepare) {
      // COM_STMT_PREPARE_OK: 0x00, stmt id u32, columns u16, params u16, filler, warnings u16.
      if (b !== 0x00 || h.length < 9) {
        this.#state = { state: "done" };
        return;
      }
      this.#preparedId = h.readUInt32LE(1);
      const columns = h.readUInt16LE(5);
      const params = h.readUInt16LE(7);
      const eofs = this.#deprecateEof ? 0 : (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0);
      const left = params + columns + eofs;
      this.#state = left > 0 ? { state: "definitions", left } : { state: "done" };
      return;
    }
    if (b === 0x00) {
      this.#afterResult(okStatus(h));
      return;
    }
    if (b === 0xfb) {
      this.#state = { state: "infile" };
      return;
    }
    if (b === 0xfe) {
      this.#afterResult(eofStatus(h));
      return;
    }
    const count = readLenEnc(h, 0);
    if (count === null || count.value === 0) {
      this.#state = { state: "done" };
      return;
    }
    this.#state = { state: "columns", left: count.value };
  }

  #afterResult(status: number): void {
    this.#state = (status & ServerStatus.MORE_RESULTS_EXISTS) !== 0 ? { state: "first" } : { state: "done" };
  }
}
