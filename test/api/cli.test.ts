/**
 * `ambit validate` and `ambit demo-app` as a user runs them: real processes, real exit codes, and
 * the examples shipped in examples/.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const MAIN = join(ROOT, "dist", "src", "cli", "main.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ambit(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => {});
    child.stdin.end(stdin ?? "");
  });
}

describe("ambit validate", () => {
  test("examples/payment-system is valid: exit 0 and a summary", async () => {
    const r = await ambit(["validate", "-f", "examples/payment-system"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "valid: 14 resources");
    assert.ok(lines.includes("  Deployment: 4"));
    assert.ok(lines.includes("Namespace payment-system"));
    assert.ok(lines.includes("AuthorizationPolicy payment-system/payment-db-access"));
    assert.ok(lines.includes("TrafficSplit payment-system/payments-split"));
    assert.ok(lines.includes("Gateway payment-system/waypoint"));
  });

  test("examples/invalid reports each deliberate mistake and exits 1", async () => {
    const r = await ambit(["validate", "-f", "examples/invalid"]);
    assert.equal(r.code, 1);
    const f = "examples/invalid/payment.yaml";
    assert.deepEqual(r.stdout.trim().split("\n").slice(0, -1), [
      `${f}:15:21 spec.rules[0].to[0].operation.ports[0]: "http" is not a port number (1-65535)`,
      `${f}:16:3 spec.rulez: unknown field "rulez" (expected one of: selector, targetRef, targetRefs, rules, action, provider)`,
      `${f}:17:11 spec.action: "ALLOWED" is not one of ALLOW, DENY, AUDIT, CUSTOM`,
      `${f}:22:9 metadata.name: "Payments_Split" is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`,
      `${f}:30:9 spec.rules[0].route: route weights add up to 105, expected 100 (10 + 95)`,
      `${f}:45:30 metadata.labels["istio.io/dataplane-mode"]: "sidecar" is not one of ambient, monitor, none`,
      `${f}:57:13 spec.ports[0].port: 330600 is not a port number (1-65535)`,
    ]);
  });

  test("-o json on an invalid input", async () => {
    const r = await ambit(["validate", "-f", "examples/invalid", "-o", "json"]);
    assert.equal(r.code, 1);
    const body = JSON.parse(r.stdout) as { valid: boolean; resources: unknown[]; errors: { code: string }[] };
    assert.equal(body.valid, false);
    assert.deepEqual(body.resources, []);
    assert.deepEqual(
      body.errors.map((e) => e.code),
      [
        "CFG_ERR_PORT",
        "CFG_ERR_UNKNOWN_FIELD",
        "CFG_ERR_ENUM",
        "CFG_ERR_NAME",
        "CFG_ERR_WEIGHT_SUM",
        "CFG_ERR_ENUM",
        "CFG_ERR_PORT",
      ],
    );
  });

  test("-o json on a valid input, several -f, and stdin", async () => {
    const stdin =
      "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n  labels: {topology.kubernetes.io/zone: z1}\n";
    const r = await ambit(
      ["validate", "-f", "examples/payment-system/00-namespace.yaml", "-f", "-", "-o", "json"],
      stdin,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      valid: true,
      resources: [
        { kind: "Namespace", name: "payment-system" },
        { kind: "Node", name: "node-1" },
      ],
      errors: [],
    });
  });

  test("errors on stdin name <stdin>", async () => {
    const r = await ambit(
      ["validate", "-f", "-"],
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 0}]}\n",
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^<stdin>:4:23 spec\.ports\[0\]\.port: 0 is not a port number \(1-65535\)$/m);
  });

  test("a missing file and a bad -o", async () => {
    const missing = await ambit(["validate", "-f", "does-not-exist.yaml"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^does-not-exist\.yaml: cannot read: no such file or directory$/m);
    const badFormat = await ambit(["validate", "-f", "examples/invalid", "-o", "xml"]);
    assert.equal(badFormat.code, 2, badFormat.stderr);
    assert.match(badFormat.stderr, /unknown output format "xml"/);
  });
});

describe("ambit demo-app", () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  });

  test("http answers with its identity; client prints one line per response; SIGTERM stops the server", async () => {
    const server = spawn(
      process.execPath,
      [
        MAIN,
        "demo-app",
        "http",
        "--service",
        "payment-service",
        "--version",
        "v2",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
      ],
      {
        cwd: ROOT,
        env: { ...process.env, POD_NAME: "payment-service-v2-abc" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(server);
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.on("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });

    const client = await ambit([
      "demo-app",
      "client",
      "--url",
      `http://127.0.0.1:${port}/pay?x=1`,
      "--interval-ms",
      "1",
      "--count",
      "2",
    ]);
    assert.equal(client.code, 0, client.stderr);
    const lines = client.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    for (const line of lines) {
      const m = /^200 \d+ms (\{.*\})$/.exec(line);
      assert.ok(m, line);
      assert.deepEqual(JSON.parse(m[1] ?? ""), {
        service: "payment-service",
        version: "v2",
        pod: "payment-service-v2-abc",
        method: "GET",
        path: "/pay?x=1",
        host: `127.0.0.1:${port}`,
      });
    }

    const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
    server.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(out, /stopped/);
  });

  test("client against a closed port reports errors and exits 1", async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await ambit([
      "demo-app",
      "client",
      "--url",
      `http://127.0.0.1:${port}/`,
      "--interval-ms",
      "1",
      "--count",
      "1",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^error ECONNREFUSED$/m);
  });
});
