/**
 * Real-socket fixtures for the HBONE component tests: a test PKI, TCP upstreams (echo, sink,
 * source), an HBONE server on 127.0.0.1:0 and a pool pointed at it. Everything started here is
 * closed by `closeAll`, so a test file leaves no socket behind.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { HboneError } from "../../src/hbone/errors.js";
import { HbonePool, type HbonePoolOptions } from "../../src/hbone/pool.js";
import {
  type ConnectDecision,
  type ConnectRecord,
  type ConnectRequest,
  HboneServer,
  type HboneServerOptions,
} from "../../src/hbone/server.js";
import type { WorkloadCredential } from "../../src/hbone/tls.js";
import { SpiffeId } from "../../src/identity/spiffe.js";
import { createTestPki, type TestPki } from "../../src/identity/testing.js";

export const CLIENT_ID = SpiffeId.of("shop", "frontend");
export const SERVER_ID = SpiffeId.of("shop", "payments");

/** A TCP echo server that keeps half-open connections open, so a half-closing client still gets its reply. */
export async function startEcho(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** Upstream connector for authorize(): half-open allowed, as capture listeners need (PLATFORM-NOTES). */
export function dialUpstream(host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

export interface Harness {
  pki: TestPki;
  serverCred: WorkloadCredential;
  clientCred: WorkloadCredential;
  server: HboneServer;
  port: number;
  pool: HbonePool;
  echoPort: number;
  requests: ConnectRequest[];
  records: ConnectRecord[];
  rejections: HboneError[];
  connect(extra?: {
    authority?: string;
    expected?: SpiffeId[];
    source?: WorkloadCredential;
  }): Promise<Duplex>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    server?: Partial<HboneServerOptions>;
    pool?: HbonePoolOptions;
    authorize?: (r: ConnectRequest) => Promise<ConnectDecision> | ConnectDecision;
    pki?: TestPki;
    serverCred?: WorkloadCredential;
  } = {},
): Promise<Harness> {
  const pki = opts.pki ?? createTestPki();
  const serverCred = opts.serverCred ?? pki.issue(SERVER_ID);
  const clientCred = pki.issue(CLIENT_ID);
  const echo = await startEcho();
  const requests: ConnectRequest[] = [];
  const records: ConnectRecord[] = [];
  const rejections: HboneError[] = [];
  const server = new HboneServer({
    credentialFor: () => serverCred,
    authorize:
      opts.authorize ??
      ((r) => {
        requests.push(r);
        return { allow: true, connect: () => dialUpstream(r.target.host, r.target.port) };
      }),
    onRejected: (e) => rejections.push(e),
    onConnectDone: (r) => records.push(r),
    ...opts.server,
  });
  const { port } = await server.listen(0, "127.0.0.1");
  const pool = new HbonePool(opts.pool);
  return {
    pki,
    serverCred,
    clientCred,
    server,
    port,
    pool,
    echoPort: echo.port,
    requests,
    records,
    rejections,
    connect(extra = {}) {
      return pool.connect({
        source: extra.source ?? clientCred,
        dstAddress: { host: "127.0.0.1", port },
        expectedIdentities: extra.expected ?? [SERVER_ID],
        authority: extra.authority ?? `127.0.0.1:${echo.port}`,
      });
    },
    async close() {
      await pool.close(200);
      await server.close();
      echo.server.close();
      await once(echo.server, "close");
      // Every test ends by proving it left no session behind on either side.
      if (pool.stats.sessionsActive !== 0 || server.stats.sessionsActive !== 0) {
        throw new Error(
          `leaked sessions: pool ${pool.stats.sessionsActive}, server ${server.stats.sessionsActive}`,
        );
      }
    },
  };
}

/** Writes `payload`, half-closes, and collects everything until the peer ends. */
export async function roundTrip(stream: Duplex, payload: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const ended = once(stream, "end");
  stream.end(payload);
  await ended;
  return Buffer.concat(chunks);
}

export function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Resolves on the pool's next session-close event with the given reason. */
export function nextSessionClose(pool: HbonePool, reason: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: { reason: string }): void => {
      if (e.reason === reason) {
        pool.off("session-close", on);
        resolve();
      }
    };
    pool.on("session-close", on);
  });
}

/** Manual clock for the pool's timers: nothing fires until `advance`. */
export class FakeTimers {
  #now = 0;
  #seq = 0;
  readonly #pending = new Map<object, { at: number; seq: number; cb: () => void }>();
  setTimeout(cb: () => void, ms: number): object {
    const handle = {};
    this.#pending.set(handle, { at: this.#now + ms, seq: this.#seq++, cb });
    return handle;
  }
  clearTimeout(handle: object): void {
    this.#pending.delete(handle);
  }
  get pending(): number {
    return this.#pending.size;
  }
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let next: [object, { at: number; seq: number; cb: () => void }] | undefined;
      for (const e of this.#pending) {
        if (
          e[1].at <= until &&
          (next === undefined || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))
        )
          next = e;
      }
      if (next === undefined) break;
      this.#pending.delete(next[0]);
      this.#now = next[1].at;
      next[1].cb();
    }
    this.#now = until;
  }
}

/**
 * A TCP relay that can freeze: after `freeze()` its current connections silently drop bytes both
 * ways (a dead peer that never resets); connections made later flow normally.
 */
export async function startFreezableRelay(targetPort: number): Promise<{
  port: number;
  freeze(): void;
  close(): Promise<void>;
}> {
  let generation = 0;
  let frozenBelow = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((a) => {
    const mine = generation++;
    const frozen = (): boolean => mine < frozenBelow;
    const b = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const s of [a, b]) {
      s.on("error", () => {});
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
    }
    a.on("data", (c: Buffer) => {
      if (!frozen()) b.write(c);
    });
    b.on("data", (c: Buffer) => {
      if (!frozen()) a.write(c);
    });
    a.once("close", () => b.destroy());
    b.once("close", () => a.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      frozenBelow = generation;
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
