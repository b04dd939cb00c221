/** docs/mysql-policy.md lists every WP_ERR_MYSQL_ code and every statement kind, and no others. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../../src/local/cluster-config.js";
import { MysqlErrorCode } from "../../src/waypoint/mysql/errors.js";
import { STATEMENT_KINDS } from "../../src/waypoint/mysql/statement.js";

const doc = readFileSync(join(repoRoot(), "docs", "mysql-policy.md"), "utf8");

test("docs/mysql-policy.md lists every WP_ERR_MYSQL_ code, and only those", () => {
  const codes = new Set<string>(Object.values(MysqlErrorCode));
  for (const c of codes) assert.match(doc, new RegExp(`\`${c}\``), `${c} is missing`);
  for (const m of doc.matchAll(/\bWP_ERR_MYSQL_[A-Z_]+\b/g))
    assert.ok(codes.has(m[0]), `unknown code ${m[0]}`);
});

test("docs/mysql-policy.md names every statement kind", () => {
  for (const k of STATEMENT_KINDS) assert.match(doc, new RegExp(`\`${k}\``), `kind ${k} is missing`);
});
