import assert from "node:assert/strict";
import { test } from "node:test";
import type { PodDescription, PolicyView, WorkloadView } from "../control/mesh-views.js";
import {
  describePodText,
  duration,
  policiesTable,
  viewList,
  workloadsTable,
  ztCertificatesTable,
  ztConnectionsTable,
} from "./mesh-tables.js";

const WEB: WorkloadView = {
  namespace: "shop",
  name: "web-0",
  kind: "Pod",
  owner: "web",
  phase: "Running",
  node: "node1",
  ip: "10.244.1.2",
  serviceAccount: "web",
  identity: "spiffe://cluster.local/ns/shop/sa/web",
  enrollment: "ambient",
  enrollmentFrom: "namespace",
  waypoint: null,
  protocol: "HBONE",
  isWaypoint: false,
  services: ["shop/web"],
};
const OLD: WorkloadView = {
  ...WEB,
  name: "old-0",
  enrollment: "none",
  protocol: "TCP",
  ip: null,
  node: null,
};

test("workloads table: kubectl columns, NAMESPACE only with -A, wide adds identity and services", () => {
  assert.equal(
    workloadsTable([WEB, OLD], false, false),
    [
      "NAME    ADDRESS      NODE     ENROLLMENT     WAYPOINT   PROTOCOL",
      "web-0   10.244.1.2   node1    ambient        <none>     HBONE",
      "old-0   <none>       <none>   not enrolled   <none>     TCP",
      "",
    ].join("\n"),
  );
  const wide = workloadsTable([WEB], true, true).split("\n");
  assert.match(wide[0] ?? "", /^NAMESPACE\s+NAME\s+.*PROTOCOL\s+IDENTITY\s+SERVICES$/);
  assert.match(wide[1] ?? "", /^shop\s+web-0\s+.*spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web\s+shop\/web$/);
});

test("policies table says where each policy is enforced", () => {
  const p: PolicyView = {
    kind: "AuthorizationPolicy",
    namespace: "shop",
    name: "db",
    scope: "waypoint-targeted",
    action: "ALLOW",
    selector: null,
    targets: ["Service/db"],
    enforcedAt: "waypoint",
    layer: "L7",
    dryRun: false,
    warnings: [],
  };
  const off: PolicyView = {
    ...p,
    name: "audit",
    scope: "workload",
    action: "AUDIT",
    enforcedAt: "none",
    layer: null,
    targets: [],
    selector: { app: "db" },
  };
  const out = policiesTable([p, off], false, true).split("\n");
  assert.match(
    out[1] ?? "",
    /^AuthorizationPolicy\s+db\s+waypoint-targeted\s+ALLOW\s+waypoint \(L7\)\s+0\s+Service\/db\s+no$/,
  );
  assert.match(
    out[2] ?? "",
    /^AuthorizationPolicy\s+audit\s+workload\s+AUDIT\s+not enforced\s+0\s+app=db\s+no$/,
  );
});

test("viewList wraps items in a versioned envelope", () => {
  assert.deepEqual(viewList("WorkloadList", [WEB]), {
    apiVersion: "ambit.dev/v1",
    kind: "WorkloadList",
    items: [WEB],
  });
});

test("duration prints kubectl's AGE style", () => {
  assert.deepEqual([0, 59, 61, 3600 + 120, 86400 * 2 + 3600 * 5, -3].map(duration), [
    "0s",
    "59s",
    "1m1s",
    "1h2m",
    "2d5h",
    "0s",
  ]);
});

test("ztunnel-config tables: certificates with time left, connections by direction of flow", () => {
  const certs = ztCertificatesTable(
    [
      {
        identity: "spiffe://cluster.local/ns/shop/sa/web",
        serial: "0a1b",
        notBefore: "2026-01-01T00:00:00.000Z",
        notAfter: "2026-01-01T01:00:00.000Z",
        secondsLeft: 1800,
        state: "valid",
      },
    ],
    false,
  ).split("\n");
  assert.match(
    certs[1] ?? "",
    /^spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web\s+valid\s+0a1b\s+2026-01-01T01:00:00\.000Z\s+30m0s$/,
  );
  const conns = ztConnectionsTable(
    [
      {
        id: "0123456789abcdef",
        direction: "outbound",
        entry: "capture",
        via: "pool",
        src: { address: "10.244.1.2:4000", workload: "web-0", namespace: "shop" },
        dst: { address: "10.96.0.10:80", service: "db.shop.svc.cluster.local", waypoint: "waypoint" },
        security: "mutual_tls",
        bytes: { received: 7, sent: 70 },
        ageSeconds: 5,
      },
    ],
    true,
  ).split("\n");
  assert.match(
    conns[0] ?? "",
    /^DIRECTION\s+SOURCE\s+DESTINATION\s+VIA\s+BYTES-SRC>DST\s+BYTES-DST>SRC\s+AGE\s+SRC-IDENTITY/,
  );
  assert.match(
    conns[1] ?? "",
    /^outbound\s+shop\/web-0 \(10\.244\.1\.2:4000\)\s+10\.96\.0\.10:80\s+pool\s+7\s+70\s+5s\s+<none>\s+<none>\s+waypoint\s+0123456789ab$/,
  );
});

test("describe pod text: identity, enrollment and why, waypoints, policies with warnings, events", () => {
  const d: PodDescription = {
    kind: "PodDescription",
    workload: WEB,
    labels: { app: "web" },
    enrollmentReason: "namespace shop label istio.io/dataplane-mode=ambient",
    waypoints: [
      {
        namespace: "shop",
        name: "wp",
        from: "namespace",
        for: "service",
        reason: "traffic to service web goes through it",
      },
    ],
    services: [{ name: "shop/web", vip: "10.96.0.10" }],
    policies: [
      {
        namespace: "shop",
        name: "get-only",
        action: "ALLOW",
        enforcedAt: "ztunnel",
        waypoint: null,
        via: null,
        dryRun: false,
        effect: "allows only requests matching its rules; everything else is denied at L4",
        warnings: [
          "rule 0 of shop/get-only uses methods, which ztunnel cannot enforce: this ALLOW rule will never match at ztunnel",
        ],
      },
    ],
    mtls: { mode: "STRICT", policy: "shop/strict", level: "namespace" },
    events: [],
  };
  const text = describePodText(d);
  assert.match(text, /^Name:\s+web-0$/m);
  assert.match(text, /^Identity:\s+spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web$/m);
  assert.match(text, /^Enrollment:\s+ambient \(namespace shop label istio\.io\/dataplane-mode=ambient\)$/m);
  assert.match(text, /^mTLS:\s+STRICT \(namespace PeerAuthentication shop\/strict\)$/m);
  assert.match(text, /^ {2}shop\/wp\s+service\s+traffic to service web goes through it$/m);
  assert.match(text, /^ {2}shop\/get-only\s+ALLOW\s+ztunnel \(L4\)\s+allows only/m);
  assert.match(text, /^ {2}Warning: rule 0 of shop\/get-only uses methods/m);
  assert.match(text, /^Events:\s+<none>$/m);
});
