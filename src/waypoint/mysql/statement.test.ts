import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { classifyStatement, classifyStatements, STATEMENT_KINDS, type StatementKind } from "./statement.js";

const SINGLE: readonly (readonly [string, StatementKind])[] = [
  ["SELECT * FROM accounts", "SELECT"],
  ["  select 1", "SELECT"],
  ["\n\t\r SeLeCt 1", "SELECT"],
  ["(SELECT 1)", "SELECT"],
  ["((SELECT 1) UNION (SELECT 2))", "SELECT"],
  ["/* leading */ SELECT 1", "SELECT"],
  ["-- comment\nSELECT 1", "SELECT"],
  ["# hash comment\nUPDATE t SET a=1", "UPDATE"],
  ["--1\nSELECT 1", "UNKNOWN"], // `--1` is no comment: the statement starts with `-`
  ["SELECT/**/1", "SELECT"],
  ["/*+ hint */ SELECT 1", "SELECT"],
  ["INSERT INTO t VALUES (1)", "INSERT"],
  ["insert into t select * from u", "INSERT"],
  ["UPDATE accounts SET balance = 0", "UPDATE"],
  ["DELETE FROM t WHERE id = 1", "DELETE"],
  ["REPLACE INTO t VALUES (1)", "REPLACE"],
  ["CREATE TABLE t (a INT)", "CREATE"],
  ["ALTER TABLE t ADD b INT", "ALTER"],
  ["DROP TABLE t", "DROP"],
  ["RENAME TABLE a TO b", "RENAME"],
  ["TRUNCATE TABLE t", "TRUNCATE"],
  ["SET NAMES utf8mb4", "SET"],
  ["SET autocommit=0", "SET"],
  ["SET STATEMENT max_statement_time=1 FOR DELETE FROM t", "UNKNOWN"],
  ["SHOW TABLES", "SHOW"],
  ["USE payments", "USE"],
  ["BEGIN", "BEGIN"],
  ["BEGIN WORK", "BEGIN"],
  ["BEGIN NOT ATOMIC DELETE FROM t; END", "UNKNOWN"],
  ["START TRANSACTION", "START"],
  ["COMMIT", "COMMIT"],
  ["ROLLBACK", "ROLLBACK"],
  ["CALL proc(1)", "CALL"],
  ["LOCK TABLES t WRITE", "LOCK"],
  ["UNLOCK TABLES", "UNLOCK"],
  ["GRANT ALL ON *.* TO x", "GRANT"],
  ["LOAD DATA LOCAL INFILE 'f' INTO TABLE t", "LOAD"],
  ["DESCRIBE t", "EXPLAIN"],
  ["EXPLAIN SELECT 1", "EXPLAIN"],
  ["EXPLAIN ANALYZE DELETE FROM t", "UNKNOWN"],
  ["ANALYZE TABLE t", "ANALYZE"],
  ["ANALYZE DELETE FROM t", "UNKNOWN"],
  ["PREPARE s FROM 'DELETE FROM t'", "PREPARE"],
  ["EXECUTE IMMEDIATE 'DELETE FROM t'", "EXECUTE"],
  ["SELECT * FROM t INTO OUTFILE '/tmp/x'", "OUTFILE"],
  ["SELECT a INTO DUMPFILE '/tmp/x' FROM t", "OUTFILE"],
  ["SELECT a INTO @v FROM t", "SELECT"],
  ["SELECT 'INTO OUTFILE' FROM t", "SELECT"],
  ["WITH x AS (SELECT 1) SELECT * FROM x", "SELECT"],
  ["WITH x AS (SELECT 1) DELETE FROM t", "DELETE"],
  ["WITH RECURSIVE r (n) AS (SELECT 1 UNION SELECT n+1 FROM r WHERE n<3) SELECT * FROM r", "SELECT"],
  ["WITH a AS (SELECT 1), `b` AS (SELECT 2) UPDATE t SET x=1", "UPDATE"],
  ["WITH x AS (SELECT 1) (SELECT * FROM x)", "SELECT"],
  ["WITH x AS (SELECT 1) INSERT INTO t SELECT 1", "UNKNOWN"],
  ["WITH x AS (SELECT 1 SELECT 2", "UNKNOWN"],
  ["WITH x AS (SELECT 1) SELECT * FROM x INTO OUTFILE '/tmp/y'", "OUTFILE"],
  ["/*!50000 DELETE*/ FROM t", "DELETE"],
  ["/*M!100100 DELETE*/ FROM t", "DELETE"],
  ["/*!99999 DELETE */ SELECT 1", "UNKNOWN"],
  ["/*! SELECT */ 1", "SELECT"],
  ["/*!50000 SELECT 1", "UNKNOWN"],
  ["/* unterminated SELECT 1", "UNKNOWN"],
  ["SELECT 'unterminated", "UNKNOWN"],
  ["", "UNKNOWN"],
  ["   ", "UNKNOWN"],
  ["-- only a comment", "UNKNOWN"],
  ["FROBNICATE t", "UNKNOWN"],
  ["`SELECT` 1", "UNKNOWN"],
  ["TABLE t", "SELECT"],
  ["VALUES (1),(2)", "SELECT"],
  ["HANDLER t READ FIRST", "HANDLER"],
  ["KILL 12", "KILL"],
  ["FLUSH PRIVILEGES", "FLUSH"],
  ["XA START 'x'", "XA"],
  ["SAVEPOINT a", "SAVEPOINT"],
  ["DO SLEEP(1)", "DO"],
];

describe("classifyStatement (one statement, multi-statements off)", () => {
  test("the table has at least 40 rows", () => assert.ok(SINGLE.length >= 40));
  for (const [text, kind] of SINGLE) {
    test(`${JSON.stringify(text)} → ${kind}`, () => {
      assert.equal(classifyStatement(text), kind);
    });
  }
});

const MULTI: readonly (readonly [string, boolean, readonly StatementKind[]])[] = [
  ["SELECT 1; DELETE FROM t", true, ["SELECT", "DELETE"]],
  ["SELECT 1; DELETE FROM t", false, ["SELECT"]],
  ["SELECT 1;", true, ["SELECT"]],
  ["SELECT ';'; UPDATE t SET a=1", true, ["SELECT", "UPDATE"]],
  ["SELECT 1 -- ; DELETE FROM t", true, ["SELECT"]],
  ["SELECT 1 /* ; DELETE */", true, ["SELECT"]],
  // Read as code the executable comment hides a second statement: both readings must agree.
  ["SELECT 1 /*!; DELETE FROM t */", true, ["UNKNOWN"]],
  // Under NO_BACKSLASH_ESCAPES the string ends at `\'`, exposing `; DELETE`: the readings differ.
  ["SELECT 'a\\'; DELETE FROM t; -- '", true, ["UNKNOWN"]],
  // With multi-statements off only the first statement can run, and both readings agree on it.
  ["SELECT 'a\\'; DELETE FROM t; -- '", false, ["SELECT"]],
  ["SELECT 'it''s'; SELECT \"q\"\"q\"", true, ["SELECT", "SELECT"]],
  [";;", true, ["UNKNOWN"]],
];

describe("classifyStatements (multi-statement batches and lexer ambiguity)", () => {
  for (const [text, multi, kinds] of MULTI) {
    test(`${JSON.stringify(text)} multi=${multi} → ${kinds.join(",")}`, () => {
      assert.deepEqual(classifyStatements(text, { multiStatements: multi }), kinds);
    });
  }
});

describe("classifyStatements properties", () => {
  const sqlish = fc.stringMatching(/^[ a-zA-Z0-9_;'"`()\\/*!#\n-]{0,60}$/);
  const kinds: ReadonlySet<string> = new Set(STATEMENT_KINDS);

  test("never throws, never returns nothing, only known kinds", () => {
    fc.assert(
      fc.property(sqlish, fc.boolean(), (text, multi) => {
        const got = classifyStatements(text, { multiStatements: multi });
        assert.ok(got.length > 0);
        for (const k of got) assert.ok(kinds.has(k), k);
      }),
    );
  });

  test("a leading plain comment or whitespace never changes the kinds", () => {
    fc.assert(
      fc.property(sqlish, fc.stringMatching(/^[ a-zA-Z0-9;'"]{0,20}$/), fc.boolean(), (text, note, multi) => {
        const o = { multiStatements: multi };
        assert.deepEqual(classifyStatements(`/* ${note} */ \n ${text}`, o), classifyStatements(text, o));
      }),
    );
  });

  test("an executable comment of any version never turns a DELETE into a SELECT", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999999 }), (version) => {
        const k = classifyStatement(`/*!${version} DELETE FROM t WHERE 1 OR */ SELECT 1`);
        assert.notEqual(k, "SELECT");
      }),
    );
  });
});
