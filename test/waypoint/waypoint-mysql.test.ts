/**
 * MySQL through the waypoint: mariadb CLI → (local forwarder) → ztunnel A (SOCKS5) → waypoint,
 * which runs the MySQL relay on a port the Service declares as `mysql` and judges each statement by
 * AuthorizationPolicy → ztunnel B → MariaDB. Skipped when MariaDB is not installed.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Resource } from "../../src/api/types.js";
import type { Waypoint } from "../../src/waypoint/waypoint.js";
import {
  ControlPlane,
  type NodePorts,
  socksConnect,
  startZtunnel,
  type TestZtunnel,
} from "../ztunnel/harness.js";
import { type MariadbServer, mariadbSkipReason, runMariadbClient, startMariadb } from "./mariadb-server.js";
import { startTestWaypoint, WAYPOINT_IP } from "./waypoint-harness.js";

const CLIENT_IP = "127.0.0.11";
const VIP = "10.96.0.20";
const SVC = "payment-db.default.svc.cluster.local";
const USER = "payment";
const PASSWORD = "pay-Secret-1";

const resources = [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "payment-db", namespace: "default" },
    spec: { ports: [{ name: "mysql", port: 3306 }] },
  },
  {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "db-select-only", namespace: "default" },
    spec: {
      targetRefs: [{ kind: "Service", group: "", name: "payment-db" }],
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: ["cluster.local/ns/default/sa/client"] } }],
          to: [{ operation: { ports: ["3306"], methods: ["SELECT"] } }],
        },
      ],
    },
  },
] as Resource[];

describe("waypoint MySQL", { skip: mariadbSkipReason(), timeout: 60_000 }, () => {
  let cp: ControlPlane;
  const nodePorts: NodePorts = new Map();
  let zA: TestZtunnel;
  let zB: TestZtunnel;
  let wp: Waypoint;
  let db: MariadbServer;
  let forwarder: net.Server;
  const sockets = new Set<net.Socket>();

  before(async () => {
    db = await startMariadb();
    await db.sql(
      [
        "CREATE DATABASE payments;",
        "CREATE TABLE payments.accounts (id INT PRIMARY KEY, owner VARCHAR(64));",
        "INSERT INTO payments.accounts VALUES (1, 'alice'), (2, 'bob');",
        `CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}';`,
        `GRANT ALL ON payments.* TO '${USER}'@'%';`,
      ].join("\n"),
    );
    cp = await ControlPlane.start();
    cp.setWorkloads(
      [
        { uid: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client" },
        { uid: "waypoint", ip: WAYPOINT_IP, node: "node-wp", serviceAccount: "waypoint", tunnel: "none" },
        // MariaDB listens on 127.0.0.1 only: that is the "pod" address here.
        {
          uid: "db",
          ip: "127.0.0.1",
          node: "node-b",
          serviceAccount: "payment-db",
          services: { [`default/${SVC}`]: [[3306, db.port]] },
        },
      ],
      [{ hostname: SVC, vip: VIP, ports: [[3306, 3306]], waypointIp: WAYPOINT_IP }],
    );
    zA = await startZtunnel(cp, "node-a", "127.0.0.10", nodePorts);
    zB = await startZtunnel(cp, "node-b", "127.0.0.40", nodePorts);
    wp = await startTestWaypoint(cp, nodePorts, resources);
    await Promise.all([zA.zt.whenReady(), zB.zt.whenReady(), wp.whenReady()]);
    // The mariadb CLI cannot speak SOCKS5: a local forwarder does it for each connection.
    forwarder = net.createServer({ allowHalfOpen: true }, (client) => {
      sockets.add(client);
      client.on("error", () => {});
      client.once("close", () => sockets.delete(client));
      client.pause();
      socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 3306 }).then(
        ({ socket }) => {
          sockets.add(socket);
          socket.once("close", () => sockets.delete(socket));
          client.pipe(socket);
          socket.pipe(client);
          socket.resume();
          client.resume();
        },
        () => client.destroy(),
      );
    });
    await new Promise<void>((r) => forwarder.listen(0, "127.0.0.1", () => r()));
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    if (forwarder !== undefined) await new Promise<void>((r) => forwarder.close(() => r()));
    await wp?.close();
    await zA?.zt.close();
    await zB?.zt.close();
    await cp?.close();
    await db?.stop();
  });

  const cli = (sql: string) =>
    runMariadbClient([
      "-h",
      "127.0.0.1",
      "-P",
      String((forwarder.address() as net.AddressInfo).port),
      "--protocol=TCP",
      "-u",
      USER,
      `-p${PASSWORD}`,
      "-N",
      "-B",
      "payments",
      "-e",
      sql,
    ]);

  test("SELECT is allowed through the waypoint", async () => {
    const r = await cli("SELECT owner FROM accounts ORDER BY id");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "alice\nbob");
  });

  test("DELETE is refused with ERROR 1142 by the waypoint and the rows stay", async () => {
    const r = await cli("DELETE FROM accounts WHERE id = 1");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR 1142 \(42000\)/);
    assert.equal((await db.sql("SELECT COUNT(*) FROM payments.accounts;")).trim(), "2");
  });

  /** A raw session through ztunnel A: waits for the server greeting, sends `bad`, collects until closed. */
  async function malformedSession(
    bad: (greetingSeq: number) => Buffer,
  ): Promise<{ answer: Buffer; closedByWaypoint: boolean }> {
    const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 3306 });
    sockets.add(socket);
    assert.equal(reply, 0);
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let greeted = false;
      socket.on("data", (d: Buffer) => {
        if (greeted) return void chunks.push(d);
        greeted = true;
        socket.write(bad(d[3] ?? 0));
      });
      // The socket is half-open capable: the waypoint closing the session shows as its end.
      const closed = (byWaypoint: boolean) => () => {
        clearTimeout(guard);
        socket.destroy();
        resolve({ answer: Buffer.concat(chunks), closedByWaypoint: byWaypoint });
      };
      socket.once("end", closed(true));
      socket.once("error", closed(true));
      // A hang guard, not a timing assertion: the waypoint must close the session by itself.
      const guard = setTimeout(closed(false), 60_000);
      socket.resume();
    });
  }

  test("malformed MySQL packets close only their own session; another session keeps working", async () => {
    const truncatedHandshake = malformedSession((seq) => Buffer.from([3, 0, 0, seq + 1, 0x41, 0x42, 0x43]));
    // A full 16 MiB frame announces a continuation; the next header pushes the packet past the limit.
    const oversized = malformedSession((seq) =>
      Buffer.concat([
        Buffer.from([0xff, 0xff, 0xff, seq + 1]),
        Buffer.alloc(0xffffff),
        Buffer.from([0xff, 0xff, 0xff, seq + 2]),
      ]),
    );
    const during = cli("SELECT owner FROM accounts WHERE id = 2");
    const [t, o, ok] = await Promise.all([truncatedHandshake, oversized, during]);
    for (const [name, r] of [
      ["truncated handshake", t],
      ["oversized packet", o],
    ] as const) {
      assert.ok(r.closedByWaypoint, `${name}: the session was not closed`);
      // Nothing of the server's but, at most, an ERR packet (0xff) before the close.
      assert.ok(
        r.answer.length === 0 || r.answer[4] === 0xff,
        `${name}: ${r.answer.subarray(0, 16).toString("hex")}`,
      );
    }
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), "bob");
    const afterwards = await cli("SELECT owner FROM accounts WHERE id = 1");
    assert.equal(afterwards.code, 0, afterwards.stderr);
    assert.equal(afterwards.stdout.trim(), "alice");
  });
});
