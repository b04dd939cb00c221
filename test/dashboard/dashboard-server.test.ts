/**
 * The dashboard server on real sockets (loopback TCP, a unix socket behind the CLI's port-forward)
 * with the built page; only the control plane's data is a fixed snapshot (it needs a cluster).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { silentLogger } from "../../src/control/log.js";
import { DashboardServer } from "../../src/dashboard/dashboard-server.js";
import { DashboardLogins } from "../../src/dashboard/logins.js";
import { forwardToUnixSocket, type PortForward } from "../../src/dashboard/port-forward.js";
import type { DashboardSnapshot } from "../../src/dashboard/snapshot.js";

const SNAPSHOT: DashboardSnapshot = {
  at: 1_700_000_000_000,
  health: null,
  healthError: "no data (fixed test snapshot)",
  traffic: { at: 1_700_000_000_000, intervalSeconds: 2, nodes: [], edges: [], denials: [], proxies: [] },
  certificates: [],
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  untilBody?: RegExp,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => {
        body += b.toString();
        // A stream never ends by itself: stop at what the test waits for.
        if (untilBody?.test(body)) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard server (fixed snapshot instead of a control plane)", () => {
  const logins = new DashboardLogins();
  const server = new DashboardServer({
    snapshot: async () => SNAPSHOT,
    logins,
    log: silentLogger(),
    intervalMs: 50,
  });
  let port = 0;
  let dir = "";
  let forward: PortForward | undefined;

  before(async () => {
    port = await server.listenTcp("127.0.0.1", 0);
    dir = await mkdtemp(join(tmpdir(), "ambit-dash-"));
    await server.listenUnix(join(dir, "dashboard.sock"));
    forward = await forwardToUnixSocket({
      host: "127.0.0.1",
      port: 0,
      socketPath: join(dir, "dashboard.sock"),
    });
  });

  after(async () => {
    await forward?.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function login(p: number): Promise<string> {
    const r = await get(p, `/login?code=${logins.createCode().code}`);
    assert.equal(r.status, 303);
    const cookie = String(r.headers["set-cookie"] ?? "");
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    return cookie.split(";")[0] ?? "";
  }

  test("without a session every route but /login is refused", async () => {
    for (const path of ["/", "/app.js", "/api/snapshot", "/events"]) {
      assert.equal((await get(port, path)).status, 401, path);
    }
    assert.equal((await get(port, "/login?code=nope")).status, 401);
    assert.equal((await get(port, "/api/snapshot", { cookie: "ambit_dashboard=forged" })).status, 401);
  });

  test("a login code buys a session once; the session reads the page, the bundle and the snapshot", async () => {
    const code = logins.createCode().code;
    const first = await get(port, `/login?code=${code}`);
    assert.equal(first.status, 303);
    assert.equal((await get(port, `/login?code=${code}`)).status, 401, "a code works once");
    const cookie = String(first.headers["set-cookie"]).split(";")[0] ?? "";
    const page = await get(port, "/", { cookie });
    assert.equal(page.status, 200);
    assert.match(page.body, /<div id="graph"/);
    const bundle = await get(port, "/app.js", { cookie });
    assert.equal(bundle.status, 200, "the build bundled the page (scripts/build-web.mjs)");
    assert.match(String(bundle.headers["content-type"]), /text\/javascript/);
    assert.ok(bundle.body.length > 100_000, "Cytoscape is in the bundle, not fetched from a CDN");
    const snap = await get(port, "/api/snapshot", { cookie });
    assert.deepEqual(JSON.parse(snap.body), SNAPSHOT);
  });

  test("/events streams snapshot events", async () => {
    const cookie = await login(port);
    const r = await get(port, "/events", { cookie }, /event: snapshot\ndata: .*\n\n[\s\S]*event: snapshot\n/);
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /text\/event-stream/);
    const data = /data: (.*)\n/.exec(r.body)?.[1] ?? "";
    assert.deepEqual(JSON.parse(data), SNAPSHOT);
  });

  test("a non-loopback Host is refused (DNS rebinding)", async () => {
    const cookie = await login(port);
    assert.equal((await get(port, "/api/snapshot", { cookie, host: "evil.example:15014" })).status, 421);
  });

  test("the port-forward reaches the unix socket; the socket is the same dashboard", async () => {
    const p = forward?.port ?? 0;
    const cookie = await login(p);
    const snap = await get(p, "/api/snapshot", { cookie });
    assert.equal(snap.status, 200);
    assert.deepEqual(JSON.parse(snap.body), SNAPSHOT);
  });

  test("an expired code is refused (injected clock)", () => {
    let now = 0;
    const l = new DashboardLogins(() => now);
    const { code } = l.createCode();
    now = 121_000;
    assert.equal(l.redeem(code), undefined);
  });
});
