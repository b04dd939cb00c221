import assert from "node:assert/strict";
import { test } from "node:test";
import { ztunnelConfig } from "./config.js";

const base = {
  node: "node-1",
  control: {
    address: "127.0.0.1:15010",
    tls: { rootsPem: "", serverIdentity: "spiffe://cluster.local/ns/istio-system/sa/istiod" },
  },
};

test("ztunnel config: hboneWrites defaults to unblocked, takes kernel, refuses anything else by name", () => {
  assert.equal(ztunnelConfig(base).hboneWrites, "unblocked");
  assert.equal(ztunnelConfig({ ...base, hboneWrites: "kernel" }).hboneWrites, "kernel");
  assert.throws(
    () => ztunnelConfig({ ...base, hboneWrites: "fast" as never }),
    (e: unknown) =>
      (e as { code?: string }).code === "ZT_ERR_CONFIG" &&
      /hboneWrites "fast" must be one of unblocked, kernel/.test((e as Error).message),
  );
});
