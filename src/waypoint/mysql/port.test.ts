import assert from "node:assert/strict";
import { test } from "node:test";
import { isMysqlPort, type ServicePortInfo } from "./port.js";

const ROWS: readonly (readonly [ServicePortInfo, boolean])[] = [
  [{ appProtocol: "mysql" }, true],
  [{ appProtocol: "MySQL", name: "db" }, true],
  [{ name: "mysql" }, true],
  [{ name: "mysql-primary" }, true],
  [{ name: "mysqlx" }, false],
  [{ name: "mysql", appProtocol: "tcp" }, false], // appProtocol wins over the name
  [{ name: "http" }, false],
  [{}, false],
];

for (const [port, want] of ROWS) {
  test(`isMysqlPort(${JSON.stringify(port)}) = ${want}`, () => assert.equal(isMysqlPort(port), want));
}
