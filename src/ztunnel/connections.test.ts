import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import pino from "pino";
import { ConnectionTable, connectionView } from "./connections.js";

test("the live table holds a record from open to finish, with bytes read from the real socket", async () => {
  const lines: string[] = [];
  let clock = 1_000;
  const table = new ConnectionTable({
    logger: pino({ level: "info" }, { write: (l: string) => lines.push(l) }),
    now: () => clock,
  });
  const server = createServer((s) => {
    s.on("data", (b) => s.write(Buffer.concat([b, b])));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const client = connect(port, "127.0.0.1");
  const [accepted] = (await Promise.all([once(server, "connection"), once(client, "connect")]))[0] as [
    Socket,
  ];
  try {
    const record = table.open({
      "conn.id": "c1",
      direction: "outbound",
      entry: "capture",
      "src.addr": "10.244.1.2:40000",
      "dst.addr": "10.96.0.10:8080",
      route: "hbone",
      "src.identity": "spiffe://cluster.local/ns/a/sa/x",
    });
    // The proxy's side of the client connection is `accepted`: it reads what the client sends.
    table.observe(record, accepted, "client");
    client.write("hello");
    await once(client, "data");
    clock += 61_000;
    const [row] = table.list();
    assert.equal(table.size, 1);
    assert.equal(row?.id, "c1");
    assert.equal(row?.via, "pool");
    assert.equal(row?.security, "mutual_tls");
    assert.equal(row?.ageSeconds, 61);
    assert.deepEqual(row?.bytes, { received: 5, sent: 10 });
    record.finish();
    assert.equal(table.size, 0);
    assert.deepEqual(table.list(), []);
    assert.equal(lines.length, 1, "finishing still writes exactly one access record");
  } finally {
    client.destroy();
    accepted.destroy();
    server.close();
  }
});

test("connectionView: the path by direction and route", () => {
  const none = { received: 0, sent: 0 };
  const cases: [Parameters<typeof connectionView>[0], string, string][] = [
    [{ direction: "outbound", route: "hbone" }, "pool", "mutual_tls"],
    [{ direction: "outbound", route: "passthrough" }, "direct", "none"],
    [{ direction: "inbound", entry: "hbone", security: "mutual_tls" }, "hbone", "mutual_tls"],
    [{ direction: "inbound", entry: "plaintext", security: "none" }, "direct", "none"],
  ];
  for (const [fields, via, security] of cases) {
    const v = connectionView(fields, 0, none);
    assert.deepEqual([v.via, v.security], [via, security]);
  }
});
