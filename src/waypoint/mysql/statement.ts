/**
 * The kind of a SQL statement (SELECT, UPDATE, …): what ambit's waypoint puts in an AuthorizationPolicy's
 * `methods` on a MySQL port. Security first: a kind is returned only when the text leaves no doubt;
 * anything else is `UNKNOWN`, which only a policy naming `UNKNOWN` (or `*`) allows.
 *
 * Doubt comes from the server's lexer depending on state the relay cannot see, so the text is read
 * under each reading the server might use, and readings must agree:
 * - `/*!NNNNN … *\/` and `/*M!NNNNN … *\/` are executed by servers of version ≥ NNNNN (MariaDB-only for
 *   `M!`) and ignored by others. The statement is read with their content as code; when reading them as
 *   comments gives a different *valid* classification, the result is `UNKNOWN`.
 * - A backslash escapes a quote unless sql_mode has NO_BACKSLASH_ESCAPES; both readings must agree
 *   (this also covers multi-byte charsets such as GBK whose second byte can be 0x5C).
 * The text is decoded byte for byte (latin1), so no charset trick changes where quotes and `;` fall.
 */

export const STATEMENT_KINDS = [
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "REPLACE",
  "OUTFILE",
  "CREATE",
  "ALTER",
  "DROP",
  "RENAME",
  "TRUNCATE",
  "SET",
  "SHOW",
  "EXPLAIN",
  "USE",
  "BEGIN",
  "START",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
  "XA",
  "CALL",
  "DO",
  "LOCK",
  "UNLOCK",
  "GRANT",
  "REVOKE",
  "LOAD",
  "HANDLER",
  "PREPARE",
  "EXECUTE",
  "DEALLOCATE",
  "FLUSH",
  "KILL",
  "ANALYZE",
  "OPTIMIZE",
  "CHECK",
  "CHECKSUM",
  "REPAIR",
  "INSTALL",
  "UNINSTALL",
  "RESET",
  "PURGE",
  "CHANGE",
  "SHUTDOWN",
  "BINLOG",
  "CACHE",
  "SIGNAL",
  "RESIGNAL",
  "GET",
  "HELP",
  "BACKUP",
  "UNKNOWN",
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

const KIND_BY_KEYWORD: ReadonlyMap<string, StatementKind> = new Map<string, StatementKind>([
  ...STATEMENT_KINDS.filter((k) => k !== "UNKNOWN" && k !== "OUTFILE").map((k) => [k, k] as const),
  ["DESCRIBE", "EXPLAIN"],
  ["DESC", "EXPLAIN"],
  // `TABLE t` and `VALUES (…)` (MySQL 8 / MariaDB 10.3+) are read-only queries.
  ["TABLE", "SELECT"],
  ["VALUES", "SELECT"],
]);

type Token =
  | { readonly t: "word"; readonly v: string }
  | { readonly t: "str" }
  | { readonly t: "ident" }
  | { readonly t: "punct"; readonly v: string };

interface LexOptions {
  /** Backslash escapes the next character inside a quoted string (the default sql_mode). */
  readonly backslashEscapes: boolean;
  /** `/*! … *\/` content is code (true) or a comment (false). */
  readonly executeVersioned: boolean;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f ||
    c === 0x24 ||
    c >= 0x80
  );
}

/** Tokens of `text`, or null when a string, identifier or comment is left open (the server would reject or misread it). */
function lex(text: string, opts: LexOptions): Token[] | null {
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  let inVersioned = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c) {
      i++;
      continue;
    }
    // `-- ` starts a comment only when followed by a space or control character (or the end).
    if (c === 0x2d && text.charCodeAt(i + 1) === 0x2d) {
      const after = text.charCodeAt(i + 2);
      if (Number.isNaN(after) || after <= 0x20) {
        const nl = text.indexOf("\n", i);
        i = nl === -1 ? n : nl + 1;
        continue;
      }
    }
    if (c === 0x23) {
      const nl = text.indexOf("\n", i);
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const bang = text.charCodeAt(i + 2) === 0x21;
      const mBang = text.charCodeAt(i + 2) === 0x4d && text.charCodeAt(i + 3) === 0x21;
      if ((bang || mBang) && opts.executeVersioned) {
        if (inVersioned) return null; // executable comments do not nest
        i += bang ? 3 : 4;
        while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
        inVersioned = true;
        continue;
      }
      const end = text.indexOf("*/", i + 2);
      if (end === -1) return null;
      i = end + 2;
      continue;
    }
    if (inVersioned && c === 0x2a && text.charCodeAt(i + 1) === 0x2f) {
      inVersioned = false;
      i += 2;
      continue;
    }
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      const q = c;
      i++;
      let closed = false;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c && q !== 0x60 && opts.backslashEscapes) {
          i += 2;
          continue;
        }
        if (d === q) {
          if (text.charCodeAt(i + 1) === q) {
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        i++;
      }
      if (!closed) return null;
      out.push(q === 0x60 ? { t: "ident" } : { t: "str" });
      continue;
    }
    if (isWordChar(c)) {
      const start = i;
      while (i < n && isWordChar(text.charCodeAt(i))) i++;
      out.push({ t: "word", v: text.slice(start, i).toUpperCase() });
      continue;
    }
    out.push({ t: "punct", v: text[i] as string });
    i++;
  }
  if (inVersioned) return null;
  return out;
}

function splitStatements(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  for (const tok of tokens) {
    if (tok.t === "punct" && tok.v === ";") {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else {
      cur.push(tok);
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function isWord(tok: Token | undefined, v: string): boolean {
  return tok !== undefined && tok.t === "word" && tok.v === v;
}

function isPunct(tok: Token | undefined, v: string): boolean {
  return tok !== undefined && tok.t === "punct" && tok.v === v;
}

/** Index after the parenthesised group opening at `i`, or -1 when it never closes. */
function skipGroup(tokens: readonly Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    if (isPunct(tokens[j], "(")) depth++;
    else if (isPunct(tokens[j], ")")) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

function writesFile(tokens: readonly Token[]): boolean {
  for (let j = 0; j + 1 < tokens.length; j++) {
    if (
      isWord(tokens[j], "INTO") &&
      (isWord(tokens[j + 1], "OUTFILE") || isWord(tokens[j + 1], "DUMPFILE"))
    ) {
      return true;
    }
  }
  return false;
}

/** The main statement after `WITH [RECURSIVE] name [(cols)] AS (…) [, …]`: only SELECT, UPDATE or DELETE may follow. */
function classifyWith(tokens: readonly Token[], start: number): StatementKind {
  let i = start;
  if (isWord(tokens[i], "RECURSIVE")) i++;
  for (;;) {
    const name = tokens[i];
    if (name === undefined || (name.t !== "word" && name.t !== "ident")) return "UNKNOWN";
    i++;
    if (isPunct(tokens[i], "(")) {
      i = skipGroup(tokens, i);
      if (i === -1) return "UNKNOWN";
    }
    if (!isWord(tokens[i], "AS")) return "UNKNOWN";
    i++;
    if (!isPunct(tokens[i], "(")) return "UNKNOWN";
    i = skipGroup(tokens, i);
    if (i === -1) return "UNKNOWN";
    if (!isPunct(tokens[i], ",")) break;
    i++;
  }
  while (isPunct(tokens[i], "(")) i++;
  const main = tokens[i];
  if (main === undefined || main.t !== "word") return "UNKNOWN";
  if (main.v === "SELECT" || main.v === "VALUES" || main.v === "TABLE") {
    return writesFile(tokens) ? "OUTFILE" : "SELECT";
  }
  if (main.v === "UPDATE" || main.v === "DELETE") return main.v;
  return "UNKNOWN";
}

function classifyOne(tokens: readonly Token[]): StatementKind {
  let i = 0;
  while (isPunct(tokens[i], "(")) i++;
  const first = tokens[i];
  if (first === undefined || first.t !== "word") return "UNKNOWN";
  const next = tokens[i + 1];
  switch (first.v) {
    case "WITH":
      return classifyWith(tokens, i + 1);
    case "SELECT":
    case "VALUES":
    case "TABLE":
      // SELECT … INTO OUTFILE/DUMPFILE writes a file on the database host: its own kind.
      return writesFile(tokens) ? "OUTFILE" : "SELECT";
    case "EXPLAIN":
    case "DESCRIBE":
    case "DESC":
      // EXPLAIN ANALYZE executes the statement it explains.
      return isWord(next, "ANALYZE") ? "UNKNOWN" : "EXPLAIN";
    case "ANALYZE":
      // MariaDB's `ANALYZE <statement>` runs the statement; only ANALYZE TABLE is maintenance.
      return isWord(next, "TABLE") || isWord(next, "NO_WRITE_TO_BINLOG") || isWord(next, "LOCAL")
        ? "ANALYZE"
        : "UNKNOWN";
    case "BEGIN":
      // `BEGIN NOT ATOMIC … END` is a MariaDB compound statement that can run anything.
      return next === undefined || (isWord(next, "WORK") && tokens.length === i + 2) ? "BEGIN" : "UNKNOWN";
    case "SET":
      // MariaDB's `SET STATEMENT var=… FOR <statement>` runs another statement.
      return isWord(next, "STATEMENT") ? "UNKNOWN" : "SET";
    default:
      return KIND_BY_KEYWORD.get(first.v) ?? "UNKNOWN";
  }
}

function classifyReading(text: string, opts: LexOptions, multiStatements: boolean): StatementKind[] | null {
  const tokens = lex(text, opts);
  if (tokens === null) return null;
  const statements = splitStatements(tokens);
  if (statements.length === 0) return ["UNKNOWN"];
  const considered = multiStatements ? statements : statements.slice(0, 1);
  return considered.map(classifyOne);
}

function sameKinds(a: readonly StatementKind[], b: readonly StatementKind[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

export interface ClassifyOptions {
  /** The client negotiated CLIENT_MULTI_STATEMENTS: every `;`-separated statement runs and is classified. */
  readonly multiStatements: boolean;
}

/**
 * The kinds of the statements in one COM_QUERY / COM_STMT_PREPARE text: one per statement when
 * multi-statements are on, else the first only. Never empty; `["UNKNOWN"]` when in doubt.
 */
export function classifyStatements(text: string, options: ClassifyOptions): StatementKind[] {
  const multi = options.multiStatements;
  const primary = classifyReading(text, { backslashEscapes: true, executeVersioned: true }, multi);
  if (primary === null) return ["UNKNOWN"];
  const noBackslash = classifyReading(text, { backslashEscapes: false, executeVersioned: true }, multi);
  if (noBackslash === null || !sameKinds(primary, noBackslash)) return ["UNKNOWN"];
  const asComments = classifyReading(text, { backslashEscapes: true, executeVersioned: false }, multi);
  if (asComments !== null && !sameKinds(primary, asComments) && !asComments.includes("UNKNOWN")) {
    return ["UNKNOWN"];
  }
  return primary;
}

/** Convenience for one statement (multi-statements off). */
export function classifyStatement(text: string): StatementKind {
  return classifyStatements(text, { multiStatements: false })[0] ?? "UNKNOWN";
}
