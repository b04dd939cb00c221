import assert from "node:assert/strict";
import { test } from "node:test";
import { decideOutbound, type OutboundDecision, type OutboundRequest } from "./decide-outbound.js";
import { meshState } from "./fixtures.test-support.js";

const CLIENT = "127.0.0.10";
const ID = (sa: string, ns = "default"): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

interface Row {
  name: string;
  req: Omit<OutboundRequest, "entry"> & { entry?: OutboundRequest["entry"] };
  expect: Partial<{
    kind: OutboundDecision["kind"];
    target: string;
    authority: string;
    identities: string[];
    destination: string;
    waypoint: string;
    monitor: boolean;
    reason: RegExp;
  }>;
}

const rows: Row[] = [
  {
    name: "pod IP of an enrolled remote workload → HBONE to ip:15008",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.20", port: 8080 } },
    expect: {
      kind: "hbone",
      target: "127.0.0.20:15008",
      authority: "127.0.0.20:8080",
      identities: [ID("server")],
      destination: "server",
    },
  },
  {
    name: "service VIP → an endpoint, service port mapped to target port",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.10", port: 80 } },
    expect: {
      kind: "hbone",
      target: "127.0.0.20:15008",
      authority: "127.0.0.20:8080",
      destination: "server",
    },
  },
  {
    name: "service VIP, second pick → endpoint with its own target port",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.10", port: 80 } },
    expect: { kind: "hbone", authority: "127.0.0.22:9090", destination: "server-9090" },
  },
  {
    name: "service VIP on an undeclared port → no endpoint → deny",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.10", port: 81 } },
    expect: { kind: "deny", reason: /no healthy endpoint/ },
  },
  {
    name: "service without endpoints → deny",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.11", port: 80 } },
    expect: { kind: "deny", reason: /no healthy endpoint/ },
  },
  {
    name: "service with a waypoint → HBONE to the waypoint, authority VIP:port",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.12", port: 80 } },
    expect: {
      kind: "hbone",
      target: "127.0.0.40:15008",
      authority: "10.96.0.12:80",
      identities: [ID("waypoint")],
      waypoint: "waypoint",
    },
  },
  {
    name: "service whose waypoint is unknown → deny",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.13", port: 80 } },
    expect: { kind: "deny", reason: /waypoint/ },
  },
  {
    name: "workload with a waypoint → via the waypoint, authority pod ip:port",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.23", port: 8080 } },
    expect: {
      kind: "hbone",
      target: "127.0.0.40:15008",
      authority: "127.0.0.23:8080",
      identities: [ID("waypoint")],
      destination: "behind-wp",
    },
  },
  {
    name: "the waypoint itself is not sent back to its own waypoint",
    req: { srcIp: "127.0.0.40", dst: { ip: "127.0.0.23", port: 8080 } },
    expect: { kind: "passthrough", reason: /not here/ },
  },
  {
    name: "address outside the mesh → passthrough unchanged",
    req: { srcIp: CLIENT, dst: { ip: "192.0.2.7", port: 443 } },
    expect: { kind: "passthrough", target: "192.0.2.7:443", reason: /outside the mesh/ },
  },
  {
    name: "control-plane-like address → passthrough",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.1", port: 15012 } },
    expect: { kind: "passthrough", target: "127.0.0.1:15012" },
  },
  {
    name: "unknown source (capture) → passthrough",
    req: { srcIp: "10.9.9.9", dst: { ip: "127.0.0.20", port: 8080 } },
    expect: { kind: "passthrough", reason: /not a known workload/ },
  },
  {
    name: "unknown source (SOCKS5) → deny",
    req: { srcIp: "10.9.9.9", dst: { ip: "127.0.0.20", port: 8080 }, entry: "socks5" },
    expect: { kind: "deny", reason: /SOCKS5/ },
  },
  {
    name: "source on another node (capture) → passthrough",
    req: { srcIp: "127.0.0.14", dst: { ip: "127.0.0.20", port: 8080 } },
    expect: { kind: "passthrough", reason: /node-b/ },
  },
  {
    name: "source on another node (SOCKS5) → deny",
    req: { srcIp: "127.0.0.14", dst: { ip: "127.0.0.20", port: 8080 }, entry: "socks5" },
    expect: { kind: "deny" },
  },
  {
    name: "source not enrolled → passthrough",
    req: { srcIp: "127.0.0.12", dst: { ip: "127.0.0.20", port: 8080 } },
    expect: { kind: "passthrough", reason: /not enrolled/ },
  },
  {
    name: "source not enrolled via SOCKS5 → deny",
    req: { srcIp: "127.0.0.12", dst: { ip: "127.0.0.20", port: 8080 }, entry: "socks5" },
    expect: { kind: "deny", reason: /not enrolled/ },
  },
  {
    name: "monitor-mode source → passthrough, observed",
    req: { srcIp: "127.0.0.13", dst: { ip: "127.0.0.20", port: 8080 } },
    expect: { kind: "passthrough", monitor: true, target: "127.0.0.20:8080", destination: "server" },
  },
  {
    name: "destination not enrolled → plaintext to the pod",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.30", port: 8080 } },
    expect: { kind: "passthrough", target: "127.0.0.30:8080", destination: "plain-dst", monitor: false },
  },
  {
    name: "service of non-enrolled pods → plaintext to the chosen endpoint",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.14", port: 80 } },
    expect: { kind: "passthrough", target: "127.0.0.30:8080" },
  },
  {
    name: "destination in monitor mode → plaintext",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.31", port: 8080 } },
    expect: { kind: "passthrough", reason: /monitor/, target: "127.0.0.31:8080" },
  },
  {
    name: "local destination → HBONE too (inbound policy still applies)",
    req: { srcIp: CLIENT, dst: { ip: "127.0.0.15", port: 7000 } },
    expect: { kind: "hbone", target: "127.0.0.15:15008", identities: [ID("local-server")] },
  },
  {
    name: "another namespace's source presents its own identity",
    req: { srcIp: "127.0.0.11", dst: { ip: "127.0.0.24", port: 80 } },
    expect: { kind: "hbone", identities: [ID("open", "open")] },
  },
  {
    name: "IPv4-mapped source address is matched",
    req: { srcIp: "::ffff:127.0.0.10", dst: { ip: "127.0.0.20", port: 8080 } },
    expect: { kind: "hbone" },
  },
  {
    name: "the unhealthy endpoint is never picked (third pick wraps)",
    req: { srcIp: CLIENT, dst: { ip: "10.96.0.10", port: 80 } },
    expect: { kind: "hbone", destination: "server" },
  },
];

test("decideOutbound table", async (t) => {
  const { state } = meshState("node-a");
  for (const row of rows) {
    await t.test(row.name, () => {
      const d = decideOutbound(state, { entry: "capture", ...row.req });
      const e = row.expect;
      if (e.kind)
        assert.equal(
          d.kind,
          e.kind,
          JSON.stringify(d, (_k, v) => (v instanceof Map ? undefined : v)),
        );
      if (e.reason)
        assert.ok("reason" in d && e.reason.test(d.reason), `reason: ${"reason" in d ? d.reason : "-"}`);
      if (d.kind === "deny") return;
      if (e.target) assert.equal(`${d.target.ip}:${d.target.port}`, e.target);
      if (e.destination) assert.equal(d.destination?.uid, e.destination);
      if (d.kind === "hbone") {
        if (e.authority) assert.equal(d.authority, e.authority);
        if (e.identities) assert.deepEqual(d.expectedIdentities, e.identities);
        if (e.waypoint) assert.equal(d.waypoint?.uid, e.waypoint);
        assert.equal(d.source.uid, state.workloadByIp(row.req.srcIp)?.uid);
      } else if (e.monitor !== undefined) {
        assert.equal(d.monitor, e.monitor);
      }
    });
  }
});

test("round-robin spreads VIP connections over healthy endpoints only", () => {
  const { state } = meshState("node-a");
  const seen = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const d = decideOutbound(state, { srcIp: CLIENT, dst: { ip: "10.96.0.10", port: 80 }, entry: "capture" });
    assert.equal(d.kind, "hbone");
    if (d.kind === "hbone") seen.set(d.destination!.uid, (seen.get(d.destination!.uid) ?? 0) + 1);
  }
  assert.deepEqual([...seen.entries()].sort(), [
    ["server", 10],
    ["server-9090", 10],
  ]);
});
