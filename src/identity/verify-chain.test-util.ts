// Test support (not shipped API): verifies issued chains with both OpenSSL's CLI and Node's X509Certificate,
// so a certificate ambit builds by hand is accepted by two independent implementations.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { splitCertificates } from "./pem.js";

/**
 * openssl is these tests' independent oracle, not code under test. It never reads stdin here, and a
 * run that takes 30 s is stuck (one CI run held ca.test.ts for the runner's whole 10-minute timeout):
 * it is killed and run once more, said on stderr; a second stuck run fails the test naming the command.
 */
function run(
  args: readonly string[],
  cwd?: string,
): { status: number | null; stdout: string; stderr: string } {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync("openssl", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    const stuck =
      r.signal === "SIGKILL" || (r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT";
    if (stuck && attempt === 1) {
      process.stderr.write(`openssl ${args.join(" ")}: no answer in 30 s, killed; running it once more\n`);
      continue;
    }
    if (r.error !== undefined || stuck) {
      const why = r.error?.message ?? "no answer in 30 s twice";
      throw new Error(`openssl ${args.join(" ")}: ${why}`, { cause: r.error });
    }
    return r;
  }
}

export interface OpensslResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `openssl verify -CAfile root [-untrusted chain] [-attime t] [-purpose p] leaf`. */
export function opensslVerify(
  leafPem: string,
  chainPem: readonly string[],
  rootsPem: string,
  opts: { atTime?: Date; purpose?: "sslserver" | "sslclient" } = {},
): OpensslResult {
  const dir = mkdtempSync(join(tmpdir(), "ambit-id-verify-"));
  try {
    writeFileSync(join(dir, "root.pem"), rootsPem);
    writeFileSync(join(dir, "leaf.pem"), leafPem);
    const args = ["verify", "-CAfile", join(dir, "root.pem")];
    if (chainPem.length > 0) {
      writeFileSync(join(dir, "chain.pem"), chainPem.join(""));
      args.push("-untrusted", join(dir, "chain.pem"));
    }
    if (opts.atTime !== undefined) args.push("-attime", String(Math.floor(opts.atTime.getTime() / 1000)));
    if (opts.purpose !== undefined) args.push("-purpose", opts.purpose);
    args.push(join(dir, "leaf.pem"));
    const r = run(args);
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl with `args` in `cwd`, failing the test with its output if it exits non-zero. */
export function openssl(cwd: string, args: readonly string[]): string {
  const r = run(args, cwd);
  assert.equal(r.status, 0, `openssl ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Node's view of the chain leaf → intermediates → root: each link issued and signed by the next, the leaf
 * an end-entity certificate with exactly `uri` as SAN, within its validity at `at`.
 */
export function nodeVerifyChain(
  leafPem: string,
  chainPem: readonly string[],
  rootPem: string,
  uri: string,
  at = new Date(),
): void {
  const leaf = new X509Certificate(leafPem);
  const path = [
    leaf,
    ...chainPem.flatMap((p) => splitCertificates(p)).map((p) => new X509Certificate(p)),
    new X509Certificate(rootPem),
  ];
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i] as X509Certificate;
    const parent = path[i + 1] as X509Certificate;
    assert.ok(child.checkIssued(parent), `link ${i}: "${child.subject}" not issued by "${parent.subject}"`);
    assert.ok(child.verify(parent.publicKey), `link ${i}: signature does not verify with the issuer's key`);
    assert.ok(parent.ca, `link ${i + 1} is not a CA`);
  }
  assert.equal(leaf.subjectAltName, `URI:${uri}`);
  assert.equal(leaf.ca, false);
  assert.ok(!leaf.subject, `leaf subject must be empty, got ${JSON.stringify(leaf.subject)}`);
  assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.ok(
    new Date(leaf.validFrom) <= at && at <= new Date(leaf.validTo),
    `leaf not valid at ${at.toISOString()}`,
  );
}
