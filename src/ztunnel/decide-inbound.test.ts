import assert from "node:assert/strict";
import { test } from "node:test";
import { decideInbound, type InboundRequest } from "./decide-inbound.js";
import { meshState } from "./fixtures.test-support.js";

const ID = (sa: string, ns = "default"): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

interface Row {
  name: string;
  req: InboundRequest;
  kind: "allow" | "deny";
  status?: number;
  policy?: string | null;
  wouldDeny?: boolean;
  reason?: RegExp;
  code?: "ZT_ERR_NOT_LOCAL" | "ZT_ERR_DENIED";
}

const peer = (id: string | undefined, ip: string, port: number, peerIp = "127.0.0.3"): InboundRequest => ({
  peerIdentity: id,
  peerIp,
  target: { ip, port },
});

const rows: Row[] = [
  {
    name: "allowed principal on the allowed port",
    req: peer(ID("client"), "127.0.0.20", 8080),
    kind: "allow",
    policy: "default/allow-client",
  },
  {
    name: "another service account is refused",
    req: peer(ID("intruder"), "127.0.0.20", 8080),
    kind: "deny",
    status: 403,
    reason: /no ALLOW policy matched/,
    code: "ZT_ERR_DENIED",
  },
  {
    name: "allowed principal, other port → refused (clauses are AND-ed)",
    req: peer(ID("client"), "127.0.0.20", 9999),
    kind: "deny",
    status: 403,
  },
  {
    name: "same service account in another trust domain → refused",
    req: peer("spiffe://evil.local/ns/default/sa/client", "127.0.0.20", 8080),
    kind: "deny",
  },
  {
    name: "plaintext to a workload with an ALLOW policy → refused",
    req: peer(undefined, "127.0.0.20", 8080),
    kind: "deny",
  },
  {
    name: "open relay: node address → 403",
    req: peer(ID("client"), "127.0.0.3", 22),
    kind: "deny",
    status: 403,
    reason: /not a workload/,
    code: "ZT_ERR_NOT_LOCAL",
  },
  {
    name: "open relay: loopback → 403",
    req: peer(ID("client"), "127.0.0.1", 15000),
    kind: "deny",
    status: 403,
  },
  {
    name: "open relay: control plane address → 403",
    req: peer(ID("client"), "10.0.0.1", 15012),
    kind: "deny",
    status: 403,
  },
  {
    name: "open relay: a pod on another node → 403",
    req: peer(ID("client"), "127.0.0.10", 80),
    kind: "deny",
    status: 403,
    reason: /node-a/,
  },
  {
    name: "open relay: a service VIP → 403",
    req: peer(ID("client"), "10.96.0.10", 80),
    kind: "deny",
    status: 403,
  },
  {
    name: "non-enrolled local pod → 403",
    req: peer(ID("client"), "127.0.0.30", 8080),
    kind: "deny",
    status: 403,
    reason: /not enrolled/,
  },
  {
    name: "no policy → allow",
    req: peer(ID("anyone", "x"), "127.0.0.22", 9090),
    kind: "allow",
    policy: null,
  },
  {
    name: "namespace DENY matches the other namespace",
    req: peer(ID("other", "other"), "127.0.0.24", 80),
    kind: "deny",
    policy: "open/deny-other",
  },
  {
    name: "namespace DENY does not match default namespace",
    req: peer(ID("client"), "127.0.0.24", 80),
    kind: "allow",
  },
  {
    name: "namespace DENY ignores plaintext (no namespace)",
    req: peer(undefined, "127.0.0.24", 80),
    kind: "allow",
  },
  {
    name: "STRICT: plaintext refused",
    req: peer(undefined, "127.0.0.25", 80),
    kind: "deny",
    policy: "strict/converted_peer_authentication_default",
  },
  { name: "STRICT: mTLS peer allowed", req: peer(ID("client"), "127.0.0.25", 80), kind: "allow" },
  {
    name: "DENY on a port: matching principal and port",
    req: peer(ID("client"), "127.0.0.22", 9),
    kind: "deny",
    policy: "default/deny-client-port-9",
  },
  { name: "DENY on a port: other port allowed", req: peer(ID("client"), "127.0.0.22", 10), kind: "allow" },
  {
    name: "DENY on a port: other principal allowed",
    req: peer(ID("server"), "127.0.0.22", 9),
    kind: "allow",
  },
  {
    name: "monitor mode: a deny becomes would-deny",
    req: peer(ID("client"), "127.0.0.31", 9),
    kind: "allow",
    wouldDeny: true,
  },
  {
    name: "monitor mode: allowed stays allowed",
    req: peer(ID("client"), "127.0.0.31", 10),
    kind: "allow",
    wouldDeny: false,
  },
  {
    name: "port 15008 itself is never a target",
    req: peer(ID("client"), "127.0.0.22", 15008),
    kind: "deny",
    status: 403,
  },
  {
    name: "IPv4-mapped target address is matched",
    req: peer(ID("client"), "::ffff:127.0.0.20", 8080),
    kind: "allow",
  },
];

test("decideInbound table (this node: node-b)", async (t) => {
  const { state, authorizer } = meshState("node-b");
  for (const row of rows) {
    await t.test(row.name, () => {
      const d = decideInbound(state, authorizer, row.req);
      assert.equal(d.kind, row.kind, JSON.stringify({ reason: "reason" in d ? d.reason : d.authz.reason }));
      if (row.status !== undefined && d.kind === "deny") assert.equal(d.status, row.status);
      if (row.code !== undefined && d.kind === "deny") assert.equal(d.code, row.code);
      if (row.reason)
        assert.ok(d.kind === "deny" && row.reason.test(d.reason), d.kind === "deny" ? d.reason : "allowed");
      if (row.policy !== undefined) assert.equal(d.authz?.policy, row.policy);
      if (row.wouldDeny !== undefined && d.kind === "allow") assert.equal(d.wouldDeny, row.wouldDeny);
    });
  }
});

test("compiled policy sets follow state updates", () => {
  const { state, authorizer } = meshState("node-b");
  const req = peer(ID("anyone", "x"), "127.0.0.22", 9090);
  assert.equal(decideInbound(state, authorizer, req).kind, "allow");
  state.removeAddress("server-9090");
  assert.equal(decideInbound(state, authorizer, req).kind, "deny");
});
