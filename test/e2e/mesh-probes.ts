/**
 * Probes the L4 end-to-end tests share, whatever the capture mode (mesh.test.ts: node capture,
 * inpod.test.ts: in-pod): set-up readiness, metric sums, wire captures, a cluster-issued HBONE
 * client, access records by source, and a killed ztunnel's return.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { HbonePool } from "../../src/hbone/pool.js";
import { CertificateAuthority } from "../../src/identity/ca.js";
import { credentialFromIssued, type WorkloadCredential } from "../../src/identity/credential.js";
import { generateKeyPair } from "../../src/identity/keys.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { connectFrom } from "../../src/platform/netns-sockets.js";
import { eventually, exchange, sleep, TestCluster } from "./cluster.js";
import { ECHO_PORT, MESH_PODS, meshManifests } from "./workloads.js";

/** Sum of a Prometheus counter's series whose labels contain every `mustContain`. */
export function metricValue(text: string, name: string, mustContain: readonly string[]): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!mustContain.every((m) => line.includes(m))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** Set-up: both ztunnels ready (the new pods' certificates are in) and every echo answering. */
async function meshAnswers(c: TestCluster, clientNs: string, echoIps: readonly string[]): Promise<void> {
  for (const node of ["node-1", "node-2"])
    assert.ok(await eventually(() => c.ztunnelReady(node), 30_000), `${node} ready`);
  for (const ip of echoIps) {
    const ok = await eventually(
      async () => (await exchange(clientNs, ip, ECHO_PORT, Buffer.from("hi"))).received.toString() === "hi",
      60_000,
      250,
    );
    assert.ok(ok, `echo at ${ip} answers through the mesh`);
  }
}

/**
 * A 2-node cluster running the mesh workloads (workloads.ts), every echo answering through the mesh;
 * removed again if the set-up fails.
 */
export async function meshCluster(
  capture: "inpod" | "node",
): Promise<{ c: TestCluster; echoA: string; echoB: string; clientNs: string }> {
  const c = await TestCluster.up([], 2, undefined, {}, ["--capture", capture]);
  try {
    await c.apply(meshManifests());
    await c.waitForPods(MESH_PODS);
    const echoA = await c.podIp("mesh", "echo-a");
    const echoB = await c.podIp("mesh", "echo-b");
    const clientNs = c.podNetns("mesh", "client-a");
    await meshAnswers(c, clientNs, [echoA, echoB]);
    return { c, echoA, echoB, clientNs };
  } catch (e) {
    // The caller never sees the cluster, so its after() cannot remove it.
    await c.destroy();
    throw e;
  }
}

/** The TCP packets tcpdump saw on `iface` in `netns` while `send` ran, and what tcpdump said. */
export async function captureWire(
  home: string,
  netns: string,
  iface: string,
  send: () => Promise<void>,
): Promise<{ bytes: Buffer; log: string }> {
  const file = join(home, `wire-${randomBytes(4).toString("hex")}.pcap`);
  const dump = spawn(
    "ip",
    [
      "netns",
      "exec",
      netns,
      "tcpdump",
      "--immediate-mode",
      "-Z",
      "root",
      "-i",
      iface,
      "-U",
      "-s",
      "0",
      "-w",
      file,
      "tcp",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  await new Promise<void>((resolve) => {
    dump.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("listening on")) resolve();
    });
    dump.once("exit", () => resolve());
  });
  try {
    await send();
    await sleep(300);
  } finally {
    dump.kill("SIGINT");
    await new Promise((r) => dump.once("exit", r));
  }
  const bytes = await readFile(file).catch(() => Buffer.alloc(0));
  await rm(file, { force: true });
  return { bytes, log: `${bytes.length} bytes captured; tcpdump said: ${stderr.trim()}` };
}

/** A credential for `spiffe://cluster.local/ns/<ns>/sa/<sa>` signed by the cluster's own CA. */
export function clusterCredential(c: TestCluster, ns: string, sa: string): WorkloadCredential {
  const ca = CertificateAuthority.loadOrCreate(join(c.home, "ca"), { trustDomain: "cluster.local" });
  const id = SpiffeId.parse(`spiffe://cluster.local/ns/${ns}/sa/${sa}`);
  const { privateKey, publicKey } = generateKeyPair();
  return credentialFromIssued(id, privateKey, ca.sign(publicKey, { identity: id, ttlSeconds: 600 }));
}

/** An HBONE pool whose sessions leave from `netns`, as a ztunnel's would. */
export function poolFrom(netns: string): HbonePool {
  return new HbonePool({
    connect: (d) =>
      new Promise((resolve, reject) => {
        const s = connectFrom({ netns, host: d.host, port: d.port });
        s.once("connect", () => {
          s.off("error", reject);
          s.on("error", () => {});
          resolve(s);
        });
        s.once("error", reject);
      }),
  });
}

/** How many access records `node`'s ztunnel wrote for connections from `ip`. */
export async function recordsFrom(c: TestCluster, node: string, ip: string): Promise<number> {
  return (await c.accessRecords(node)).filter((a) => String(a["src.addr"]).startsWith(`${ip}:`)).length;
}

/**
 * SIGKILLs `node`'s ztunnel and waits (30 s) until a new one serves `probe`. Resolves with whether it
 * did and how long it took.
 */
export async function killZtunnel(
  c: TestCluster,
  node: string,
  probe: () => Promise<boolean>,
): Promise<{ back: boolean; ms: number }> {
  const old = await c.ztunnelPid(node);
  assert.ok(old !== null);
  process.kill(old, "SIGKILL");
  const started = Date.now();
  const back = await eventually(
    async () => {
      const pid = await c.ztunnelPid(node);
      return pid !== null && pid !== old && (await probe());
    },
    30_000,
    100,
  );
  return { back, ms: Date.now() - started };
}

/**
 * No open relay: an HBONE session from `fromNetns` to `hboneIp`:15008, presenting mesh/client,
 * gets `allowed` tunnelled and every one of `refused` answered 403.
 */
export async function assertOnlyRelaysTo(
  c: TestCluster,
  fromNetns: string,
  hboneIp: string,
  allowed: string,
  refused: readonly string[],
): Promise<void> {
  const source = clusterCredential(c, "mesh", "client");
  const pool = poolFrom(fromNetns);
  const open = (authority: string): Promise<unknown> =>
    pool.connect({
      source,
      dstAddress: { host: hboneIp, port: 15008 },
      expectedIdentities: [SpiffeId.parse("spiffe://cluster.local/ns/mesh/sa/echo")],
      authority,
    });
  try {
    const ok = (await open(allowed)) as NodeJS.ReadWriteStream & { destroy(): void };
    ok.destroy();
    for (const target of refused) {
      await assert.rejects(open(target), (e: { code?: string; status?: number }) => {
        assert.equal(e.code, "HBONE_ERR_CONNECT_REFUSED", target);
        assert.equal(e.status, 403, target);
        return true;
      });
    }
  } finally {
    await pool.close(0);
  }
}
