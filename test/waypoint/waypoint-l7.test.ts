/**
 * The waypoint's L7 data plane in process, real sockets on loopback: client → ztunnel A (SOCKS5) →
 * waypoint → ztunnel B → HTTP pods. Retries and timeouts against pods that fail N times, fault
 * percentages against the binomial, mirroring, load balancing, HTTP/2 prior knowledge (gRPC
 * trailers included) and a corpus of request-smuggling shapes that must never reach a pod.
 */
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Resource } from "../../src/api/types.js";
import { seededRand } from "../../src/routing/index.js";
import { MemoryLogDestination } from "../../src/telemetry/logger.js";
import type { Waypoint } from "../../src/waypoint/waypoint.js";
import {
  ControlPlane,
  type NodePorts,
  socksConnect,
  startZtunnel,
  type TestZtunnel,
  until,
} from "../ztunnel/harness.js";
import { type L7Pod, type PodWorld, startL7Pod } from "./l7-pod.js";
import { startTestWaypoint, WAYPOINT_IP } from "./waypoint-harness.js";

const CLIENT_IP = "127.0.0.11";
const POD_A = "127.0.0.61";
const POD_B = "127.0.0.62";
const POD_MIRROR = "127.0.0.63";
const POD_DEAD = "127.0.0.64";
const VIP = "10.96.0.40";
const MIRROR_VIP = "10.96.0.41";
const DEAD_VIP = "10.96.0.42";
const SVC = "api.default.svc.cluster.local";

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown> | undefined;
}

function parse(status: number, text: string): Reply {
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, text, json };
}

function virtualService(http: object[], extra: Resource[] = []): Resource[] {
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "api", namespace: "default" },
      spec: { hosts: ["api"], http },
    } as Resource,
    ...extra,
  ];
}

const apiService = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "api", namespace: "default" },
  spec: { ports: [{ name: "http", port: 80 }] },
} as Resource;

function destinationRule(simple: string): Resource {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "api", namespace: "default" },
    spec: { host: "api", trafficPolicy: { loadBalancer: { simple } } },
  } as Resource;
}

const toApi = [{ destination: { host: "api" } }];

describe("waypoint L7 data plane", { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  const nodePorts: NodePorts = new Map();
  let zA: TestZtunnel;
  let zB: TestZtunnel;
  let wp: Waypoint;
  const world: PodWorld = { counters: new Map(), seen: [] };
  let a: L7Pod;
  let b: L7Pod;
  let mirror: L7Pod;
  const wpLogs = new MemoryLogDestination();

  before(async () => {
    cp = await ControlPlane.start();
    a = await startL7Pod(POD_A, "a", world);
    b = await startL7Pod(POD_B, "b", world);
    mirror = await startL7Pod(POD_MIRROR, "mirror", world);
    const workload = (uid: string, ip: string, svc: string, port: number, version: string) => ({
      uid,
      ip,
      node: "node-b",
      serviceAccount: uid.split("-")[0]!,
      app: uid.split("-")[0]!,
      version,
      services: { [`default/${svc}`]: [[80, port]] as [number, number][] },
    });
    cp.setWorkloads(
      [
        { uid: "client", ip: CLIENT_IP, node: "node-a", serviceAccount: "client", app: "client" },
        { uid: "waypoint", ip: WAYPOINT_IP, node: "node-wp", serviceAccount: "waypoint", tunnel: "none" },
        workload("api-a", POD_A, SVC, a.port, "a"),
        workload("api-b", POD_B, SVC, b.port, "b"),
        workload("mirror-m", POD_MIRROR, "mirror.default.svc.cluster.local", mirror.port, "m"),
        // Nothing listens on port 1 of the dead pod: every connection to it fails.
        workload("dead-d", POD_DEAD, "dead.default.svc.cluster.local", 1, "d"),
      ],
      [
        { hostname: SVC, vip: VIP, ports: [[80, 8080]], waypointIp: WAYPOINT_IP },
        {
          hostname: "mirror.default.svc.cluster.local",
          vip: MIRROR_VIP,
          ports: [[80, 8080]],
          waypointIp: WAYPOINT_IP,
        },
        {
          hostname: "dead.default.svc.cluster.local",
          vip: DEAD_VIP,
          ports: [[80, 8080]],
          waypointIp: WAYPOINT_IP,
        },
      ],
    );
    zA = await startZtunnel(cp, "node-a", "127.0.0.10", nodePorts);
    zB = await startZtunnel(cp, "node-b", "127.0.0.40", nodePorts);
    wp = await startTestWaypoint(cp, nodePorts, [], { rand: seededRand(11), logs: wpLogs });
    await Promise.all([zA.zt.whenReady(), zB.zt.whenReady(), wp.whenReady()]);
  });

  after(async () => {
    await wp?.close();
    await zA?.zt.close();
    await zB?.zt.close();
    await a?.close();
    await b?.close();
    await mirror?.close();
    await cp?.close();
  });

  async function tunnel(): Promise<net.Socket> {
    const { socket, reply } = await socksConnect(zA.socks(), CLIENT_IP, { host: VIP, port: 80 });
    assert.equal(reply, 0, "SOCKS5 connect through ztunnel A");
    return socket;
  }

  async function request(
    method: string,
    path: string,
    body?: string | Buffer,
    agent?: http.Agent,
  ): Promise<Reply> {
    const socket = agent === undefined ? await tunnel() : undefined;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          path,
          headers: { host: "api", ...(agent === undefined ? { connection: "close" } : {}) },
          ...(agent !== undefined ? { agent } : { createConnection: () => socket!.resume() }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            socket?.destroy();
            resolve(parse(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  const attemptsOf = (prefix: string) => world.seen.filter((s) => s.path.startsWith(prefix));

  describe("retries and timeouts", () => {
    test("a backend failing twice with 503 is retried (retryOn 5xx) and the client gets 200", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 3, retryOn: "5xx" } }]));
      const r = await request("GET", "/fail/r1/2/503");
      assert.equal(r.status, 200, r.text);
      const seen = attemptsOf("/fail/r1/");
      assert.equal(seen.length, 3);
      // Istio sets include_request_attempt_count: each try carries its number.
      assert.deepEqual(
        seen.map((s) => s.attempt),
        ["1", "2", "3"],
      );
      // previous_hosts: a retry prefers the other endpoint.
      assert.notEqual(seen[0]?.pod, seen[1]?.pod);
    });

    test("attempts exhausted: the client gets the last 5xx", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 2, retryOn: "5xx" } }]));
      const r = await request("GET", "/fail/r2/10/500");
      assert.equal(r.status, 500);
      assert.equal(attemptsOf("/fail/r2/").length, 3);
    });

    test("a status retryOn does not name is not retried (gateway-error and 500)", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 3, retryOn: "gateway-error" } }]));
      const r = await request("GET", "/fail/r3/10/500");
      assert.equal(r.status, 500);
      assert.equal(attemptsOf("/fail/r3/").length, 1);
      const g = await request("GET", "/fail/r3b/1/502");
      assert.equal(g.status, 200);
      assert.equal(attemptsOf("/fail/r3b/").length, 2);
    });

    test("retriable status codes listed in retryOn", async () => {
      wp.setResources(
        virtualService([{ route: toApi, retries: { attempts: 2, retryOn: "418,retriable-4xx" } }]),
      );
      assert.equal((await request("GET", "/fail/r4/1/418")).status, 200);
      assert.equal(attemptsOf("/fail/r4/").length, 2);
      assert.equal((await request("GET", "/fail/r4b/1/409")).status, 200);
      assert.equal(attemptsOf("/fail/r4b/").length, 2);
      assert.equal((await request("GET", "/fail/r4c/1/404")).status, 404);
      assert.equal(attemptsOf("/fail/r4c/").length, 1);
    });

    test("no retries field: Istio's default policy retries 503 twice, not 500", async () => {
      wp.setResources(virtualService([{ route: toApi }]));
      assert.equal((await request("GET", "/fail/r5/2/503")).status, 200);
      assert.equal(attemptsOf("/fail/r5/").length, 3);
      assert.equal((await request("GET", "/fail/r5b/1/500")).status, 500);
      assert.equal(attemptsOf("/fail/r5b/").length, 1);
    });

    test("attempts: 0 disables retries", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 0 } }]));
      assert.equal((await request("GET", "/fail/r6/1/503")).status, 503);
      assert.equal(attemptsOf("/fail/r6/").length, 1);
    });

    test("perTryTimeout: a slow first try is abandoned and retried", async () => {
      wp.setResources(
        virtualService([
          { route: toApi, retries: { attempts: 2, perTryTimeout: "0.3s", retryOn: "gateway-error" } },
        ]),
      );
      const r = await request("GET", "/slow/r7/1/20000");
      assert.equal(r.status, 200, r.text);
      assert.equal(attemptsOf("/slow/r7/").length, 2);
    });

    test("perTryTimeout on every try: 504 after the attempts", async () => {
      wp.setResources(
        virtualService([{ route: toApi, retries: { attempts: 1, perTryTimeout: "0.2s", retryOn: "reset" } }]),
      );
      const r = await request("GET", "/slow/r8/10/20000");
      assert.equal(r.status, 504);
      assert.equal(attemptsOf("/slow/r8/").length, 2);
    });

    test("the route timeout answers 504 and bounds all attempts together", async () => {
      wp.setResources(
        virtualService([
          { route: toApi, timeout: "0.5s", retries: { attempts: 5, perTryTimeout: "0.2s", retryOn: "5xx" } },
        ]),
      );
      const r = await request("GET", "/sleep/20000/r9");
      assert.equal(r.status, 504);
      assert.match(r.text, /upstream request timeout/);
      // Each try lasts at least its 0.2 s per-try timeout, so at most 3 start within 0.5 s.
      const tries = attemptsOf("/sleep/20000/r9").length;
      assert.ok(tries >= 1 && tries <= 3, `tries: ${tries}`);
    });

    test("a POST body is re-sent whole on retry", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 2, retryOn: "5xx" } }]));
      const r = await request("POST", "/fail/r10/1/503", "amount=42&currency=EUR");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.["body"], "amount=42&currency=EUR");
      assert.equal(r.json?.["attempt"], "2");
    });

    test("a body larger than the 64 KiB retry buffer is streamed once and not retried", async () => {
      wp.setResources(virtualService([{ route: toApi, retries: { attempts: 3, retryOn: "5xx" } }]));
      const r = await request("POST", "/fail/r11/1/503", Buffer.alloc(100 * 1024, 0x61));
      assert.equal(r.status, 503);
      assert.equal(attemptsOf("/fail/r11/").length, 1);
    });
  });

  test("fault injection: abort 30 % and delay 50 % over 2,000 requests stay within ±4σ of the binomial", async () => {
    const n = 2000;
    wp.setResources(
      virtualService([
        {
          route: toApi,
          fault: {
            abort: { httpStatus: 503, percentage: { value: 30 } },
            delay: { fixedDelay: "0.001s", percentage: { value: 50 } },
          },
          retries: { attempts: 0 },
        },
      ]),
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    Object.assign(agent, {
      createConnection: (_o: unknown, cb: (e: Error | null, s?: net.Socket) => void) => {
        tunnel().then(
          (s) => cb(null, s.resume()),
          (e: Error) => cb(e),
        );
      },
    });
    const before = wpLogs.records.length;
    let aborted = 0;
    try {
      for (let i = 0; i < n; i++) {
        const r = await request("GET", `/faults/${i}`, undefined, agent);
        if (r.status === 503) aborted++;
        else assert.equal(r.status, 200, r.text);
      }
    } finally {
      agent.destroy();
    }
    const delayed = wpLogs.records
      .slice(before)
      .filter((r) => r["access"] === true && String(r["reason"] ?? "").includes("DI")).length;
    const within = (observed: number, p: number, what: string): void => {
      const mean = n * p;
      const sigma = Math.sqrt(n * p * (1 - p));
      assert.ok(
        Math.abs(observed - mean) <= 4 * sigma,
        `${what}: ${observed} of ${n}, expected ${mean} ± ${(4 * sigma).toFixed(1)}`,
      );
    };
    within(aborted, 0.3, "aborts");
    within(delayed, 0.5, "delays");
    // Aborted requests never reach a pod.
    assert.equal(attemptsOf("/faults/").length, n - aborted);
  });

  describe("mirroring", () => {
    test("a mirrored request reaches the shadow backend with a -shadow host; the client gets the primary's answer", async () => {
      wp.setResources(
        virtualService([{ route: toApi, mirror: { host: "mirror" }, mirrorPercentage: { value: 100 } }]),
      );
      const r = await request("POST", "/mirrored/1", "copy-me");
      assert.equal(r.status, 200);
      assert.ok(r.json?.["pod"] === "a" || r.json?.["pod"] === "b", r.text);
      await until(
        () => world.seen.some((s) => s.pod === "mirror" && s.path === "/mirrored/1"),
        "the mirror copy",
      );
      const copy = world.seen.find((s) => s.pod === "mirror" && s.path === "/mirrored/1");
      assert.equal(copy?.host, "api-shadow");
      assert.equal(copy?.method, "POST");
    });

    test("a mirror that is down never affects the main request", async () => {
      wp.setResources(virtualService([{ route: toApi, mirror: { host: "dead" } }]));
      for (let i = 0; i < 3; i++) {
        const r = await request("GET", `/mirror-down/${i}`);
        assert.equal(r.status, 200, r.text);
      }
      assert.equal(attemptsOf("/mirror-down/").length, 3);
    });

    test("mirrorPercentage 0 mirrors nothing", async () => {
      wp.setResources(
        virtualService([{ route: toApi, mirror: { host: "mirror" }, mirrorPercentage: { value: 0 } }]),
      );
      await request("GET", "/not-mirrored");
      assert.equal(world.seen.filter((s) => s.pod === "mirror" && s.path === "/not-mirrored").length, 0);
    });
  });

  describe("load balancing", () => {
    test("ROUND_ROBIN from the DestinationRule alternates exactly", async () => {
      wp.setResources([apiService, destinationRule("ROUND_ROBIN")]);
      for (let i = 0; i < 20; i++) assert.equal((await request("GET", `/rr/${i}`)).status, 200);
      const pods = attemptsOf("/rr/").map((s) => s.pod);
      assert.equal(pods.filter((p) => p === "a").length, 10);
      for (let i = 1; i < pods.length; i++) assert.notEqual(pods[i], pods[i - 1]);
    });

    test("LEAST_REQUEST (Istio's default) sends less than round robin's half to a slow endpoint", async () => {
      wp.setResources([]);
      const n = 80;
      const pending: Promise<Reply>[] = [];
      for (let i = 0; i < n; i++) {
        pending.push(request("GET", `/slow-on/a/3000/lr${i}`));
        await new Promise((r) => setTimeout(r, 10));
      }
      const replies = await Promise.all(pending);
      assert.ok(replies.every((r) => r.status === 200));
      const onSlow = replies.filter((r) => r.json?.["pod"] === "a").length;
      // Power of two choices: once a holds requests, it is picked only when both samples are a
      // (p = 1/4): expected ≈ 20 of 80; the bound is that mean + 3σ, below round robin's 40.
      assert.ok(onSlow <= 32, `slow endpoint got ${onSlow} of ${n}`);
    });
  });

  describe("HTTP/2 with prior knowledge", () => {
    async function h2(): Promise<http2.ClientHttp2Session> {
      const socket = await tunnel();
      const session = http2.connect("http://api", { createConnection: () => socket.resume() });
      session.on("error", () => {});
      return session;
    }

    function h2Request(
      session: http2.ClientHttp2Session,
      headers: http2.OutgoingHttpHeaders,
      body?: string,
    ): Promise<Reply & { trailers: http2.IncomingHttpHeaders | undefined }> {
      return new Promise((resolve, reject) => {
        const st = session.request(headers);
        let status = 0;
        let trailers: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        st.on("response", (h) => {
          status = Number(h[":status"]);
        });
        st.on("trailers", (t) => {
          trailers = t;
        });
        st.on("data", (d: Buffer) => chunks.push(d));
        st.on("end", () => resolve({ ...parse(status, Buffer.concat(chunks).toString()), trailers }));
        st.on("error", reject);
        st.end(body);
      });
    }

    test("GET and POST on one session are routed, forwarded over HTTP/2", async () => {
      wp.setResources([]);
      const session = await h2();
      try {
        const g = await h2Request(session, { ":method": "GET", ":path": "/h2/get" });
        assert.equal(g.status, 200, g.text);
        assert.equal(g.json?.["httpVersion"], "2.0");
        // Node's HTTP/2 client sends the URL's host and port as :authority; the waypoint keeps it.
        assert.match(String(g.json?.["host"]), /^api(:80)?$/);
        const p = await h2Request(session, { ":method": "POST", ":path": "/h2/post" }, "h2-body");
        assert.equal(p.status, 200);
        assert.equal(p.json?.["body"], "h2-body");
      } finally {
        session.close();
      }
    });

    test("gRPC passes through with its trailers", async () => {
      const session = await h2();
      try {
        const r = await h2Request(session, {
          ":method": "POST",
          ":path": "/grpc",
          "content-type": "application/grpc",
          te: "trailers",
        });
        assert.equal(r.status, 200);
        assert.equal(r.trailers?.["grpc-status"], "0");
        assert.equal(r.trailers?.["grpc-message"], "ok");
      } finally {
        session.close();
      }
    });

    test("L7 AuthorizationPolicy denies with 403 on HTTP/2, and the pod sees nothing", async () => {
      wp.setResources([
        {
          apiVersion: "security.istio.io/v1",
          kind: "AuthorizationPolicy",
          metadata: { name: "get-only", namespace: "default" },
          spec: {
            targetRefs: [{ kind: "Service", group: "", name: "api" }],
            action: "ALLOW",
            rules: [{ to: [{ operation: { methods: ["GET"] } }] }],
          },
        } as Resource,
      ]);
      const session = await h2();
      try {
        const d = await h2Request(session, { ":method": "POST", ":path": "/h2/denied" }, "x");
        assert.equal(d.status, 403);
        assert.match(d.text, /RBAC: access denied/);
        assert.equal(attemptsOf("/h2/denied").length, 0);
        assert.equal((await h2Request(session, { ":method": "GET", ":path": "/h2/allowed" })).status, 200);
      } finally {
        session.close();
        wp.setResources([]);
      }
    });
  });

  describe("request smuggling and malformed HTTP/1.1 never reach a pod", () => {
    const big = "x".repeat(61 * 1024);
    const cases: [string, string, number][] = [
      [
        "CL then TE",
        "POST /s HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
      ],
      [
        "TE then CL",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
      ],
      [
        "differing Content-Length",
        "POST /s HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
      ],
      [
        "Transfer-Encoding: chunked, identity",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
      ],
      [
        "Transfer-Encoding: identity",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: identity\r\n\r\nhello",
        501,
      ],
      [
        "Transfer-Encoding: xchunked",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        501,
      ],
      ["obs-fold", "GET /s HTTP/1.1\r\nHost: api\r\nX-A: b\r\n c\r\n\r\n", 400],
      [
        "chunk size not hex",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        400,
      ],
      [
        "negative chunk size",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        400,
      ],
      [
        "chunk size overflow",
        "POST /s HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
        400,
      ],
      ["space before colon", "POST /s HTTP/1.1\r\nHost: api\r\nContent-Length : 5\r\n\r\nhello", 400],
      ["NUL in a header value", "GET /s HTTP/1.1\r\nHost: api\r\nX-A: b\0c\r\n\r\n", 400],
      ["bare CR in a header", "GET /s HTTP/1.1\r\nHost: api\r\nX-A: b\rX-B: c\r\n\r\n", 400],
      ["header block over 60 KiB", `GET /s HTTP/1.1\r\nHost: api\r\nX-Big: ${big}\r\n\r\n`, 400],
      ["invalid method token", "G(ET /s HTTP/1.1\r\nHost: api\r\n\r\n", 400],
      ["junk after the version", "GET /s HTTP/1.1 junk\r\nHost: api\r\n\r\n", 400],
      ["unknown HTTP version", "GET /s HTTP/1.2\r\nHost: api\r\n\r\n", 400],
      ["absolute-form to another host", "GET http://evil.example/s HTTP/1.1\r\nHost: api\r\n\r\n", 400],
      ["two Host headers", "GET /s HTTP/1.1\r\nHost: api\r\nHost: evil\r\n\r\n", 400],
      ["no Host header", "GET /s HTTP/1.1\r\n\r\n", 400],
      ["LF-only line endings", "GET /s HTTP/1.1\nHost: api\n\n", 400],
      ["header line without a colon", "GET /s HTTP/1.1\r\nHost: api\r\nBadHeader\r\n\r\n", 400],
    ];
    for (const [name, raw, want] of cases) {
      test(`${name} → ${want}`, async () => {
        const before = world.seen.length;
        const socket = await tunnel();
        const answer = await new Promise<string>((resolve) => {
          const chunks: Buffer[] = [];
          const done = (): void => resolve(Buffer.concat(chunks).toString("latin1"));
          socket.on("data", (d: Buffer) => chunks.push(d));
          socket.once("close", done);
          socket.once("end", done);
          // A hang guard, not a timing assertion: the answer must come with the connection closed.
          setTimeout(done, 15_000).unref();
          socket.resume();
          socket.write(raw);
        });
        socket.destroy();
        assert.match(answer, new RegExp(`^HTTP/1\\.1 ${want} `), JSON.stringify(answer.slice(0, 60)));
        assert.equal(world.seen.length, before, "a pod received the request");
      });
    }
  });
});
