/**
 * Load generators for `ambit bench`, lean on purpose: the generator shares two cores with the
 * proxies it measures, so it speaks just enough HTTP/1.1 (one request at a time per connection,
 * Content-Length or chunked bodies) over sockets a `SocketFactory` makes — inside a pod's network
 * namespace in a local cluster, plain loopback in tests.
 *
 * - `fixedRate`: open loop. Request i is due at start + i/rate whatever happened before it; its
 *   latency runs from that due time, so a stall shows up in every request it delayed (no
 *   coordinated omission, as wrk2 and Gil Tene's HdrHistogram notes describe).
 * - `maxThroughput`: closed loop, `concurrency` connections each sending back to back.
 * - `newConnections`: one at a time, connect + request + first response byte.
 */
import type { Socket } from "node:net";
import { percentile } from "./percentiles.js";

export type SocketFactory = () => Socket;

export interface LatencySummary {
  readonly requests: number;
  readonly errors: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
  /** Ascending latencies (ms), for CDFs. */
  readonly samples: readonly number[];
}

export interface RateResult extends LatencySummary {
  readonly seconds: number;
  readonly rps: number;
}

const MAX_RESPONSE_BYTES = 1 << 20;

function requestBytes(host: string, path: string, close: boolean): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ambit-bench\r\n${close ? "Connection: close\r\n" : ""}\r\n`,
  );
}

/** Where a response ends in `buf`, or -1 while it is incomplete. Throws on what it cannot read. */
export function responseEnd(buf: Buffer): number {
  const head = buf.indexOf("\r\n\r\n");
  if (head < 0) {
    if (buf.length > 64 * 1024) throw new Error("response header block over 64 KiB");
    return -1;
  }
  const headers = buf.subarray(0, head).toString("latin1").toLowerCase();
  const len = /\r\ncontent-length:\s*(\d+)/.exec(headers);
  if (len) {
    const end = head + 4 + Number(len[1]);
    return buf.length >= end ? end : -1;
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(headers)) {
    const end = buf.indexOf("\r\n0\r\n\r\n", head);
    return end < 0 ? -1 : end + 7;
  }
  if (/^http\/1\.[01] (1\d\d|204|304)/.test(headers)) return head + 4;
  throw new Error("response without Content-Length or chunked body");
}

/** One keep-alive connection that sends a request when asked and reports the response's end. */
class Connection {
  readonly #socket: Socket;
  readonly #request: Buffer;
  #buf: Buffer = Buffer.alloc(0);
  #pending: ((err?: Error) => void) | undefined;
  #dead: Error | undefined;
  readonly ready: Promise<void>;

  constructor(factory: SocketFactory, request: Buffer) {
    this.#request = request;
    this.#socket = factory();
    this.#socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once("connect", () => resolve());
      this.#socket.once("error", reject);
    });
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("error", (e) => this.#fail(e));
    this.#socket.on("close", () => this.#fail(new Error("connection closed by peer")));
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  send(): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      this.#pending = (err) => (err ? reject(err) : resolve());
      this.#socket.write(this.#request);
    });
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    try {
      const end = responseEnd(this.#buf);
      if (end < 0) {
        if (this.#buf.length > MAX_RESPONSE_BYTES) throw new Error("response over 1 MiB");
        return;
      }
      if (!this.#buf.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 2"))
        throw new Error(`status ${this.#buf.subarray(9, 12).toString("latin1")}`);
      this.#buf = this.#buf.subarray(end);
      const p = this.#pending;
      this.#pending = undefined;
      p?.();
    } catch (e) {
      this.#fail(e as Error);
      this.#socket.destroy();
    }
  }

  #fail(e: Error): void {
    this.#dead ??= e;
    const p = this.#pending;
    this.#pending = undefined;
    p?.(e);
  }

  close(): void {
    this.#socket.destroy();
  }
}

export interface LoadTarget {
  readonly connect: SocketFactory;
  /** Host header. */
  readonly host: string;
  readonly path?: string;
}

function summarize(lat: number[], errors: number): LatencySummary {
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    errors,
    p50_ms: percentile(lat, 50),
    p90_ms: percentile(lat, 90),
    p99_ms: percentile(lat, 99),
    samples: lat,
  };
}

async function openConnections(t: LoadTarget, n: number): Promise<Connection[]> {
  const req = requestBytes(t.host, t.path ?? "/", false);
  const conns = Array.from({ length: n }, () => new Connection(t.connect, req));
  await Promise.all(conns.map((c) => c.ready));
  return conns;
}

/**
 * Open-loop load at `rate` requests/s for `seconds` over `connections` keep-alive connections.
 * `offsetMs` delays the whole schedule: several loads started together at the same rate would
 * otherwise send in step, every request of every load in the same millisecond.
 */
export async function fixedRate(
  t: LoadTarget,
  o: { rate: number; seconds: number; connections: number; offsetMs?: number },
): Promise<RateResult> {
  const conns = await openConnections(t, o.connections);
  const idle = [...conns];
  const due: number[] = []; // due times (performance.now() ms) waiting for a free connection
  const lat: number[] = [];
  let errors = 0;
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const interval = 1000 / o.rate;
  let issued = 0;
  let settled = 0;
  const start = performance.now() + Math.max(0, o.offsetMs ?? 0);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearInterval(timer);
      timer = undefined;
      for (const c of conns) c.close();
      const seconds = (performance.now() - start) / 1000;
      resolve({ ...summarize(lat, errors), seconds, rps: lat.length / seconds });
    };
    const takeIdle = (): Connection | undefined => {
      for (let c = idle.pop(); c !== undefined; c = idle.pop()) if (c.alive) return c;
      return undefined;
    };
    const settle = (): void => {
      settled += 1;
      if (settled === total) finish();
      else dispatch();
    };
    const dispatch = (): void => {
      while (due.length > 0) {
        const conn = takeIdle();
        if (conn === undefined) return;
        const at = due.shift() as number;
        conn.send().then(
          () => {
            lat.push(performance.now() - at);
            idle.push(conn);
            settle();
          },
          () => {
            errors += 1;
            settle();
          },
        );
      }
    };
    const tick = (): void => {
      const now = performance.now();
      while (issued < total && start + issued * interval <= now) {
        due.push(start + issued * interval);
        issued += 1;
      }
      dispatch();
      if (timer !== undefined && conns.every((c) => !c.alive)) {
        // No connection left to carry them: what is still due, or will be, fails.
        const lost = due.length + (total - issued);
        due.length = 0;
        issued = total;
        errors += lost;
        settled += lost;
        if (settled >= total) finish();
      }
    };
    timer = setInterval(tick, 1);
    tick();
  });
}

/** Closed loop: `connections` connections sending back to back for `seconds`. */
export async function maxThroughput(
  t: LoadTarget,
  o: { seconds: number; connections: number },
): Promise<RateResult> {
  const conns = await openConnections(t, o.connections);
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < end && c.alive) {
        const t0 = performance.now();
        try {
          await c.send();
          lat.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  for (const c of conns) c.close();
  const seconds = (performance.now() - start) / 1000;
  return { ...summarize(lat, errors), seconds, rps: lat.length / seconds };
}

/**
 * One keep-alive request on a fresh connection: true if it was answered 2xx within `timeoutMs`.
 * The bench waits on it before measuring a path — a pod can be running before the mesh carries
 * its traffic (a waypoint's config and certificate, the ztunnels' view of it).
 */
export async function pathAnswers(t: LoadTarget, timeoutMs = 3000): Promise<boolean> {
  const conn = new Connection(t.connect, requestBytes(t.host, t.path ?? "/", false));
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      conn.ready.then(() => conn.send()).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

/** `count` new connections one after another: connect + request + first byte of the response. */
export async function newConnections(t: LoadTarget, count: number): Promise<LatencySummary> {
  const req = requestBytes(t.host, t.path ?? "/", true);
  const lat: number[] = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const t0 = performance.now();
      const s = t.connect();
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 5000);
      s.once("connect", () => s.write(req));
      s.once("data", () => {
        lat.push(performance.now() - t0);
        clearTimeout(timer);
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ok) errors += 1;
  }
  return summarize(lat, errors);
}
