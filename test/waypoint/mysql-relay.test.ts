/**
 * The MySQL relay in front of a real MariaDB server, judged by the real policy engine compiled from
 * examples/payment-system/07-authorization-policy.yaml, driven by the Debian `mariadb` CLI and by a
 * minimal Node client.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import { repoRoot } from "../../src/local/cluster-config.js";
import { type AuthzDestinationInfo, compilePolicies, type PolicySet } from "../../src/policy/index.js";
import { policyAuthorizer } from "../../src/waypoint/mysql/authorize.js";
import { MysqlErrorCode } from "../../src/waypoint/mysql/errors.js";
import { Capability } from "../../src/waypoint/mysql/packets.js";
import {
  type Authorize,
  relayMysql,
  type SessionEnd,
  type StatementEvent,
} from "../../src/waypoint/mysql/session.js";
import { type MariadbServer, mariadbSkipReason, runMariadbClient, startMariadb } from "./mariadb-server.js";
import { MiniClient } from "./mysql-client.js";

const PAYMENT_SERVICE = "cluster.local/ns/payment-system/sa/payment-service";
const REPORTING = "cluster.local/ns/payment-system/sa/reporting";
const USER = "payment";
const PASSWORD = "pay-Secret-1";
const DESTINATION: AuthzDestinationInfo = {
  namespace: "payment-system",
  labels: { app: "payment-db" },
  service: "payment-db",
  ip: "10.96.0.20",
  port: 3306,
};

interface Relay {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Set<Socket>;
}

const skip = mariadbSkipReason();

describe("MySQL relay in front of MariaDB, judged by the payment-system policy", { skip }, () => {
  let db: MariadbServer;
  let policies: PolicySet;
  const events: StatementEvent[] = [];
  const ends: SessionEnd[] = [];
  const relays: Relay[] = [];
  let allowedRelay: Relay;
  let otherRelay: Relay;

  async function startRelay(
    principal: string,
    maxPacketBytes?: number,
    authorize?: Authorize,
  ): Promise<Relay> {
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = connect(db.port, "127.0.0.1");
      sockets.add(client);
      sockets.add(upstream);
      client.on("close", () => sockets.delete(client));
      upstream.on("close", () => sockets.delete(upstream));
      relayMysql(client, upstream, {
        authorize:
          authorize ??
          policyAuthorizer(() => policies, {
            source: { principal, namespace: "payment-system", ip: "10.244.1.7", mtls: true },
            destination: DESTINATION,
          }),
        onStatement: (e) => events.push(e),
        onEnd: (e) => ends.push(e),
        ...(maxPacketBytes === undefined ? {} : { maxPacketBytes }),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("no address");
    const relay = { server, port: addr.port, sockets };
    relays.push(relay);
    return relay;
  }

  const cli = (relay: Relay, args: readonly string[], stdin?: string) =>
    runMariadbClient(
      [
        "-h",
        "127.0.0.1",
        "-P",
        String(relay.port),
        "--protocol=TCP",
        "-u",
        USER,
        `-p${PASSWORD}`,
        "-N",
        "-B",
        "payments",
        ...args,
      ],
      stdin,
    );

  before(async () => {
    const text = await readFile(
      join(repoRoot(), "examples/payment-system/07-authorization-policy.yaml"),
      "utf8",
    );
    const loaded = parseDocuments(text, "07-authorization-policy.yaml");
    assert.deepEqual(loaded.errors, []);
    const compiled = compilePolicies(loaded.resources);
    assert.deepEqual(compiled.errors, []);
    policies = compiled.set;
    db = await startMariadb();
    await db.sql(
      [
        "CREATE DATABASE payments;",
        "CREATE TABLE payments.accounts (id INT PRIMARY KEY, owner VARCHAR(64), balance INT);",
        "INSERT INTO payments.accounts VALUES (1, 'alice', 100), (2, 'bob', 50), (3, 'carol', 7);",
        `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}';`,
        // The database would allow everything: only the mesh policy stands between the client and DELETE.
        `GRANT ALL ON payments.* TO '${USER}'@'%';`,
      ].join("\n"),
    );
    allowedRelay = await startRelay(PAYMENT_SERVICE);
    otherRelay = await startRelay(REPORTING);
  });

  after(async () => {
    for (const r of relays) {
      for (const s of r.sockets) s.destroy();
      await new Promise<void>((resolve) => r.server.close(() => resolve()));
    }
    await db?.stop();
  });

  const rowCount = async () => (await db.sql("SELECT COUNT(*) FROM payments.accounts;")).trim();

  test("SELECT through the relay returns the real rows", async () => {
    const r = await cli(allowedRelay, [
      "-e",
      "SELECT owner, balance FROM accounts WHERE id <= 2 ORDER BY id",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "alice\t100\nbob\t50\n");
    assert.ok(events.some((e) => e.method === "SELECT" && e.decision === "allow"));
  });

  test("UPDATE is allowed and changes the row", async () => {
    const r = await cli(allowedRelay, ["-e", "UPDATE accounts SET balance = balance + 5 WHERE id = 2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await db.sql("SELECT balance FROM payments.accounts WHERE id = 2;")).trim(), "55");
  });

  test("DELETE is refused with ERROR 1142 (42000) naming the policy, and the row stays", async () => {
    const r = await cli(allowedRelay, ["-e", "DELETE FROM accounts WHERE id = 1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR 1142 \(42000\)/);
    assert.match(r.stderr, /ambit: DELETE statement denied by the mesh's authorization policy/);
    assert.match(r.stderr, /payment-system\/payment-db-access/);
    assert.equal(await rowCount(), "3");
    const denial = events.find((e) => e.method === "DELETE");
    assert.equal(denial?.decision, "deny");
  });

  test("in one session (batch with --force) the statement after a denied one still runs", async () => {
    const before = events.length;
    const r = await cli(
      allowedRelay,
      ["--force"],
      "SELECT owner FROM accounts WHERE id = 1;\nDELETE FROM accounts WHERE id = 1;\nSELECT owner FROM accounts WHERE id = 3;\n",
    );
    assert.equal(r.stdout, "alice\ncarol\n", r.stderr);
    assert.match(r.stderr, /ERROR 1142 \(42000\) at line 2/);
    assert.equal(await rowCount(), "3");
    const mine = events.slice(before).filter((e) => e.method === "SELECT" || e.method === "DELETE");
    assert.deepEqual(
      mine.map((e) => `${e.method}:${e.decision}`),
      ["SELECT:allow", "DELETE:deny", "SELECT:allow"],
    );
  });

  test("another principal gets every statement refused", async () => {
    for (const sql of [
      "SELECT 1",
      "SELECT owner FROM accounts",
      "UPDATE accounts SET balance = 0 WHERE id = 3",
    ]) {
      const r = await cli(otherRelay, ["-e", sql]);
      assert.equal(r.code, 1, sql);
      assert.match(r.stderr, /ERROR 1142 \(42000\)/);
    }
    assert.equal((await db.sql("SELECT balance FROM payments.accounts WHERE id = 3;")).trim(), "7");
  });

  test("Node client: the greeting no longer offers TLS, and a client asking for it is refused", async () => {
    const c = await MiniClient.connect({
      port: allowedRelay.port,
      user: USER,
      password: PASSWORD,
      database: "payments",
    });
    assert.equal(c.serverCaps & Capability.SSL, 0);
    await c.quit();
    const endsBefore = ends.length;
    await assert.rejects(
      MiniClient.connect({ port: allowedRelay.port, user: USER, password: PASSWORD, ssl: true }),
      /already mutual TLS/,
    );
    // Sessions of earlier tests may end meanwhile: look for this one by its reason.
    await waitFor(() => ends.slice(endsBefore).some((e) => e.reason === "handshake-refused"));
  });

  for (const deprecateEof of [false, true]) {
    test(`Node client (CLIENT_DEPRECATE_EOF ${deprecateEof}): multi-statements are judged statement by statement`, async () => {
      const c = await MiniClient.connect({
        port: allowedRelay.port,
        user: USER,
        password: PASSWORD,
        database: "payments",
        multiStatements: true,
        deprecateEof,
      });
      const both = await c.query(
        "SELECT owner FROM accounts WHERE id = 1; SELECT owner FROM accounts WHERE id = 3",
      );
      assert.deepEqual(both, [
        { kind: "rows", rows: [["alice"]] },
        { kind: "rows", rows: [["carol"]] },
      ]);
      const mixed = await c.query("SELECT 1; DELETE FROM accounts WHERE id = 1");
      assert.equal(mixed.length, 1);
      assert.equal(mixed[0]?.kind === "err" && mixed[0].code, 1142);
      assert.equal(await rowCount(), "3");
      // Executable comments hiding a second statement are UNKNOWN, hence denied.
      const hidden = await c.query("SELECT 1 /*!; DELETE FROM accounts WHERE id = 1 */");
      assert.equal(hidden[0]?.kind === "err" && hidden[0].code, 1142);
      const again = await c.query("SELECT balance FROM accounts WHERE id = 3");
      assert.deepEqual(again, [{ kind: "rows", rows: [["7"]] }]);
      await c.quit();
    });
  }

  test("a command pipelined behind the login is held until the login succeeds, then judged", async () => {
    const c = await MiniClient.connect({
      port: allowedRelay.port,
      user: USER,
      password: PASSWORD,
      database: "payments",
      pipelinedQuery: "DELETE FROM accounts WHERE id = 1",
    });
    const r = await c.results();
    assert.equal(r[0]?.kind === "err" && r[0].code, 1142);
    assert.equal(await rowCount(), "3");
    await c.quit();
  });

  test("Node client: prepared statements are judged at PREPARE and at EXECUTE", async () => {
    const c = await MiniClient.connect({
      port: allowedRelay.port,
      user: USER,
      password: PASSWORD,
      database: "payments",
    });
    const del = await c.prepare("DELETE FROM accounts WHERE id = ?");
    assert.ok("kind" in del && del.kind === "err" && del.code === 1142);
    const sel = await c.prepare("SELECT owner FROM accounts WHERE id = ?");
    assert.ok("id" in sel, JSON.stringify(sel));
    assert.deepEqual(await c.execute(sel.id, [3]), [{ kind: "rows", rows: [["carol"]] }]);
    // An id the relay never saw prepared is UNKNOWN: denied even though the server would reject it anyway.
    const unknown = await c.execute(sel.id + 1000, [1]);
    assert.equal(unknown[0]?.kind === "err" && unknown[0].code, 1142);
    await c.quit();
  });

  test("a malformed packet closes only its own session; another session keeps working", async () => {
    const survivor = await MiniClient.connect({
      port: allowedRelay.port,
      user: USER,
      password: PASSWORD,
      database: "payments",
    });
    for (const garbage of [
      Buffer.from([0x01, 0x00, 0x00, 0x00, 0x99]), // no such command byte
      Buffer.from([0x01, 0x00, 0x00, 0x07, 0x03]), // a command must start at sequence id 0
    ]) {
      const victim = await MiniClient.connect({ port: allowedRelay.port, user: USER, password: PASSWORD });
      const endsBefore = ends.length;
      victim.socket.write(garbage);
      await victim.closed;
      const code = garbage[4] === 0x99 ? MysqlErrorCode.UNKNOWN_COMMAND : MysqlErrorCode.MALFORMED_PACKET;
      await waitFor(() =>
        ends.slice(endsBefore).some((e) => e.reason === "protocol-error" && errorCode(e) === code),
      );
      assert.deepEqual(await survivor.query("SELECT owner FROM accounts WHERE id = 1"), [
        { kind: "rows", rows: [["alice"]] },
      ]);
    }
    await survivor.quit();
    const r = await cli(allowedRelay, ["-e", "SELECT COUNT(*) FROM accounts"]);
    assert.equal(r.stdout, "3\n");
  });

  test("a statement over the relay's packet limit closes the session with WP_ERR_MYSQL_PACKET_TOO_LARGE", async () => {
    const small = await startRelay(PAYMENT_SERVICE, 4096);
    const victim = await MiniClient.connect({
      port: small.port,
      user: USER,
      password: PASSWORD,
      database: "payments",
    });
    const endsBefore = ends.length;
    const res = await victim.query(`SELECT '${"x".repeat(8192)}'`);
    assert.equal(res[0]?.kind === "err" && res[0].code, 1153); // ER_NET_PACKET_TOO_LARGE, then the close
    await victim.closed;
    await waitFor(() => ends.slice(endsBefore).some((e) => errorCode(e) === MysqlErrorCode.PACKET_TOO_LARGE));
    const r = await cli(small, ["-e", "SELECT COUNT(*) FROM accounts"]);
    assert.equal(r.stdout, "3\n");
  });

  test("with LOAD and CALL allowed: LOCAL INFILE uploads and multi-result procedures relay, then the session goes on", async () => {
    const seen: string[] = [];
    const open = await startRelay(PAYMENT_SERVICE, undefined, (method) => {
      seen.push(method);
      return method === "DELETE"
        ? { allow: false, reason: "test denies DELETE", policy: "test/deny-delete" }
        : { allow: true };
    });
    const file = join(db.dir, "rates.tsv");
    await writeFile(file, "EUR\t100\nUSD\t92\n");
    await db.sql(
      [
        "CREATE TABLE payments.rates (ccy CHAR(3), rate INT);",
        "DELIMITER //",
        "CREATE PROCEDURE payments.two_results() BEGIN SELECT 'first'; SELECT 'second'; END//",
        "DELIMITER ;",
      ].join("\n"),
    );
    const r = await cli(
      open,
      ["--local-infile=1", "--force"],
      `LOAD DATA LOCAL INFILE '${file}' INTO TABLE rates;\nCALL two_results();\nDELETE FROM rates;\nSELECT ccy, rate FROM rates ORDER BY ccy;\n`,
    );
    assert.equal(r.stdout, "first\nsecond\nEUR\t100\nUSD\t92\n", r.stderr);
    assert.match(
      r.stderr,
      /ERROR 1142 \(42000\) at line 3: ambit: DELETE statement denied by AuthorizationPolicy test\/deny-delete/,
    );
    assert.deepEqual(
      seen.filter((m) => m !== "SELECT"),
      ["LOAD", "CALL", "DELETE"],
    );
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "condition not reached");
}

function errorCode(end: SessionEnd): string | undefined {
  return (end.error as { code?: string } | null)?.code;
}
