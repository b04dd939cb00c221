/**
 * Pool behaviour on real sockets: reuse, the per-session stream limit, idle eviction (injected
 * clock), PING eviction of a dead peer, certificate rotation and the injected socket factory.
 */
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import net from "node:net";
import type { Duplex } from "node:stream";
import { describe, test } from "node:test";
import { HboneErrorCode, isHboneError } from "../../src/hbone/errors.js";
import { HbonePool } from "../../src/hbone/pool.js";
import {
  CLIENT_ID,
  dialUpstream,
  FakeTimers,
  nextSessionClose,
  roundTrip,
  SERVER_ID,
  startFreezableRelay,
  startHarness,
} from "./fixtures.js";

/** A tunnel to the harness's echo server through its HBONE server (dialled as 127.0.0.1:15008). */
function echoTunnel(h: Awaited<ReturnType<typeof startHarness>>) {
  return {
    source: h.clientCred,
    dstAddress: { host: "127.0.0.1", port: 15008 },
    expectedIdentities: [SERVER_ID],
    authority: `127.0.0.1:${h.echoPort}`,
  };
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

describe("HBONE pool", () => {
  test("N sequential connections share one session: one TLS handshake, N-1 pool hits", async () => {
    const h = await startHarness();
    const traced: unknown[] = [];
    const onTrace = (m: unknown): void => {
      traced.push(m);
    };
    diagnostics_channel.subscribe("ambit:hbone:pool", onTrace);
    try {
      const n = 20;
      for (let i = 0; i < n; i++) {
        const s = await h.connect();
        const reply = await roundTrip(s, Buffer.from(`msg ${i}`));
        assert.equal(reply.toString(), `msg ${i}`);
      }
      assert.equal(h.pool.stats.sessionsOpened, 1);
      assert.equal(h.pool.stats.poolMisses, 1);
      assert.equal(h.pool.stats.poolHits, n - 1);
      assert.equal(h.server.stats.connections, 1);
      assert.equal(h.server.stats.sessionsAccepted, 1);
      assert.equal(traced.filter((m) => (m as { event: string }).event === "session-open").length, 1);
    } finally {
      diagnostics_channel.unsubscribe("ambit:hbone:pool", onTrace);
      await h.close();
    }
  });

  test("an origin keys its own sessions and reaches the socket factory (in-pod sockets)", async () => {
    const h = await startHarness();
    const origins: (string | undefined)[] = [];
    const pool = new HbonePool({
      connect: ({ host }, origin) => {
        origins.push(origin);
        return dialUpstream(host, h.port);
      },
    });
    try {
      const params = echoTunnel(h);
      for (const origin of ["/run/netns/pod-a", "/run/netns/pod-b", "/run/netns/pod-a", undefined]) {
        const s = await pool.connect(origin === undefined ? params : { ...params, origin });
        assert.equal((await roundTrip(s, Buffer.from("x"))).toString(), "x");
      }
      assert.deepEqual(origins, ["/run/netns/pod-a", "/run/netns/pod-b", undefined]);
      assert.equal(pool.stats.sessionsOpened, 3);
      assert.equal(pool.stats.poolHits, 1);
    } finally {
      await pool.close(0);
      await h.close();
    }
  });

  test("closeOrigin closes the sessions that left from a removed pod and keeps the others", async () => {
    const h = await startHarness();
    const pool = new HbonePool({ connect: ({ host }) => dialUpstream(host, h.port) });
    const closed: string[] = [];
    pool.on("session-close", (e) => closed.push(e.reason));
    try {
      const params = echoTunnel(h);
      for (const origin of ["pod-a", "pod-b"]) {
        const s = await pool.connect({ ...params, origin });
        assert.equal((await roundTrip(s, Buffer.from("x"))).toString(), "x");
      }
      assert.equal(pool.stats.sessionsOpened, 2);
      await pool.closeOrigin("pod-a");
      assert.deepEqual(closed, ["origin-removed"]);
      // pod-b's session is still pooled; a pod-a that comes back gets a new session, not the old one.
      for (const origin of ["pod-b", "pod-a"]) {
        const s = await pool.connect({ ...params, origin });
        assert.equal((await roundTrip(s, Buffer.from("y"))).toString(), "y");
      }
      assert.equal(pool.stats.sessionsOpened, 3);
      assert.equal(pool.stats.poolHits, 1);
      await waitFor(() => h.server.stats.sessionsAccepted === 3);
    } finally {
      await pool.close(0);
      await h.close();
    }
  });

  test("101 concurrent streams open a second session (limit 100 per session)", async () => {
    const h = await startHarness();
    try {
      const streams: Duplex[] = await Promise.all(Array.from({ length: 101 }, () => h.connect()));
      assert.equal(h.pool.stats.sessionsOpened, 2);
      assert.equal(h.pool.stats.streamsActive, 101);
      assert.equal(h.server.stats.sessionsAccepted, 2);
      assert.equal(h.server.stats.streamsActive, 101);
      const replies = await Promise.all(streams.map((s, i) => roundTrip(s, Buffer.from(String(i)))));
      replies.forEach((r, i) => {
        assert.equal(r.toString(), String(i));
      });
      await waitFor(() => h.pool.stats.streamsActive === 0);
    } finally {
      await h.close();
    }
  });

  test("the stream limit is configurable and the server advertises its own", async () => {
    const h = await startHarness({ server: { maxConcurrentStreams: 3 } });
    try {
      const streams = await Promise.all(Array.from({ length: 7 }, () => h.connect()));
      // The first session learns the server's limit (3) from SETTINGS only after it opened, so the
      // pool may put more on it before knowing; the server then queues nothing beyond 3 per session.
      assert.ok(h.pool.stats.sessionsOpened >= 2, `sessions ${h.pool.stats.sessionsOpened}`);
      await Promise.all(streams.map((s) => roundTrip(s, Buffer.from("x"))));
    } finally {
      await h.close();
    }
  });

  test("an unused session is closed after the idle timeout (injected clock)", async () => {
    const timers = new FakeTimers();
    // Pings off the injected clock's path: a synchronous advance would not let their acks arrive.
    const h = await startHarness({ pool: { timers, idleTimeoutMs: 300_000, pingIntervalMs: 3_600_000 } });
    try {
      await roundTrip(await h.connect(), Buffer.from("a"));
      await waitFor(() => h.pool.stats.streamsActive === 0);
      assert.equal(h.pool.stats.sessionsActive, 1);
      const closed = nextSessionClose(h.pool, "idle");
      timers.advance(299_999);
      assert.equal(h.pool.stats.sessionsActive, 1, "not yet idle long enough");
      timers.advance(1);
      await closed;
      assert.equal(h.pool.stats.sessionsActive, 0);
      // The next connection opens a fresh session.
      await roundTrip(await h.connect(), Buffer.from("b"));
      assert.equal(h.pool.stats.sessionsOpened, 2);
    } finally {
      await h.close();
    }
  });

  test("a session in use is never idle-closed", async () => {
    const timers = new FakeTimers();
    const h = await startHarness({ pool: { timers, idleTimeoutMs: 1_000, pingIntervalMs: 3_600_000 } });
    try {
      const s = await h.connect();
      timers.advance(10_000);
      assert.equal(h.pool.stats.sessionsActive, 1);
      assert.equal((await roundTrip(s, Buffer.from("still here"))).toString(), "still here");
    } finally {
      await h.close();
    }
  });

  test("a peer that stops answering PINGs is evicted; the next connect opens a new session", async () => {
    const h = await startHarness();
    const relay = await startFreezableRelay(h.port);
    let dialled = 0;
    // The injected socket factory (ztunnel's SocketFactory edge) routes through the relay.
    const pool = new HbonePool({
      pingIntervalMs: 20,
      pingTimeoutMs: 100,
      connect: ({ host }) =>
        new Promise((resolve, reject) => {
          dialled += 1;
          const s = net.connect({ host, port: relay.port });
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        }),
    });
    try {
      const params = echoTunnel(h);
      await roundTrip(await pool.connect(params), Buffer.from("ping me"));
      assert.equal(dialled, 1);
      const evicted = nextSessionClose(pool, "ping-timeout");
      relay.freeze();
      await evicted;
      assert.equal(pool.stats.sessionsEvicted, 1);
      assert.equal(pool.stats.sessionsActive, 0);
      // Only the old connection is frozen: the next connect dials again and works.
      await roundTrip(await pool.connect(params), Buffer.from("again"));
      assert.equal(dialled, 2);
      assert.equal(pool.stats.sessionsOpened, 2);
    } finally {
      await pool.close(0);
      await relay.close();
      await h.close();
    }
  });

  test("a rotated source certificate gets a new session; the old one drains and closes", async () => {
    const h = await startHarness();
    try {
      const old = await h.connect();
      const rotated = h.pki.issue(CLIENT_ID);
      const drained = nextSessionClose(h.pool, "rotated");
      const fresh = await h.connect({ source: rotated });
      assert.equal(h.pool.stats.sessionsOpened, 2);
      assert.equal(h.server.stats.sessionsAccepted, 2);
      // The stream on the old session keeps working until it ends…
      assert.equal((await roundTrip(old, Buffer.from("old"))).toString(), "old");
      // …then the old session closes.
      await drained;
      assert.equal((await roundTrip(fresh, Buffer.from("new"))).toString(), "new");
      assert.equal(h.pool.stats.sessionsActive, 1);
    } finally {
      await h.close();
    }
  });

  test("connect without an expected identity is refused before any socket opens", async () => {
    const h = await startHarness();
    try {
      await assert.rejects(h.connect({ expected: [] }), (e: unknown) =>
        isHboneError(e, HboneErrorCode.CONFIG),
      );
      assert.equal(h.server.stats.connections, 0);
    } finally {
      await h.close();
    }
  });

  test("a closed pool refuses new connections", async () => {
    const h = await startHarness();
    await h.close();
    await assert.rejects(h.connect(), (e: unknown) => isHboneError(e, HboneErrorCode.CLOSED));
  });
});
