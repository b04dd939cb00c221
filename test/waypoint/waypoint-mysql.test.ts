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
});
