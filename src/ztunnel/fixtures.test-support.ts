/** A small mesh shared by the decision tables (node-a: clients; node-b: servers; node-c: waypoint). */
import { L4Authorizer } from "./authz.js";
import { addressFromProto, policyFromProto, ZtunnelState } from "./state.js";
import {
  authorization,
  type PolicySpec,
  policyKey,
  type ServiceSpec,
  serviceAddress,
  serviceKey,
  type WorkloadSpec,
  workloadAddress,
} from "./testing.js";

export const ECHO = "default/echo.default.svc.cluster.local";

export const WORKLOADS: WorkloadSpec[] = [
  { uid: "client", ip: "127.0.0.10", node: "node-a", serviceAccount: "client" },
  { uid: "other-ns", namespace: "other", ip: "127.0.0.11", node: "node-a", serviceAccount: "other" },
  { uid: "unenrolled", ip: "127.0.0.12", node: "node-a", tunnel: "none" },
  { uid: "monitored", ip: "127.0.0.13", node: "node-a", mode: "monitor" },
  { uid: "remote-client", ip: "127.0.0.14", node: "node-b", serviceAccount: "client" },
  { uid: "local-server", ip: "127.0.0.15", node: "node-a", serviceAccount: "local-server" },
  {
    uid: "server",
    ip: "127.0.0.20",
    node: "node-b",
    serviceAccount: "server",
    services: { [ECHO]: [[80, 8080]] },
    policies: ["default/allow-client"],
  },
  {
    uid: "server-sick",
    ip: "127.0.0.21",
    node: "node-b",
    serviceAccount: "server",
    services: { [ECHO]: [[80, 8080]] },
    healthy: false,
  },
  {
    uid: "server-9090",
    ip: "127.0.0.22",
    node: "node-b",
    serviceAccount: "server",
    services: { [ECHO]: [[80, 9090]] },
  },
  { uid: "behind-wp", ip: "127.0.0.23", node: "node-b", serviceAccount: "server", waypointIp: "127.0.0.40" },
  { uid: "open", ip: "127.0.0.24", node: "node-b", serviceAccount: "open", namespace: "open" },
  { uid: "monitor-dst", ip: "127.0.0.31", node: "node-b", mode: "monitor", serviceAccount: "mon" },
  {
    uid: "plain-dst",
    ip: "127.0.0.30",
    node: "node-b",
    tunnel: "none",
    services: { "default/plain.default.svc.cluster.local": [[80, 8080]] },
  },
  {
    uid: "waypoint",
    ip: "127.0.0.40",
    node: "node-c",
    serviceAccount: "waypoint",
    services: { "default/wp.default.svc.cluster.local": [[15008, 15008]] },
  },
  { uid: "strict-server", ip: "127.0.0.25", node: "node-b", namespace: "strict", serviceAccount: "s" },
];

export const SERVICES: ServiceSpec[] = [
  { hostname: "echo.default.svc.cluster.local", vip: "10.96.0.10", ports: [[80, 8080]] },
  { hostname: "empty.default.svc.cluster.local", vip: "10.96.0.11", ports: [[80, 80]] },
  {
    hostname: "routed.default.svc.cluster.local",
    vip: "10.96.0.12",
    ports: [[80, 8080]],
    waypointIp: "127.0.0.40",
  },
  {
    hostname: "lost.default.svc.cluster.local",
    vip: "10.96.0.13",
    ports: [[80, 8080]],
    waypointIp: "10.1.1.1",
  },
  { hostname: "plain.default.svc.cluster.local", vip: "10.96.0.14", ports: [[80, 8080]] },
  { hostname: "wp.default.svc.cluster.local", vip: "10.96.0.40", ports: [[15008, 15008]] },
];

export const POLICIES: PolicySpec[] = [
  // Only the client service account may reach `server`, and only on 8080.
  {
    name: "allow-client",
    rules: [[[{ principals: ["cluster.local/ns/default/sa/client"] }], [{ ports: [8080] }]]],
  },
  // Namespace `open`: deny the `other` namespace, allow everyone else (no ALLOW policy).
  {
    name: "deny-other",
    namespace: "open",
    scope: "namespace",
    action: "deny",
    rules: [[[{ namespaces: ["other"] }]]],
  },
  // Namespace `strict`: PeerAuthentication STRICT, as the control plane converts it.
  {
    name: "converted_peer_authentication_default",
    namespace: "strict",
    scope: "namespace",
    action: "deny",
    rules: [[[{ requireNoPrincipal: true }]]],
  },
  // monitor-dst's namespace-wide deny of the client (would deny in monitor mode).
  {
    name: "deny-client-port-9",
    scope: "namespace",
    action: "deny",
    rules: [[[{ principals: ["*/sa/client"] }], [{ ports: [9] }]]],
  },
];

export function meshState(node: string): { state: ZtunnelState; authorizer: L4Authorizer } {
  const state = new ZtunnelState({ node });
  for (const w of WORKLOADS) state.upsertAddress(w.uid, addressFromProto(w.uid, workloadAddress(w)));
  for (const s of SERVICES)
    state.upsertAddress(serviceKey(s), addressFromProto(serviceKey(s), serviceAddress(s)));
  for (const p of POLICIES) state.upsertPolicy(policyFromProto(policyKey(p), authorization(p)));
  return { state, authorizer: new L4Authorizer(state) };
}
