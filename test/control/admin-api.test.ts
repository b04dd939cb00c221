import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AdminClient } from "../../src/cli/admin-client.js";
import { admin, DEMO, type Harness, startControl, until } from "./harness.js";

describe("admin API", () => {
  let h: Harness;
  before(async () => {
    h = await startControl();
  });
  after(async () => {
    await h.close();
  });

  test("refuses requests without a token or with a wrong one (401)", async () => {
    const none = await admin(h, "GET", "/v1/status", undefined, null);
    assert.equal(none.status, 401);
    assert.equal((none.body as { code: string }).code, "CP_ERR_UNAUTHENTICATED");
    const wrong = await admin(h, "GET", "/v1/status", undefined, "not-the-token");
    assert.equal(wrong.status, 401);
    const apply = await admin(h, "POST", "/v1/apply", { filename: "x.yaml", yaml: DEMO }, "nope");
    assert.equal(apply.status, 401);
    assert.equal((await admin(h, "GET", "/v1/resources/ns")).status, 200);
    assert.equal(h.cp.state.list("Namespace", undefined).length, 0, "nothing applied by the refused request");
  });

  test("apply is all-or-nothing: one bad document and nothing is stored; errors carry positions", async () => {
    const bad = `${DEMO}---
apiVersion: v1
kind: Service
metadata:
  name: broken
  namespace: shop
spec:
  ports:
  - port: 70000
`;
    const r = await admin(h, "POST", "/v1/apply", { sources: [{ filename: "demo.yaml", yaml: bad }] });
    assert.equal(r.status, 422);
    const body = r.body as {
      code: string;
      errors: { code: string; file: string; line: number; path: string }[];
    };
    assert.equal(body.code, "CP_ERR_INVALID_CONFIG");
    assert.equal(body.errors.length, 1);
    assert.deepEqual(
      {
        code: body.errors[0]?.code,
        file: body.errors[0]?.file,
        line: body.errors[0]?.line,
        path: body.errors[0]?.path,
      },
      {
        code: "CFG_ERR_PORT",
        file: "demo.yaml",
        line: bad.split("\n").indexOf("  - port: 70000") + 1,
        path: "spec.ports[0].port",
      },
    );
    assert.equal((await admin(h, "GET", "/v1/resources/svc?allNamespaces=true")).status, 200);
    assert.deepEqual(h.cp.state.list("Service", undefined), []);
    assert.deepEqual(h.cp.state.list("Namespace", undefined), []);
  });

  test("apply reports created, then unchanged, then configured", async () => {
    const first = await admin(h, "POST", "/v1/apply", { filename: "demo.yaml", yaml: DEMO });
    assert.equal(first.status, 200);
    const actions = (first.body as { results: { kind: string; name: string; action: string }[] }).results;
    assert.deepEqual(
      actions.map((a) => `${a.kind}/${a.name} ${a.action}`),
      [
        "Namespace/shop created",
        "Node/node1 created",
        "Node/node2 created",
        "Deployment/web created",
        "Service/web created",
      ],
    );
    const again = await admin(h, "POST", "/v1/apply", { filename: "demo.yaml", yaml: DEMO });
    assert.ok(
      (again.body as { results: { action: string }[] }).results.every((a) => a.action === "unchanged"),
    );
    const changed = await admin(h, "POST", "/v1/apply", {
      filename: "demo.yaml",
      yaml: DEMO.replace("replicas: 2", "replicas: 3"),
    });
    assert.deepEqual(
      (changed.body as { results: { name: string; action: string }[] }).results
        .filter((a) => a.action !== "unchanged")
        .map((a) => `${a.name} ${a.action}`),
      ["web configured"],
    );
    const pods = await admin(h, "GET", "/v1/registry/nodes/node1/pods");
    assert.deepEqual(
      (pods.body as { items: { name: string; runtime: { command: string[] } }[] }).items.map((p) => [
        p.name,
        p.runtime.command,
      ]),
      [
        ["web-0", ["python3", "-m", "http.server", "8080"]],
        ["web-2", ["python3", "-m", "http.server", "8080"]],
      ],
    );
  });

  test("get by kind alias, namespace and name; 404 for a missing object", async () => {
    const list = await admin(h, "GET", "/v1/resources/deploy?namespace=shop");
    assert.deepEqual(
      (list.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name),
      ["web"],
    );
    const one = await admin(h, "GET", "/v1/resources/svc/web?namespace=shop");
    assert.equal((one.body as { kind: string }).kind, "Service");
    assert.equal((await admin(h, "GET", "/v1/resources/svc/web?namespace=default")).status, 404);
    assert.equal((await admin(h, "GET", "/v1/resources/nosuchkind")).status, 400);
  });

  test("label: adds, refuses to change without overwrite (409), changes with it, removes with key-", async () => {
    const add = await admin(h, "POST", "/v1/label", { kind: "ns", name: "shop", set: { team: "a" } });
    assert.equal(add.status, 200);
    assert.equal((add.body as { changed: boolean }).changed, true);
    const conflict = await admin(h, "POST", "/v1/label", {
      kind: "Namespace",
      name: "shop",
      set: { team: "b" },
    });
    assert.equal(conflict.status, 409);
    assert.equal((conflict.body as { code: string }).code, "CP_ERR_LABEL_CONFLICT");
    const same = await admin(h, "POST", "/v1/label", { kind: "Namespace", name: "shop", set: { team: "a" } });
    assert.equal((same.body as { changed: boolean }).changed, false);
    const over = await admin(h, "POST", "/v1/label", {
      kind: "Namespace",
      name: "shop",
      set: { team: "b", "istio.io/dataplane-mode": "none" },
      overwrite: true,
    });
    assert.equal(over.status, 200);
    assert.equal(h.cp.state.get("Namespace", undefined, "shop")?.metadata.labels?.["team"], "b");
    assert.ok(
      h.cp.state.registry.workloads.every((w) => w.enrollment === "none"),
      "un-enrolled live",
    );
    const rm = await admin(h, "POST", "/v1/label", {
      kind: "Namespace",
      name: "shop",
      set: { "istio.io/dataplane-mode": "ambient" },
      remove: ["team"],
      overwrite: true,
    });
    assert.equal(rm.status, 200);
    assert.deepEqual(h.cp.state.get("Namespace", undefined, "shop")?.metadata.labels, {
      "istio.io/dataplane-mode": "ambient",
    });
    const generated = await admin(h, "POST", "/v1/label", {
      kind: "po",
      name: "web-0",
      namespace: "shop",
      set: { a: "b" },
    });
    assert.equal(generated.status, 404);
  });

  test("delete by kind/name and by manifest; status lists store, CA and registry", async () => {
    const byName = await admin(h, "DELETE", "/v1/resources/deploy/web?namespace=shop");
    assert.deepEqual(
      (byName.body as { results: { action: string }[] }).results.map((r) => r.action),
      ["deleted"],
    );
    assert.equal(h.cp.state.registry.workloads.length, 0);
    const st = await admin(h, "GET", "/v1/status");
    const status = st.body as {
      store: { resources: number };
      ca: { trustDomain: string };
      registry: { services: number };
    };
    assert.equal(status.store.resources, 4);
    assert.equal(status.ca.trustDomain, "cluster.local");
    const byManifest = await admin(h, "POST", "/v1/delete", { filename: "demo.yaml", yaml: DEMO });
    assert.deepEqual(
      (byManifest.body as { results: { name: string; action: string }[] }).results.map(
        (r) => `${r.name} ${r.action}`,
      ),
      ["shop deleted", "node1 deleted", "node2 deleted", "web not found", "web deleted"],
    );
    assert.equal(h.cp.state.list("Service", undefined).length, 0);
  });

  test("node tokens are made once, 0600, and stable", async () => {
    const a = await admin(h, "POST", "/v1/tokens", { kind: "node", node: "node1" });
    const b = await admin(h, "POST", "/v1/tokens", { kind: "node", node: "node1" });
    assert.equal(a.status, 200);
    assert.equal((a.body as { token: string }).token, (b.body as { token: string }).token);
    const { stat } = await import("node:fs/promises");
    const { join } = await import("node:path");
    assert.equal((await stat(join(h.home, "nodes", "node1.token"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(h.home, "admin-token"))).mode & 0o777, 0o600);
    assert.equal((await stat(h.cp.adminSocket)).mode & 0o777, 0o600);
    assert.equal((await admin(h, "POST", "/v1/tokens", { kind: "node", node: "../etc" })).status, 400);
  });
});

test("start-up fails with CP_ERR_BIND naming the port when the admin address is taken", async () => {
  const { createServer } = await import("node:net");
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      startControl({ adminAddress: `127.0.0.1:${port}` }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "CP_ERR_BIND");
        assert.ok(e.message.includes(String(port)));
        return true;
      },
    );
  } finally {
    blocker.close();
  }
});

test("watch streams a registry snapshot at once and another after every change", async () => {
  const h = await startControl();
  const ac = new AbortController();
  try {
    const client = await AdminClient.connect({ home: h.home });
    const events: { version: number; workloads: { name: string }[] }[] = [];
    let notify = (): void => undefined;
    const watching = client.watch((e) => {
      events.push(e as (typeof events)[number]);
      notify();
    }, ac.signal);
    const next = (pred: () => boolean): Promise<void> =>
      until((n) => {
        notify = n;
        return () => {
          notify = () => undefined;
        };
      }, pred);
    await next(() => events.length >= 1);
    assert.deepEqual(events[0]?.workloads, []);
    assert.equal((await admin(h, "POST", "/v1/apply", { filename: "demo.yaml", yaml: DEMO })).status, 200);
    await next(() => (events.at(-1)?.workloads.length ?? 0) === 2);
    const last = events.at(-1);
    assert.ok(last && events[0] && last.version > events[0].version);
    assert.deepEqual(
      last?.workloads.map((w) => w.name),
      ["web-0", "web-1"],
    );
    ac.abort();
    await watching;
  } finally {
    ac.abort();
    await h.close();
  }
});
