import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { createTestPki } from "../../src/identity/testing.js";
import { ZtunnelErrorCode } from "../../src/ztunnel/errors.js";
import { Ztunnel } from "../../src/ztunnel/ztunnel.js";
import { ControlPlane, httpGet, startZtunnel } from "./harness.js";

test("a taken port fails start-up with ZT_ERR_BIND naming the port", async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.4", () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(
      Ztunnel.start({
        node: "node-x",
        control: { address: "127.0.0.1:1", tls: { rootsPem: createTestPki().rootsPem } },
        bindAddress: "127.0.0.4",
        socks5Address: "127.0.0.4",
        ports: {
          outbound: 0,
          inboundPlaintext: 0,
          inbound: 0,
          socks5: port,
          metrics: 0,
          readiness: 0,
          admin: 0,
        },
      }),
      (e: { code?: string; message?: string }) =>
        e.code === ZtunnelErrorCode.Bind &&
        (e.message ?? "").includes(String(port)) &&
        (e.message ?? "").includes("SOCKS5"),
    );
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

test("bad options fail with ZT_ERR_CONFIG before anything is bound", async () => {
  await assert.rejects(
    Ztunnel.start({ node: "Bad Name", control: { address: "x:1", tls: { rootsPem: "" } } }),
    { code: ZtunnelErrorCode.Config },
  );
  await assert.rejects(
    Ztunnel.start({
      node: "n",
      control: { address: "x:1", tls: { rootsPem: "" } },
      adminAddress: "10.0.0.1",
    }),
    { code: ZtunnelErrorCode.Config },
  );
});

test("not ready until the control plane has answered", async () => {
  const cp = await ControlPlane.start();
  const address = cp.address;
  await cp.close();
  const zt = await startZtunnel(
    { ...cp, address, pki: cp.pki, nodeOf: () => undefined } as unknown as ControlPlane,
    "node-c",
    "127.0.0.5",
    new Map(),
  );
  try {
    const r = await httpGet(zt.host, zt.port("readiness"), "/healthz/ready");
    assert.equal(r.status, 503);
    assert.match(r.body, /first xDS config/);
  } finally {
    await zt.zt.close();
  }
});
