import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEMO } from "./harness.js";

// cli-entry.ts: this area's commands exactly as src/cli/main.ts runs them, without other areas' files.
const MAIN = join(dirname(fileURLToPath(import.meta.url)), "cli-entry.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(home: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, AMBIT_HOME: home } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    p.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin ?? "");
  });
}

/** Starts `ambit control` and resolves with its xDS port once it prints its ready line. */
function startDaemon(home: string, xdsAddress: string): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [MAIN, "control", "--xds-address", xdsAddress, "--log-level", "warn"],
      {
        env: { ...process.env, AMBIT_HOME: home },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    proc.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      const m = /xDS on [^:]+:(\d+)/.exec(err);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on("exit", (code) => reject(new Error(`ambit control exited ${code}: ${err}`)));
  });
}

describe("ambit CLI against a running ambit control", () => {
  let home: string;
  let daemon: { proc: ChildProcess; port: number } | undefined;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "ambit-cli-"));
    daemon = await startDaemon(home, "127.0.0.1:0");
  });
  after(async () => {
    const proc = daemon?.proc;
    if (proc) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
    await rm(home, { recursive: true, force: true });
  });

  test("apply, get -o json, label with --overwrite rules, status, delete", async () => {
    const file = join(home, "demo.yaml");
    await writeFile(file, DEMO);
    const applied = await run(home, ["apply", "-f", file]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(
      applied.stdout,
      "namespace/shop created\nnode/node1 created\nnode/node2 created\ndeployment/web created\nservice/web created\n",
    );

    const pods = await run(home, ["get", "pods", "-n", "shop", "-o", "json"]);
    assert.equal(pods.code, 0, pods.stderr);
    const list = JSON.parse(pods.stdout) as {
      kind: string;
      items: { name: string; node: string; ip: string }[];
    };
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((p) => [p.name, p.node, p.ip]),
      [
        ["web-0", "node1", "10.244.1.2"],
        ["web-1", "node2", "10.244.2.2"],
      ],
    );
    const svc = await run(home, ["get", "SVC", "web", "-n", "shop", "-o", "json"]);
    assert.equal((JSON.parse(svc.stdout) as { kind: string }).kind, "Service");
    const table = await run(home, ["get", "svc", "-n", "shop"]);
    assert.equal(
      table.stdout,
      "NAME   CLUSTER-IP   PORT(S)   ENDPOINTS   WAYPOINT\nweb    10.96.0.10   80/TCP    2           <none>\n",
    );

    const conflict = await run(home, ["label", "ns", "shop", "istio.io/dataplane-mode=none"]);
    assert.equal(conflict.code, 1);
    assert.match(
      conflict.stderr,
      /already has a value \(ambient\), and --overwrite is false \[CP_ERR_LABEL_CONFLICT\]/,
    );
    const over = await run(home, [
      "label",
      "namespace",
      "shop",
      "istio.io/dataplane-mode=none",
      "--overwrite",
    ]);
    assert.equal(over.code, 0, over.stderr);
    assert.equal(over.stdout, "namespace/shop labeled\n");
    const removed = await run(home, ["label", "ns", "shop", "istio.io/dataplane-mode-"]);
    assert.equal(removed.stdout, "namespace/shop labeled\n");
    const ns = await run(home, ["get", "ns", "shop", "-o", "json"]);
    assert.equal((JSON.parse(ns.stdout) as { metadata: { labels?: unknown } }).metadata.labels, undefined);

    const status = await run(home, ["status", "-o", "json"]);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as {
      controlPlane: { xdsAddress: string };
      store: { resources: number };
    };
    assert.equal(st.controlPlane.xdsAddress, `127.0.0.1:${daemon?.port ?? 0}`);
    assert.equal(st.store.resources, 5);
    const text = await run(home, ["status"]);
    assert.match(text.stdout, /no data-plane clients connected/);

    const del = await run(home, ["delete", "deploy", "web", "-n", "shop"]);
    assert.equal(del.stdout, 'deployment "web" deleted\n');
    const missing = await run(home, ["delete", "deploy", "web", "-n", "shop"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound/);
    const delFile = await run(home, ["delete", "-f", "-"], DEMO);
    assert.equal(delFile.code, 1, "web is already gone: NotFound for it, the rest deleted");
    assert.match(delFile.stdout, /service "web" deleted/);
    const empty = await run(home, ["get", "svc", "-n", "shop"]);
    assert.equal(empty.stderr, "No resources found in shop namespace.\n");
  });

  test("apply of an invalid file prints file:line:col path: message, exits 1 and stores nothing", async () => {
    const file = join(home, "bad.yaml");
    await writeFile(
      file,
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 0\n",
    );
    const r = await run(home, ["apply", "-f", file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:7:\\d+ spec\\.ports\\[0\\]\\.port: `),
    );
    const get = await run(home, ["get", "svc", "bad"]);
    assert.equal(get.code, 1);
  });

  test("a second ambit control on the same xDS port fails at start-up naming the port", async () => {
    const other = await mkdtemp(join(tmpdir(), "ambit-cli2-"));
    try {
      const r = await run(other, [
        "control",
        "--xds-address",
        `127.0.0.1:${daemon?.port ?? 0}`,
        "--log-level",
        "error",
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${daemon?.port ?? 0}`));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test("without a running control plane the CLI says where it looked", async () => {
    const nowhere = await mkdtemp(join(tmpdir(), "ambit-cli3-"));
    try {
      const r = await run(nowhere, ["get", "ns"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /CP_ERR_UNREACHABLE/);
    } finally {
      await rm(nowhere, { recursive: true, force: true });
    }
  });
});
