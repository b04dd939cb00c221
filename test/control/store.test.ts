import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import { FileStore } from "../../src/control/file-store.js";
import { silentLogger } from "../../src/control/log.js";
import type { StoredResource, StoreEvent } from "../../src/control/store.js";
import { until } from "./harness.js";

const svc = (name: string, port: number): StoredResource => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "shop", labels: { app: name } },
  spec: { ports: [{ port }] },
});

async function withStore(
  f: (s: FileStore, dir: string, events: StoreEvent[]) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ambit-store-"));
  const s = await FileStore.open({ dir, parse: parseDocuments, log: silentLogger(), debounceMs: 20 });
  const events: StoreEvent[] = [];
  s.subscribe((e) => events.push(e));
  try {
    await f(s, dir, events);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test("store: round trip through files, reopened from disk; files 0600, directories 0700, no temp files left", async () => {
  await withStore(async (s, dir) => {
    await s.put([svc("web", 80), { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } }]);
    await s.writeState("allocations", { pods: { a: "10.0.0.1" } });
    const file = join(dir, "resources", "Service", "shop", "web.yaml");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "resources", "Service"))).mode & 0o777, 0o700);
    assert.ok(
      (await readFile(join(dir, "resources", "Namespace", "shop.yaml"), "utf8")).includes("kind: Namespace"),
    );
    assert.deepEqual(
      (await readdir(join(dir, "resources", "Service", "shop"))).filter((n) => n.startsWith(".")),
      [],
    );
    const again = await FileStore.open({ dir, parse: parseDocuments, log: silentLogger(), watch: false });
    try {
      assert.deepEqual(again.get("Service/shop/web"), svc("web", 80));
      assert.ok(again.get("Namespace/shop"));
      assert.deepEqual(again.readState("allocations"), { pods: { a: "10.0.0.1" } });
    } finally {
      await again.close();
    }
    await s.delete(["Service/shop/web"]);
    assert.equal(s.get("Service/shop/web"), undefined);
    await assert.rejects(stat(file), { code: "ENOENT" });
  });
});

test("store: a hand edit is picked up; an invalid one is reported and the last good version stays", async () => {
  await withStore(async (s, dir, events) => {
    await s.put([svc("web", 80)]);
    const file = join(dir, "resources", "Service", "shop", "web.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("port: 80", "port: 8080"));
    await until(
      (n) => s.subscribe(n),
      () => JSON.stringify(s.get("Service/shop/web")?.spec).includes("8080"),
    );
    assert.ok(
      events.some((e) => e.type === "changed" && e.origin === "disk" && e.keys.includes("Service/shop/web")),
    );

    await writeFile(file, text.replace("port: 80", "port: 99999"));
    await until(
      (n) => s.subscribe(n),
      () => events.some((e) => e.type === "invalid" && e.errors.some((x) => x.code === "CFG_ERR_PORT")),
    );
    // writeFile truncates before it writes: the watcher may also have seen the empty file in between,
    // which is reported (invalid) and changes nothing either.
    assert.ok(JSON.stringify(s.get("Service/shop/web")?.spec).includes("8080"), "last good version stays");
    assert.deepEqual(s.info().invalidFiles, ["resources/Service/shop/web.yaml"]);

    // A file whose place does not match its object is refused too.
    await writeFile(join(dir, "resources", "Service", "shop", "other.yaml"), text);
    await until(
      (n) => s.subscribe(n),
      () => events.some((e) => e.type === "invalid" && e.file.endsWith("other.yaml")),
    );
    assert.equal(s.get("Service/shop/other"), undefined);

    // Removing a file by hand removes the object.
    await rm(file);
    await until(
      (n) => s.subscribe(n),
      () => s.get("Service/shop/web") === undefined,
    );
  });
});
