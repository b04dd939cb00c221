/**
 * Opaque TCP through the waypoint when the destination resets while its client is still uploading
 * (a server refusing a large upload and closing, `iperf3 -s` ending a test). The destination ztunnel
 * resets the waypoint's upstream HBONE stream (CONNECT_ERROR); the waypoint must pass the reset on
 * towards the client, although its inbound stream is paused behind bytes that can never be delivered.
 * Before the waypoint used the ztunnel's `splice`, its relay (`stream.pipe`) waited for a 'drain'
 * that never came: the connection, its access record and its buffered bytes stayed forever.
 * Real sockets on loopback: client → ztunnel A (SOCKS5) → waypoint → ztunnel B → the server.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryLogDestination } from "../../src/telemetry/logger.js";
import { ControlPlane, type NodePorts, socksConnect, startZtunnel, until } from "../ztunnel/harness.js";
import { startTestWaypoint, WAYPOINT_IP } from "./waypoint-harness.js";

const CLIENT_IP = "127.0.0.11";
const POD = "127.0.0.33";
const VIP = "10.96.0.12";
const SVC = "upload.default.svc.cluster.local";

test("waypoint: a destination reset mid-upload ends the opaque-TCP relay and closes the client", async (t) => {
  // Reads nothing, answers one line, and resets 300 ms later (unread bytes make it an RST).
  const target = net.createServer((s) => {
    s.on("error", () => {});
    s.pause();
    s.write("bye\n");
    setTimeout(() => s.destroy(), 300);
  });
  target.listen(0, POD);
  await once(target, "listening");
  t.after(() => target.close());

  const cp = await ControlPlane.start();
  t.after(() => cp.close());
  cp.setWorkloads(
    [
      { uid: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client", app: "client" },
      { uid: "waypoint", ip: WAYPOINT_IP, node: "node-wp", serviceAccount: "waypoint", tunnel: "none" },
      {
        uid: "upload-0",
        ip: POD,
        node: "node-b",
        serviceAccount: "upload",
        app: "upload",
        services: { [`default/${SVC}`]: [[9000, (target.address() as net.AddressInfo).port]] },
      },
    ],
    [{ hostname: SVC, vip: VIP, ports: [[9000, 9000]], waypointIp: WAYPOINT_IP }],
  );
  const nodePorts: NodePorts = new Map();
  const zA = await startZtunnel(cp, "node-a", "127.0.0.10", nodePorts);
  t.after(() => zA.zt.close());
  const zB = await startZtunnel(cp, "node-b", "127.0.0.40", nodePorts);
  t.after(() => zB.zt.close());
  const logs = new MemoryLogDestination();
  const wp = await startTestWaypoint(cp, nodePorts, [], { logs });
  t.after(() => wp.close());
  await Promise.all([zA.zt.whenReady(), zB.zt.whenReady(), wp.whenReady()]);

  const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 9000 });
  assert.equal(reply, 0);
  t.after(() => socket.destroy());
  let failure: NodeJS.ErrnoException | undefined;
  socket.on("error", (e: NodeJS.ErrnoException) => {
    failure = e;
  });
  socket.resume();
  // Not events.once: it rejects on the 'error' that a reset brings before 'close'.
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  // Far more than the HTTP/2 windows and socket buffers on the path hold.
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let written = 0;
  const pump = (): void => {
    while (written < 256 * 1024 * 1024 && !socket.destroyed) {
      written += chunk.length;
      if (!socket.write(chunk)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();

  const outcome = await Promise.race([closed.then(() => "closed"), sleep(10_000).then(() => "open")]);
  assert.equal(outcome, "closed", "the client's connection is closed after the destination reset");
  // A reset reaches the client as a reset (RFC 9113 §8.5), not as a half-close it could ignore.
  assert.ok(
    failure?.code === "ECONNRESET" || failure?.code === "EPIPE",
    `the client's connection was reset (got ${failure?.code ?? "a clean close"})`,
  );
  assert.ok(written < 256 * 1024 * 1024, "the upload was cut short, not completed");
  const tcpRecords = (): Record<string, unknown>[] =>
    logs.records.filter((r) => r["access"] === true && r["route"] === "tcp");
  await until(() => tcpRecords().length === 1, "the waypoint's access record of the relay", 5_000);
  const rec = tcpRecords()[0] as Record<string, unknown>;
  assert.ok((rec["bytes.received"] as number) > 0, "bytes went up before the reset");
});
