import assert from "node:assert/strict";
import { test } from "node:test";
import type { ServiceInfo, WorkloadInfo } from "../control/registry.js";
import { planServiceNat } from "./service-nat-plan.js";

function pod(uid: string, ip: string | undefined, services: WorkloadInfo["services"]): WorkloadInfo {
  return { uid, kind: "Pod", ip, services } as WorkloadInfo;
}

const svc = (over: Partial<ServiceInfo>): ServiceInfo =>
  ({
    kind: "Service",
    name: "web",
    namespace: "shop",
    hostname: "web.shop.svc.cluster.local",
    vip: "10.96.0.10",
    ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP", appProtocol: undefined }],
    endpoints: ["a", "b", "c"],
    ...over,
  }) as ServiceInfo;

test("one DNAT per endpoint, even random shares, the last one unconditional; no endpoint, no rule", () => {
  const map = { "shop/web.shop.svc.cluster.local": [{ servicePort: 80, targetPort: 8080 }] };
  const text = planServiceNat(
    {
      services: [
        svc({}),
        svc({ name: "empty", hostname: "empty.shop.svc.cluster.local", vip: "10.96.0.11", endpoints: [] }),
      ],
      workloads: [pod("a", "10.244.1.2", map), pod("b", "10.244.2.2", map), pod("c", undefined, map)],
    },
    "t1",
  );
  const rules = text.split("\n").filter((l) => l.startsWith("-A"));
  assert.deepEqual(rules, [
    "-A t1-SERVICES -d 10.96.0.10/32 -p tcp --dport 80 -m statistic --mode random --probability 0.50000 -m comment --comment t1/svc=shop.web -j DNAT --to-destination 10.244.1.2:8080",
    "-A t1-SERVICES -d 10.96.0.10/32 -p tcp --dport 80 -m comment --comment t1/svc=shop.web -j DNAT --to-destination 10.244.2.2:8080",
  ]);
  assert.match(text, /^\*nat\n:t1-SERVICES - \[0:0\]\n/);
  assert.match(text, /COMMIT\n$/);
});
