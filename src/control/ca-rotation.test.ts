import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CaFiles } from "../identity/ca.js";
import { generateKeyPair } from "../identity/keys.js";
import { splitCertificates } from "../identity/pem.js";
import { SpiffeId } from "../identity/spiffe.js";
import { CaRotation, fingerprintOf, importCaDir, ROTATION_FILE } from "./ca-rotation.js";
import { controlConfig } from "./config.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "ambit-carot-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const TTL = 3600;
const ALL_CAUGHT_UP = { nodesBehind: [], oldLeavesInUse: 0 };

function leafVerifiesTo(rotation: CaRotation, rootPem: string): boolean {
  const { publicKey } = generateKeyPair();
  const issued = rotation.signer.sign(publicKey, { identity: SpiffeId.of("shop", "web") });
  let cert = new X509Certificate(issued.certPem);
  for (const pem of issued.chainPem) {
    const parent = new X509Certificate(pem);
    if (!cert.verify(parent.publicKey)) return false;
    cert = parent;
  }
  return cert.verify(new X509Certificate(rootPem).publicKey);
}

test("root rotation walks every phase and a restart at each phase resumes it", () => {
  const dir = tmp();
  let now = Date.parse("2026-01-01T00:00:00Z");
  const opts = { certTtlSeconds: TTL, clock: () => now };
  let r = CaRotation.open(dir, opts);
  const oldRoot = r.signer.rootPem();
  assert.equal(r.phase.state, "idle");
  assert.equal(r.rootsPem().length, 1);

  r.startRootRotation({ kind: "generate" });
  assert.equal(r.phase.state, "distributing");
  assert.equal(r.rootsPem().length, 2);
  assert.equal(r.signer.rootPem(), oldRoot, "the new root signs nothing before every node holds it");
  assert.throws(() => r.startRootRotation({ kind: "generate" }), { code: "CP_ERR_ROTATION_CONFLICT" });
  assert.throws(() => r.retireNow(), { code: "CP_ERR_ROTATION_CONFLICT" });

  r = CaRotation.open(dir, opts); // restart while distributing
  assert.equal(r.phase.state, "distributing");
  assert.equal(r.rootsPem().length, 2);
  assert.equal(r.advance({ nodesBehind: ["node/node2"], oldLeavesInUse: 3 }), false);
  assert.equal(r.phase.state, "distributing");

  assert.equal(r.advance({ nodesBehind: [], oldLeavesInUse: 3 }), true);
  assert.equal(r.phase.state, "reissuing");
  const newRoot = r.signer.rootPem();
  assert.notEqual(fingerprintOf(newRoot), fingerprintOf(oldRoot));
  assert.ok(leafVerifiesTo(r, newRoot));
  assert.deepEqual([...r.bundle().rotations], [["", 1]], "the switch asks every node to re-issue");
  // root-cert.pem holds the bundle, the signer's root first.
  const rootFile = splitCertificates(readFileSync(join(dir, CaFiles.root), "utf8"));
  assert.deepEqual(rootFile.map(fingerprintOf), [fingerprintOf(newRoot), fingerprintOf(oldRoot)]);

  r = CaRotation.open(dir, opts); // restart while reissuing
  assert.equal(r.phase.state, "reissuing");
  assert.equal(fingerprintOf(r.signer.rootPem()), fingerprintOf(newRoot));
  assert.equal(r.rootsPem().length, 2);
  assert.equal(r.advance({ nodesBehind: [], oldLeavesInUse: 1 }), false);
  assert.equal(r.advance(ALL_CAUGHT_UP), true);
  assert.equal(r.phase.state, "retiring");

  now += 30 * 60_000;
  r = CaRotation.open(dir, opts); // restart while retiring
  assert.equal(r.advance(ALL_CAUGHT_UP), false, "the old root stays until its last leaf expired");
  assert.equal(r.rootsPem().length, 2);
  now += TTL * 1000;
  assert.equal(r.advance(ALL_CAUGHT_UP), true);
  assert.equal(r.phase.state, "idle");
  assert.deepEqual(r.rootsPem().map(fingerprintOf), [fingerprintOf(newRoot)]);
  assert.equal(existsSync(join(dir, "previous")), false);
  assert.equal(CaRotation.open(dir, opts).rootsPem().length, 1);
});

test("a crash in the middle of the switch is redone at start without losing the old CA", () => {
  const dir = tmp();
  const opts = { certTtlSeconds: TTL };
  const r = CaRotation.open(dir, opts);
  const oldRoot = r.signer.rootPem();
  const started = r.startRootRotation({ kind: "generate" });
  // As if the process died right after recording "switching".
  const state = JSON.parse(readFileSync(join(dir, ROTATION_FILE), "utf8"));
  writeFileSync(
    join(dir, ROTATION_FILE),
    JSON.stringify({ ...state, phase: { ...started, state: "switching" } }),
  );
  const resumed = CaRotation.open(dir, opts);
  assert.equal(resumed.phase.state, "reissuing");
  assert.notEqual(fingerprintOf(resumed.signer.rootPem()), fingerprintOf(oldRoot));
  assert.ok(resumed.rootsPem().some((p) => fingerprintOf(p) === fingerprintOf(oldRoot)));
  assert.equal(
    fingerprintOf(readFileSync(join(dir, "previous", CaFiles.cert), "utf8")),
    fingerprintOf(oldRoot),
  );
});

/** An organisation root and an intermediate for ambit, made with the openssl CLI as docs/identity.md shows. */
function pluginIntermediate(): string {
  const d = tmp();
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: d, stdio: "ignore", timeout: 60_000, killSignal: "SIGKILL" });
  };
  run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root-key.pem");
  run(
    "req",
    "-x509",
    "-new",
    "-key",
    "root-key.pem",
    "-subj",
    "/O=Example Org/CN=Example Root",
    "-days",
    "30",
    "-out",
    CaFiles.root,
  );
  writeFileSync(
    join(d, "int.cnf"),
    "[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", CaFiles.key);
  run(
    "req",
    "-new",
    "-key",
    CaFiles.key,
    "-subj",
    "/O=cluster.local/CN=ambit intermediate",
    "-out",
    "ca.csr",
  );
  run(
    "x509",
    "-req",
    "-in",
    "ca.csr",
    "-CA",
    CaFiles.root,
    "-CAkey",
    "root-key.pem",
    "-CAcreateserial",
    "-days",
    "10",
    "-extfile",
    "int.cnf",
    "-extensions",
    "v3_int",
    "-out",
    CaFiles.cert,
  );
  writeFileSync(
    join(d, CaFiles.chain),
    readFileSync(join(d, CaFiles.cert), "utf8") + readFileSync(join(d, CaFiles.root), "utf8"),
  );
  rmSync(join(d, "root-key.pem"));
  return d;
}

test("rotation to a plug-in intermediate from files: leaves carry the intermediate and verify to the root alone", () => {
  const dir = tmp();
  const plugin = pluginIntermediate();
  const r = CaRotation.open(dir, { certTtlSeconds: TTL });
  r.startRootRotation({ kind: "dir", dir: plugin });
  const orgRoot = readFileSync(join(plugin, CaFiles.root), "utf8");
  assert.ok(
    r.rootsPem().some((p) => fingerprintOf(p) === fingerprintOf(orgRoot)),
    "the bundle holds roots only",
  );
  r.advance(ALL_CAUGHT_UP);
  assert.equal(r.signer.chainPem().length, 1);
  assert.ok(leafVerifiesTo(r, orgRoot));
});

test("--ca-dir imports a plug-in CA once, and refuses to replace a different CA in use", () => {
  const plugin = pluginIntermediate();
  const caDir = join(tmp(), "ca");
  importCaDir(plugin, caDir, {});
  const r = CaRotation.open(caDir, { certTtlSeconds: TTL });
  assert.equal(r.signer.chainPem().length, 1);
  importCaDir(plugin, caDir, {}); // same CA: nothing to do
  assert.throws(() => importCaDir(pluginIntermediate(), caDir, {}), { code: "CP_ERR_ROTATION_CONFLICT" });
  assert.throws(() => importCaDir(tmp(), join(tmp(), "ca"), {}), { code: "CP_ERR_BAD_OPTIONS" });
});

test("--cert-ttl: 5 minutes to 90 days; shorter only with the test-only floor", () => {
  assert.equal(controlConfig({}).certTtlSeconds, 3600);
  assert.equal(controlConfig({ certTtl: "5m" }).certTtlSeconds, 300);
  assert.throws(() => controlConfig({ certTtl: "4m" }), { code: "CP_ERR_BAD_OPTIONS" });
  assert.throws(() => controlConfig({ certTtl: "91d" }), { code: "CP_ERR_BAD_OPTIONS" });
  assert.equal(controlConfig({ certTtl: "20s", testOnlyMinCertTtlSeconds: 10 }).certTtlSeconds, 20);
});

test("revocation: persisted with the rotation state, idempotent, pushed in the bundle, dropped after notAfter", () => {
  const dir = tmp();
  let now = Date.parse("2026-01-01T00:00:00Z");
  const opts = { certTtlSeconds: TTL, clock: () => now };
  let r = CaRotation.open(dir, opts);
  let changes = 0;
  r.onChange(() => changes++);
  assert.throws(() => r.revoke("zz-top"), { code: "ID_ERR_BAD_SERIAL" });
  const known = r.revoke("0a:bc", {
    reason: "key compromise",
    notAfter: new Date(now + 3600_000),
    identity: "spiffe://cluster.local/ns/shop/sa/web",
  });
  assert.equal(known.added, true);
  assert.equal(known.entry.serial, "ABC");
  assert.equal(r.revoke("ABC", { reason: "again" }).added, false);
  const unknown = r.revoke("DEAD");
  assert.equal(unknown.entry.notAfter, null);
  assert.equal(unknown.entry.reason, "unspecified");
  assert.equal(changes, 2, "an idempotent revoke pushes nothing");
  assert.deepEqual(r.bundle().revokedSerials, ["ABC", "DEAD"]);

  r = CaRotation.open(dir, opts); // restart: the list survives
  assert.deepEqual(
    r.revoked().map((e) => [e.serial, e.reason]),
    [
      ["ABC", "key compromise"],
      ["DEAD", "unspecified"],
    ],
  );
  assert.equal(r.pruneRevocations(), false);
  now += 3600_000 + 1000; // the known certificate has expired
  assert.deepEqual(r.bundle().revokedSerials, ["DEAD"]);
  assert.equal(r.pruneRevocations(), true);
  const persisted = JSON.parse(readFileSync(join(dir, ROTATION_FILE), "utf8")) as { revoked: unknown[] };
  assert.equal(persisted.revoked.length, 1);
  now += 7 * 24 * 3600_000; // an unknown serial is kept a week
  assert.equal(r.pruneRevocations(), true);
  assert.deepEqual(r.revoked(), []);
});
