import { type KeyObject, X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import { DEFAULT_WORKLOAD_TTL_SECONDS } from "./ca.js";
import type { WorkloadCredential } from "./credential.js";
import { IdentityError } from "./errors.js";
import { createCsr, generateKeyPair, privateKeyPem } from "./keys.js";
import { splitCertificates } from "./pem.js";
import { RevocationList } from "./revocation.js";
import { identityFromCertificate, type SpiffeId } from "./spiffe.js";
import { parseCertificateDer } from "./x509.js";

export type { WorkloadCredential } from "./credential.js";

export interface CaResponse {
  /** The leaf first, then its intermediates. */
  certChainPem: string[];
  /** The trust bundle; when absent the store's `rootsPem` option is used. */
  rootsPem?: string[];
}

/** The edge to the CA (Istio's IstioCertificateService.CreateCertificate, or an in-process CA). */
export interface CaClient {
  requestCertificate(identity: SpiffeId, csrPem: string, ttlSeconds: number): Promise<CaResponse>;
}

/** Timer functions, injectable so tests drive renewal with a fake clock. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface BackoffOptions {
  /** First retry delay (default 1 s). */
  initialMs?: number;
  /** Cap on the delay (default 60 s). */
  maxMs?: number;
  /** Growth per failure (default 2). */
  multiplier?: number;
  /** ± fraction of randomness so many ztunnels do not retry in step (default 0.2). */
  jitter?: number;
}

export interface CertStoreOptions {
  ca: CaClient;
  /** Requested certificate lifetime (default 3600 s). */
  ttlSeconds?: number;
  /** Fraction of the lifetime after which to renew (default 0.5, Istio's and ztunnel's half-life). */
  renewAtFraction?: number;
  clock?: () => number;
  timers?: Timers;
  backoff?: BackoffOptions;
  /** Uniform [0, 1) source for jitter. */
  random?: () => number;
  /** Trust bundle used when the CA's answer carries no roots. */
  rootsPem?: string | (() => string);
}

interface CertStoreConfig {
  readonly ca: CaClient;
  readonly ttlSeconds: number;
  readonly renewAtFraction: number;
  readonly clock: () => number;
  readonly timers: Timers;
  readonly backoff: Readonly<Required<BackoffOptions>>;
  readonly random: () => number;
  readonly rootsPem: () => string;
}

const realTimers: Timers = {
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    // Renewal alone must not keep a process alive; daemons stay up through their listeners.
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); longer waits are re-armed in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

function certStoreConfig(opts: CertStoreOptions): CertStoreConfig {
  const ttlSeconds = opts.ttlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS;
  const renewAtFraction = opts.renewAtFraction ?? 0.5;
  const backoff = {
    initialMs: opts.backoff?.initialMs ?? 1000,
    maxMs: opts.backoff?.maxMs ?? 60_000,
    multiplier: opts.backoff?.multiplier ?? 2,
    jitter: opts.backoff?.jitter ?? 0.2,
  };
  const problems: string[] = [];
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)
    problems.push(`ttlSeconds ${ttlSeconds} (a positive integer)`);
  if (!(renewAtFraction > 0 && renewAtFraction < 1))
    problems.push(`renewAtFraction ${renewAtFraction} (in (0, 1))`);
  if (!(backoff.initialMs > 0) || !(backoff.maxMs >= backoff.initialMs)) {
    problems.push(`backoff initialMs ${backoff.initialMs}/maxMs ${backoff.maxMs} (0 < initial ≤ max)`);
  }
  if (!(backoff.multiplier >= 1)) problems.push(`backoff multiplier ${backoff.multiplier} (≥ 1)`);
  if (!(backoff.jitter >= 0 && backoff.jitter < 1))
    problems.push(`backoff jitter ${backoff.jitter} (in [0, 1))`);
  if (problems.length > 0) {
    throw new IdentityError("ID_ERR_BAD_OPTIONS", `invalid CertStore options: ${problems.join("; ")}`);
  }
  const roots = opts.rootsPem;
  return Object.freeze({
    ca: opts.ca,
    ttlSeconds,
    renewAtFraction,
    clock: opts.clock ?? Date.now,
    timers: opts.timers ?? realTimers,
    backoff: Object.freeze(backoff),
    random: opts.random ?? Math.random,
    rootsPem: typeof roots === "function" ? roots : () => roots ?? "",
  });
}

/** Where an identity's certificate stands, for admin dumps and `ambit cert` output. */
export type RenewalState =
  | { readonly state: "fetching"; readonly since: Date }
  | { readonly state: "valid"; readonly renewAt: Date }
  | {
      readonly state: "retrying";
      readonly failures: number;
      readonly nextAttemptAt: Date;
      readonly lastError: string;
    };

interface Entry {
  readonly identity: SpiffeId;
  cred: WorkloadCredential | undefined;
  inflight: Promise<WorkloadCredential> | undefined;
  timer: unknown;
  failures: number;
  status: RenewalState;
}

export interface CertStoreEvents {
  issued: [identity: SpiffeId, cred: WorkloadCredential];
  rotated: [identity: SpiffeId, cred: WorkloadCredential, previous: WorkloadCredential];
  "renewal-failed": [identity: SpiffeId, error: Error];
  /** The trust bundle changed: held credentials now carry `rootsPem` (same keys and serials). */
  "trust-bundle": [rootsPem: string];
}

/**
 * Certificates of the identities this process serves (a ztunnel: the service accounts of its node's
 * workloads). Keys are generated here and never leave; the CA only sees CSRs. A certificate is fetched on
 * first use, renewed at half-life; while renewal fails the old (still valid) one stays in use and renewal
 * retries with exponential backoff and jitter. A swap only changes what new handshakes present: open
 * connections keep the context they were made with.
 *
 * Events: 'issued' (identity, cred) on first fetch; 'rotated' (identity, cred, previous) on every
 * renewal; 'renewal-failed' (identity, error) on each failed renewal attempt.
 */
export class CertStore extends EventEmitter<CertStoreEvents> {
  readonly #config: CertStoreConfig;
  readonly #entries = new Map<string, Entry>();
  /** Revoked serials pushed with the trust bundle; every credential of this store carries it. */
  readonly revocations = new RevocationList();
  /** A bundle pushed by the control plane; it wins over the roots of a CA answer, which may be older. */
  #bundle: string | undefined;
  #closed = false;

  constructor(opts: CertStoreOptions) {
    super();
    this.#config = certStoreConfig(opts);
  }

  /** The identity's credential: fetched on first use (concurrent first calls share one request). */
  async get(identity: SpiffeId): Promise<WorkloadCredential> {
    this.#assertOpen();
    const key = identity.toString();
    let entry = this.#entries.get(key);
    const cred = entry?.cred;
    if (cred !== undefined && this.#config.clock() < cred.notAfter.getTime()) return cred;
    if (entry === undefined) {
      entry = {
        identity,
        cred: undefined,
        inflight: undefined,
        timer: undefined,
        failures: 0,
        status: { state: "fetching", since: new Date(this.#config.clock()) },
      };
      this.#entries.set(key, entry);
    }
    return this.#request(entry);
  }

  /** The credential held for `identity` if it is still valid; never fetches. */
  current(identity: SpiffeId): WorkloadCredential | undefined {
    const cred = this.#entries.get(identity.toString())?.cred;
    return cred !== undefined && this.#config.clock() < cred.notAfter.getTime() ? cred : undefined;
  }

  status(identity: SpiffeId): RenewalState | undefined {
    return this.#entries.get(identity.toString())?.status;
  }

  /** Every credential held (valid or not), e.g. for the admin certificate dump. */
  list(): WorkloadCredential[] {
    const out: WorkloadCredential[] = [];
    for (const entry of this.#entries.values()) if (entry.cred !== undefined) out.push(entry.cred);
    return out;
  }

  /** Stops renewing `identity` and drops its key (its workloads left the node). */
  forget(identity: SpiffeId): void {
    const entry = this.#entries.get(identity.toString());
    if (entry === undefined) return;
    this.#config.timers.clearTimeout(entry.timer);
    this.#entries.delete(identity.toString());
  }

  /**
   * Renews now: one identity, or every identity held. Rejects if a renewal fails (the old certificate
   * stays and backoff retries continue), after all renewals settled.
   */
  async rotate(identity?: SpiffeId): Promise<void> {
    this.#assertOpen();
    if (identity !== undefined) {
      const entry = this.#entries.get(identity.toString());
      if (entry === undefined || entry.cred === undefined) await this.get(identity);
      else await this.#renew(entry);
      return;
    }
    const results = await Promise.allSettled(
      [...this.#entries.values()].map((e) => (e.cred === undefined ? this.#request(e) : this.#renew(e))),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * Replaces the roots every held and future credential trusts (root rotation). Keys and leaves stay:
   * only handshakes that start afterwards use the new bundle; open connections are untouched.
   */
  setTrustBundle(rootsPem: string): void {
    this.#assertOpen();
    const pem = splitCertificates(rootsPem).join("");
    if (pem === "") {
      throw new IdentityError("ID_ERR_NO_TRUST_ROOTS", "setTrustBundle() needs at least one PEM certificate");
    }
    if (pem === this.#bundle) return;
    this.#bundle = pem;
    for (const entry of this.#entries.values()) {
      if (entry.cred !== undefined && entry.cred.rootsPem !== pem) {
        entry.cred = Object.freeze({ ...entry.cred, rootsPem: pem });
      }
    }
    this.emit("trust-bundle", pem);
  }

  /** The roots new handshakes trust: the pushed bundle, else the configured roots. */
  trustBundle(): string {
    return this.#bundle ?? this.#config.rootsPem();
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#config.timers.clearTimeout(entry.timer);
    this.#entries.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new IdentityError("ID_ERR_STORE_CLOSED", "the certificate store is closed");
  }

  #live(entry: Entry): boolean {
    return !this.#closed && this.#entries.get(entry.identity.toString()) === entry;
  }

  /** One CSR round trip for `entry`, shared by every caller while it is in flight. */
  #request(entry: Entry): Promise<WorkloadCredential> {
    if (entry.inflight !== undefined) return entry.inflight;
    const promise = this.#fetch(entry.identity).then(
      (cred) => {
        if (entry.inflight === promise) entry.inflight = undefined;
        if (this.#live(entry)) this.#install(entry, cred);
        return cred;
      },
      (error: unknown) => {
        if (entry.inflight === promise) entry.inflight = undefined;
        // A first fetch that fails leaves nothing behind: the next get() asks again.
        if (entry.cred === undefined && this.#live(entry)) this.#entries.delete(entry.identity.toString());
        throw error;
      },
    );
    entry.inflight = promise;
    return promise;
  }

  async #fetch(identity: SpiffeId): Promise<WorkloadCredential> {
    const { privateKey } = generateKeyPair();
    const csr = createCsr(privateKey, identity);
    let response: CaResponse;
    try {
      response = await this.#config.ca.requestCertificate(identity, csr, this.#config.ttlSeconds);
    } catch (e) {
      throw new IdentityError(
        "ID_ERR_CA_REQUEST_FAILED",
        `the CA did not issue a certificate for ${identity}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    return this.#credentialFrom(identity, privateKey, response);
  }

  #credentialFrom(identity: SpiffeId, privateKey: KeyObject, response: CaResponse): WorkloadCredential {
    const chain = response.certChainPem.flatMap((p) => splitCertificates(p));
    const leafPem = chain[0];
    const badCert = (why: string, cause?: unknown): IdentityError =>
      new IdentityError("ID_ERR_BAD_ISSUED_CERT", `the CA's answer for ${identity} is unusable: ${why}`, {
        cause,
      });
    if (leafPem === undefined) throw badCert("it holds no certificate");
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(leafPem);
    } catch (e) {
      throw badCert("the leaf certificate does not parse", e);
    }
    if (!leaf.checkPrivateKey(privateKey)) throw badCert("the leaf certifies a different key than the CSR's");
    let certified: SpiffeId;
    try {
      certified = identityFromCertificate(leaf);
    } catch (e) {
      throw badCert("the leaf carries no single SPIFFE id", e);
    }
    if (!certified.equals(identity)) throw badCert(`the leaf names ${certified}`);
    const rootsPem =
      this.#bundle ??
      (response.rootsPem?.flatMap((p) => splitCertificates(p)).join("") || this.#config.rootsPem());
    if (rootsPem === "") {
      throw new IdentityError(
        "ID_ERR_NO_TRUST_ROOTS",
        `the CA sent no roots for ${identity} and the store has none: pass CertStoreOptions.rootsPem`,
      );
    }
    const fields = parseCertificateDer(leaf.raw);
    return Object.freeze({
      identity,
      keyPem: privateKeyPem(privateKey),
      certChainPem: chain.join(""),
      rootsPem,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      serial: leaf.serialNumber,
      revoked: this.revocations,
    });
  }

  #install(entry: Entry, cred: WorkloadCredential): void {
    const previous = entry.cred;
    entry.cred = cred;
    entry.failures = 0;
    const lifetime = cred.notAfter.getTime() - cred.notBefore.getTime();
    const renewAt = cred.notBefore.getTime() + lifetime * this.#config.renewAtFraction;
    entry.status = { state: "valid", renewAt: new Date(renewAt) };
    this.#schedule(entry, renewAt);
    if (previous === undefined) this.emit("issued", entry.identity, cred);
    else this.emit("rotated", entry.identity, cred, previous);
  }

  #schedule(entry: Entry, atMs: number): void {
    const { timers, clock } = this.#config;
    timers.clearTimeout(entry.timer);
    const delay = Math.min(Math.max(0, atMs - clock()), MAX_TIMER_MS);
    entry.timer = timers.setTimeout(() => {
      entry.timer = undefined;
      if (!this.#live(entry)) return;
      if (clock() < atMs) {
        this.#schedule(entry, atMs);
        return;
      }
      // Failures are reported through 'renewal-failed' and retried by #renew itself.
      this.#renew(entry).catch(() => {});
    }, delay);
  }

  #renew(entry: Entry): Promise<WorkloadCredential> {
    return this.#request(entry).catch((error: unknown) => {
      if (this.#live(entry) && entry.cred !== undefined) {
        entry.failures++;
        const { initialMs, maxMs, multiplier, jitter } = this.#config.backoff;
        const base = Math.min(maxMs, initialMs * multiplier ** (entry.failures - 1));
        const delay = base * (1 - jitter + 2 * jitter * this.#config.random());
        const nextAttemptAt = this.#config.clock() + delay;
        const err = error instanceof Error ? error : new Error(String(error));
        entry.status = {
          state: "retrying",
          failures: entry.failures,
          nextAttemptAt: new Date(nextAttemptAt),
          lastError: err.message,
        };
        this.#schedule(entry, nextAttemptAt);
        this.emit("renewal-failed", entry.identity, err);
      }
      throw error;
    });
  }
}
