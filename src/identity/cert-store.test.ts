import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import { isAmbitError } from "../errors.js";
import { CertificateAuthority } from "./ca.js";
import {
  type CaClient,
  type CaResponse,
  CertStore,
  type Timers,
  type WorkloadCredential,
} from "./cert-store.js";
import { parseCsr } from "./keys.js";
import { localCaClient } from "./local-ca-client.js";
import { SpiffeId } from "./spiffe.js";
import { opensslVerify } from "./verify-chain.test-util.js";

const A = SpiffeId.of("default", "a");
const B = SpiffeId.of("default", "b");

/** A clock and timers that move only when the test says so. */
class FakeTime implements Timers {
  now = Date.UTC(2026, 0, 1, 12);
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  clock = (): number => this.now;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Moves time forward, firing due timers in order and letting promise chains settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= target && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.now = Math.max(this.now, due[1].at);
      due[1].fn();
      await settle();
    }
    this.now = target;
    await settle();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A CaClient over a real CA on the fake clock that can be told to fail or to hold its answers. */
class FakeCa implements CaClient {
  readonly ca: CertificateAuthority;
  readonly #inner: CaClient;
  calls: Array<{ identity: string; at: number }> = [];
  failing = false;
  #held: Array<() => void> | undefined;

  constructor(readonly time: FakeTime) {
    this.ca = CertificateAuthority.createSelfSigned({ clock: time.clock, minTtlSeconds: 1 });
    this.#inner = localCaClient(this.ca);
  }
  hold(): void {
    this.#held = [];
  }
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const go of held) go();
  }
  async requestCertificate(identity: SpiffeId, csrPem: string, ttlSeconds: number): Promise<CaResponse> {
    this.calls.push({ identity: identity.toString(), at: this.time.now });
    if (this.#held !== undefined) await new Promise<void>((resolve) => this.#held?.push(resolve));
    if (this.failing) throw new Error("CA unavailable (test)");
    return this.#inner.requestCertificate(identity, csrPem, ttlSeconds);
  }
}

function setup(opts: { random?: () => number } = {}) {
  const time = new FakeTime();
  const ca = new FakeCa(time);
  const store = new CertStore({
    ca,
    clock: time.clock,
    timers: time,
    random: opts.random ?? (() => 0.5), // jitter factor exactly 1: delays are the bare backoff
    backoff: { initialMs: 1000, maxMs: 8000, multiplier: 2, jitter: 0.2 },
  });
  const events: string[] = [];
  store.on("issued", (id, cred) => events.push(`issued ${id.serviceAccount} ${cred.serial}`));
  store.on("rotated", (id, cred, prev) =>
    events.push(`rotated ${id.serviceAccount} ${prev.serial}->${cred.serial}`),
  );
  store.on("renewal-failed", (id, err) =>
    events.push(`failed ${id.serviceAccount} ${(err as { code?: string }).code}`),
  );
  return { time, ca, store, events };
}

function renewAtOf(cred: WorkloadCredential): number {
  return cred.notBefore.getTime() + (cred.notAfter.getTime() - cred.notBefore.getTime()) / 2;
}

describe("CertStore", () => {
  test("concurrent first calls share one CA request; later calls are served from memory", async () => {
    const { time, ca, store, events } = setup();
    ca.hold();
    const p1 = store.get(A);
    const p2 = store.get(A);
    await settle();
    assert.equal(ca.calls.length, 1);
    assert.equal(store.status(A)?.state, "fetching");
    ca.release();
    const [c1, c2] = await Promise.all([p1, p2]);
    assert.equal(c1, c2);
    assert.equal(await store.get(A), c1);
    assert.equal(ca.calls.length, 1);
    assert.deepEqual(events, [`issued a ${c1.serial}`]);
    assert.equal(store.current(A), c1);
    assert.ok(opensslVerify(c1.certChainPem, [], c1.rootsPem, { atTime: new Date(time.now) }).ok);
    assert.ok(new X509Certificate(c1.certChainPem).checkPrivateKey(createPrivateKey(c1.keyPem)));
    store.close();
  });

  test("renews at half-life and emits 'rotated'", async () => {
    const { time, ca, store, events } = setup();
    const first = await store.get(A);
    const renewAt = renewAtOf(first);
    assert.deepEqual(store.status(A), { state: "valid", renewAt: new Date(renewAt) });
    await time.advance(renewAt - time.now - 1);
    assert.equal(ca.calls.length, 1, "not renewed before half-life");
    await time.advance(1);
    assert.equal(ca.calls.length, 2);
    assert.equal(ca.calls[1]?.at, renewAt);
    const second = store.current(A);
    assert.ok(second !== undefined && second.serial !== first.serial);
    assert.equal(await store.get(A), second);
    assert.deepEqual(events.slice(1), [`rotated a ${first.serial}->${second.serial}`]);
    // And again at the new certificate's half-life.
    await time.advance(renewAtOf(second) - time.now);
    assert.equal(ca.calls.length, 3);
    store.close();
    assert.equal(time.pending, 0, "close() cancels every timer");
  });

  test("failed renewals keep the old certificate and retry with exponential backoff until the CA recovers", async () => {
    const { time, ca, store, events } = setup();
    const first = await store.get(A);
    ca.failing = true;
    const renewAt = renewAtOf(first);
    await time.advance(renewAt - time.now);
    assert.equal(store.current(A), first, "old certificate still served");
    let status = store.status(A);
    assert.ok(status?.state === "retrying" && status.failures === 1);
    // Retries after 1 s, 2 s, 4 s, 8 s, then capped at 8 s.
    await time.advance(1000 + 2000 + 4000 + 8000 + 8000);
    const gaps = ca.calls
      .slice(1)
      .map((c, i, all) => (i === 0 ? c.at - renewAt : c.at - (all[i - 1]?.at ?? 0)));
    assert.deepEqual(gaps, [0, 1000, 2000, 4000, 8000, 8000]);
    assert.equal(events.filter((e) => e === "failed a ID_ERR_CA_REQUEST_FAILED").length, 6);
    assert.equal(store.current(A), first);
    ca.failing = false;
    await time.advance(8000);
    const renewed = store.current(A);
    assert.ok(renewed !== undefined && renewed.serial !== first.serial);
    status = store.status(A);
    assert.equal(status?.state, "valid");
    assert.equal(events.at(-1), `rotated a ${first.serial}->${renewed.serial}`);
    store.close();
  });

  test("jitter spreads the retry delay within ±20 %", async () => {
    for (const [r, expected] of [
      [0, 800],
      [0.999_999, 1200],
    ] as const) {
      const { time, ca, store } = setup({ random: () => r });
      const first = await store.get(A);
      ca.failing = true;
      await time.advance(renewAtOf(first) - time.now);
      const status = store.status(A);
      assert.ok(status?.state === "retrying");
      assert.ok(Math.abs(status.nextAttemptAt.getTime() - time.now - expected) <= 1, `random ${r}`);
      store.close();
    }
  });

  test("rotate() renews at once (one identity or all); a failing rotate rejects and keeps the old one", async () => {
    const { ca, store, events } = setup();
    const a1 = await store.get(A);
    const b1 = await store.get(B);
    await store.rotate(A);
    const a2 = store.current(A);
    assert.ok(a2 !== undefined && a2.serial !== a1.serial);
    assert.equal(store.current(B), b1);
    await store.rotate();
    assert.notEqual(store.current(A), a2);
    assert.notEqual(store.current(B), b1);
    assert.equal(events.filter((e) => e.startsWith("rotated")).length, 3);
    const before = store.current(A);
    ca.failing = true;
    await assert.rejects(store.rotate(A), (e: unknown) => isAmbitError(e, "ID_ERR_CA_REQUEST_FAILED"));
    assert.equal(store.current(A), before);
    assert.equal(store.status(A)?.state, "retrying");
    store.close();
  });

  test("a failed first fetch rejects and leaves nothing behind; the next get asks again", async () => {
    const { ca, store } = setup();
    ca.failing = true;
    await assert.rejects(store.get(A), (e: unknown) => isAmbitError(e, "ID_ERR_CA_REQUEST_FAILED"));
    assert.equal(store.status(A), undefined);
    ca.failing = false;
    await store.get(A);
    assert.equal(ca.calls.length, 2);
    store.close();
  });

  test("an expired certificate is not served; get() fetches a new one", async () => {
    const { time, ca, store } = setup();
    const first = await store.get(A);
    ca.failing = true;
    await time.advance(first.notAfter.getTime() - time.now);
    assert.equal(store.current(A), undefined);
    ca.failing = false;
    const fresh = await store.get(A);
    assert.notEqual(fresh.serial, first.serial);
    store.close();
  });

  test("refuses a CA answer for another key or identity, and one without any roots", async () => {
    const time = new FakeTime();
    const real = new FakeCa(time);
    const storeB = new CertStore({ ca: real, clock: time.clock, timers: time });
    const credB = await storeB.get(B);
    // A CA that answers with a certificate made for someone else's key (B's).
    const replaying = new CertStore({
      ca: {
        requestCertificate: async () => ({ certChainPem: [credB.certChainPem], rootsPem: [credB.rootsPem] }),
      },
      clock: time.clock,
      timers: time,
    });
    await assert.rejects(replaying.get(B), (e: unknown) => isAmbitError(e, "ID_ERR_BAD_ISSUED_CERT"));
    // A CA that certifies the right key under another name.
    const renaming = new CertStore({
      ca: {
        requestCertificate: async (_id, csr) => {
          const issued = real.ca.sign(parseCsr(csr).publicKey, { identity: B });
          return { certChainPem: [issued.certPem], rootsPem: [issued.rootPem] };
        },
      },
      clock: time.clock,
      timers: time,
    });
    await assert.rejects(renaming.get(A), (e: unknown) => isAmbitError(e, "ID_ERR_BAD_ISSUED_CERT"));
    const rootless = new CertStore({
      ca: {
        requestCertificate: async (id, csr) => ({
          certChainPem: [real.ca.signCsr(csr, { identity: id }).certPem],
        }),
      },
      clock: time.clock,
      timers: time,
    });
    await assert.rejects(rootless.get(A), (e: unknown) => isAmbitError(e, "ID_ERR_NO_TRUST_ROOTS"));
    // The same answer is fine once the store knows the roots.
    const withRoots = new CertStore({
      ca: {
        requestCertificate: async (id, csr) => ({
          certChainPem: [real.ca.signCsr(csr, { identity: id }).certPem],
        }),
      },
      clock: time.clock,
      timers: time,
      rootsPem: () => real.ca.rootPem(),
    });
    assert.equal((await withRoots.get(A)).rootsPem, real.ca.rootPem());
    for (const s of [storeB, replaying, renaming, rootless, withRoots]) s.close();
  });

  test("forget() stops renewal; close() makes get() fail", async () => {
    const { time, ca, store } = setup();
    await store.get(A);
    store.forget(A);
    assert.equal(time.pending, 0);
    assert.equal(store.current(A), undefined);
    assert.deepEqual(store.list(), []);
    await time.advance(10 * 3600_000);
    assert.equal(ca.calls.length, 1);
    store.close();
    await assert.rejects(store.get(A), (e: unknown) => isAmbitError(e, "ID_ERR_STORE_CLOSED"));
  });

  test("bad options are refused", () => {
    const time = new FakeTime();
    const ca = new FakeCa(time);
    for (const opts of [
      { ttlSeconds: 0 },
      { renewAtFraction: 1 },
      { backoff: { initialMs: 10, maxMs: 5 } },
      { backoff: { jitter: 1 } },
    ]) {
      assert.throws(
        () => new CertStore({ ca, ...opts }),
        (e: unknown) => isAmbitError(e, "ID_ERR_BAD_OPTIONS"),
      );
    }
  });
});
