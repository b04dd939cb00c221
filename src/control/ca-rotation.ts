/**
 * The CA's live material and its root rotation, persisted in `<home>/ca/` so a restart mid-rotation
 * resumes where it stopped. A new root is trusted everywhere before it signs anything, and the old
 * one is trusted until the last leaf it signed has expired:
 *
 *   idle → distributing (bundle = old + new, wait for every node's ACK)
 *        → switching (sign with the new CA; files swapped, crash-safe)
 *        → reissuing (every node asked to renew; wait until no live leaf of the old root is left)
 *        → retiring (old root kept until its last leaf's notAfter) → idle
 *
 * Files: the active CA in Istio's cacerts layout in `ca/`, the incoming one in `ca/next/`, the one
 * replaced in `ca/previous/`, the state in `ca/rotation.json`.
 *
 * The same file keeps the revoked serials (`ambit ca revoke`, an ambit extension), pushed with the
 * trust bundle; an entry is dropped once its certificate's notAfter has passed.
 */
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CaFiles, CertificateAuthority, type SelfSignedCaOptions } from "../identity/ca.js";
import { normaliseSerial } from "../identity/revocation.js";
import type { MeshTrustBundle } from "../xds/trust-bundle.js";
import { ControlError, ControlErrorCode } from "./errors.js";

export const ROTATION_FILE = "rotation.json";
const NEXT_DIR = "next";
const PREVIOUS_DIR = "previous";
const COPIED_MARK = ".complete";
const CA_FILE_NAMES = [CaFiles.key, CaFiles.cert, CaFiles.chain, CaFiles.root] as const;

export type RootRotationPhase =
  | { readonly state: "idle" }
  | { readonly state: "distributing"; readonly startedAt: string; readonly newRoot: string }
  | { readonly state: "switching"; readonly startedAt: string; readonly newRoot: string }
  | {
      readonly state: "reissuing";
      readonly startedAt: string;
      readonly newRoot: string;
      readonly switchedAt: string;
    }
  | {
      readonly state: "retiring";
      readonly startedAt: string;
      readonly newRoot: string;
      readonly switchedAt: string;
      readonly retireAfter: string;
    };

interface RetiringRoot {
  readonly pem: string;
  /** No leaf it signed is valid after this instant. */
  readonly retireAfter: string;
}

/** One `ambit ca revoke`. */
export interface RevokedCertificate {
  /** Normalised hex (uppercase, no separators or leading zeros). */
  readonly serial: string;
  readonly reason: string;
  readonly revokedAt: string;
  /** The certificate's notAfter when the CA knew it; the entry is dropped after it. */
  readonly notAfter: string | null;
  /** The identity the CA issued the serial to, when known. */
  readonly identity: string | null;
}

/**
 * An entry whose notAfter is unknown (a serial the CA never saw, e.g. issued before a restart) is
 * kept this long after its revocation: longer than any workload TTL the CA issues.
 */
const UNKNOWN_EXPIRY_KEEP_MS = 7 * 24 * 3600 * 1000;

interface PersistedState {
  readonly version: 1;
  readonly phase: RootRotationPhase;
  readonly retiring: readonly RetiringRoot[];
  /** namespace ("" = all) → generation of forced renewals (`ambit cert rotate`). */
  readonly rotations: Readonly<Record<string, number>>;
  /** Absent in files written before revocation existed. */
  readonly revoked?: readonly RevokedCertificate[];
}

const INITIAL: PersistedState = { version: 1, phase: { state: "idle" }, retiring: [], rotations: {} };

/** What the control plane observes about the data plane, for the state machine to decide on. */
export interface RotationProgress {
  /** Nodes (and waypoints) that have not ACKed the current bundle yet. */
  readonly nodesBehind: readonly string[];
  /** Leaves in use that chain to a root other than the active signer's. */
  readonly oldLeavesInUse: number;
}

export interface CaRotationOptions extends SelfSignedCaOptions {
  /** Longest workload TTL the CA issues: bounds when the old root's last leaf expires. */
  certTtlSeconds: number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export type NewCaSource = { readonly kind: "generate" } | { readonly kind: "dir"; readonly dir: string };

export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function revocationExpired(r: RevokedCertificate, now: number): boolean {
  const until =
    r.notAfter !== null ? Date.parse(r.notAfter) : Date.parse(r.revokedAt) + UNKNOWN_EXPIRY_KEEP_MS;
  return Number.isFinite(until) && now > until;
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

function copyCaFiles(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const name of CA_FILE_NAMES) {
    if (!existsSync(join(from, name))) continue;
    const tmp = join(to, `${name}.tmp-${process.pid}`);
    copyFileSync(join(from, name), tmp);
    renameSync(tmp, join(to, name));
  }
}

/** Reads an Istio cacerts directory into a CA (validating it) without writing anything. */
export function readCaDir(dir: string, opts: SelfSignedCaOptions): CertificateAuthority {
  const read = (name: string): string | undefined =>
    existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : undefined;
  const certPem = read(CaFiles.cert);
  const keyPem = read(CaFiles.key);
  if (certPem === undefined || keyPem === undefined) {
    throw new ControlError(
      ControlErrorCode.BAD_OPTIONS,
      `${dir} must hold ${CaFiles.cert} and ${CaFiles.key} (Istio's cacerts layout, with ${CaFiles.root} and ${CaFiles.chain} for an intermediate)`,
    );
  }
  const chainPem = read(CaFiles.chain);
  const rootPem = read(CaFiles.root);
  return CertificateAuthority.fromPem({
    ...opts,
    certPem,
    keyPem,
    ...(chainPem !== undefined ? { chainPem } : {}),
    ...(rootPem !== undefined ? { rootPem } : {}),
  });
}

/**
 * Copies a plug-in CA (Istio cacerts layout) into `caDir` on first start. A `caDir` that already holds a
 * different CA is left alone and refused: replacing a live CA is a root rotation.
 */
export function importCaDir(from: string, caDir: string, opts: SelfSignedCaOptions): void {
  const incoming = readCaDir(from, opts);
  if (existsSync(join(caDir, CaFiles.cert))) {
    const current = readFileSync(join(caDir, CaFiles.cert), "utf8");
    if (fingerprintOf(current) === fingerprintOf(incoming.certPem())) return;
    throw new ControlError(
      ControlErrorCode.ROTATION_CONFLICT,
      `--ca-dir ${from} holds another CA than the one in use (${caDir}); to switch CAs without breaking connections run \`ambit ca rotate-root --from-dir ${from}\``,
    );
  }
  copyCaFiles(from, caDir);
  if (!existsSync(join(caDir, CaFiles.root)))
    writeAtomic(join(caDir, CaFiles.root), incoming.rootPem(), 0o644);
}

/** The live CA: what signs now, what every workload must trust, and the rotation in progress. */
export class CaRotation {
  readonly #dir: string;
  readonly #opts: CaRotationOptions;
  #active: CertificateAuthority;
  #next: CertificateAuthority | undefined;
  #state: PersistedState;
  readonly #listeners = new Set<() => void>();

  private constructor(dir: string, opts: CaRotationOptions, state: PersistedState) {
    this.#dir = dir;
    this.#opts = opts;
    this.#state = state;
    this.#active = CertificateAuthority.loadOrCreate(dir, opts);
    if (state.phase.state === "distributing" || state.phase.state === "switching") {
      this.#next = readCaDir(join(dir, NEXT_DIR), opts);
    }
  }

  /** Loads (or creates) the CA in `dir` and resumes an interrupted rotation. */
  static open(dir: string, opts: CaRotationOptions): CaRotation {
    const path = join(dir, ROTATION_FILE);
    let state = INITIAL;
    if (existsSync(path)) {
      try {
        state = JSON.parse(readFileSync(path, "utf8")) as PersistedState;
      } catch (e) {
        throw new ControlError(
          ControlErrorCode.BAD_OPTIONS,
          `${path} is not valid JSON (${(e as Error).message}); restore it or remove it to forget the rotation in progress`,
          { cause: e },
        );
      }
    }
    const rotation = new CaRotation(dir, opts, state);
    // A crash between "switching" and "reissuing" redoes the (idempotent) file swap.
    if (state.phase.state === "switching") rotation.#switch();
    return rotation;
  }

  /** The CA that signs now. */
  get signer(): CertificateAuthority {
    return this.#active;
  }

  get phase(): RootRotationPhase {
    return this.#state.phase;
  }

  /** Every root a peer certificate may chain to: the signer's, the incoming one, the retiring ones. */
  rootsPem(): string[] {
    const pems = [this.#active.rootPem()];
    if (this.#next !== undefined) pems.push(this.#next.rootPem());
    for (const r of this.#state.retiring) pems.push(r.pem);
    const seen = new Set<string>();
    return pems.filter((p) => {
      const f = fingerprintOf(p);
      if (seen.has(f)) return false;
      seen.add(f);
      return true;
    });
  }

  bundle(): MeshTrustBundle {
    return {
      rootsPem: this.rootsPem(),
      rotations: new Map(Object.entries(this.#state.rotations)),
      revokedSerials: this.revoked().map((r) => r.serial),
    };
  }

  /**
   * Adds `serial` to the revocation list (idempotent: a second revoke keeps the first entry).
   * An unknown serial is accepted: it is just a number, and the CA may not have seen it since a
   * restart. Throws ID_ERR_BAD_SERIAL for a value that is not a serial.
   */
  revoke(
    serialInput: string,
    o: { reason?: string; notAfter?: Date; identity?: string } = {},
  ): { entry: RevokedCertificate; added: boolean } {
    const serial = normaliseSerial(serialInput);
    const existing = this.#state.revoked?.find((r) => r.serial === serial);
    if (existing !== undefined) return { entry: existing, added: false };
    const entry: RevokedCertificate = {
      serial,
      reason: o.reason ?? "unspecified",
      revokedAt: new Date(this.#now()).toISOString(),
      notAfter: o.notAfter === undefined ? null : o.notAfter.toISOString(),
      identity: o.identity ?? null,
    };
    this.#save({ ...this.#state, revoked: [...this.revoked(), entry] });
    this.#log("certificate revoked", { serial, reason: entry.reason });
    this.#changed();
    return { entry, added: true };
  }

  /** The revocation list, without entries whose certificate has expired. */
  revoked(): RevokedCertificate[] {
    const now = this.#now();
    return (this.#state.revoked ?? []).filter((r) => !revocationExpired(r, now));
  }

  /** Drops expired entries from the persisted list; true (and the bundle republished) when any went. */
  pruneRevocations(): boolean {
    const all = this.#state.revoked ?? [];
    const live = this.revoked();
    if (live.length === all.length) return false;
    this.#save({ ...this.#state, revoked: live });
    this.#log("expired certificates dropped from the revocation list", {
      dropped: all.length - live.length,
    });
    this.#changed();
    return true;
  }

  /** Called after every change of the bundle or the signer. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Asks every node to renew now its certificates of `namespace` (undefined: all). Returns the generation. */
  requestRenewal(namespace: string | undefined): number {
    const key = namespace ?? "";
    const generation = (this.#state.rotations[key] ?? 0) + 1;
    this.#save({ ...this.#state, rotations: { ...this.#state.rotations, [key]: generation } });
    this.#changed();
    return generation;
  }

  /** Starts a root rotation: the new CA is trusted (pushed) now and signs once every node holds it. */
  startRootRotation(source: NewCaSource): RootRotationPhase {
    if (this.#state.phase.state !== "idle") {
      throw new ControlError(
        ControlErrorCode.ROTATION_CONFLICT,
        `a root rotation is already ${this.#state.phase.state} (started ${this.#state.phase.startedAt}); wait for it (\`ambit ca status\`), or finish the retirement early with \`ambit ca rotate-root --retire-now\``,
      );
    }
    const nextDir = join(this.#dir, NEXT_DIR);
    let next: CertificateAuthority;
    if (source.kind === "dir") {
      next = readCaDir(source.dir, this.#opts);
      rmSync(nextDir, { recursive: true, force: true });
      copyCaFiles(source.dir, nextDir);
      writeAtomic(join(nextDir, CaFiles.root), next.rootPem(), 0o644);
    } else {
      rmSync(nextDir, { recursive: true, force: true });
      next = CertificateAuthority.loadOrCreate(nextDir, this.#opts);
    }
    if (fingerprintOf(next.certPem()) === fingerprintOf(this.#active.certPem())) {
      rmSync(nextDir, { recursive: true, force: true });
      throw new ControlError(
        ControlErrorCode.ROTATION_CONFLICT,
        `${source.kind === "dir" ? source.dir : "the new CA"} is the CA already in use; nothing to rotate`,
      );
    }
    this.#next = next;
    const phase: RootRotationPhase = {
      state: "distributing",
      startedAt: new Date(this.#now()).toISOString(),
      newRoot: fingerprintOf(next.rootPem()),
    };
    this.#save({ ...this.#state, phase });
    this.#writeRootFile();
    this.#log("root rotation started: distributing the new root", { newRoot: phase.newRoot });
    this.#changed();
    return phase;
  }

  /** Drops retiring roots now, whatever leaves they signed (unsafe: such peers fail their next handshake). */
  retireNow(): void {
    const p = this.#state.phase;
    if (p.state !== "reissuing" && p.state !== "retiring") {
      throw new ControlError(
        ControlErrorCode.ROTATION_CONFLICT,
        p.state === "idle"
          ? "no root is being retired"
          : `the new root is not signing yet (${p.state}); --retire-now is only possible after the switch`,
      );
    }
    this.#finish("retired early (--retire-now)");
  }

  /**
   * Moves the rotation forward as far as `progress` allows; the control plane calls it on every ACK
   * and once a second. Returns true when the phase changed.
   */
  advance(progress: RotationProgress): boolean {
    const p = this.#state.phase;
    const now = this.#now();
    if (p.state === "distributing" && progress.nodesBehind.length === 0) {
      this.#save({ ...this.#state, phase: { ...p, state: "switching" } });
      this.#switch();
      return true;
    }
    if (p.state === "reissuing" && progress.nodesBehind.length === 0 && progress.oldLeavesInUse === 0) {
      const retireAfter = Math.max(...this.#state.retiring.map((r) => Date.parse(r.retireAfter)), now);
      this.#save({
        ...this.#state,
        phase: { ...p, state: "retiring", retireAfter: new Date(retireAfter).toISOString() },
      });
      this.#log(
        "every node holds a certificate of the new root; retiring the old root when its leaves expire",
        {
          retireAfter: new Date(retireAfter).toISOString(),
        },
      );
      this.#changed();
      return true;
    }
    if (p.state === "retiring" && now >= Date.parse(p.retireAfter)) {
      this.#finish("the last leaf of the old root expired");
      return true;
    }
    return false;
  }

  status(): unknown {
    const role = (pem: string): string => {
      const f = fingerprintOf(pem);
      if (f === fingerprintOf(this.#active.rootPem())) return "active";
      if (this.#next !== undefined && f === fingerprintOf(this.#next.rootPem())) return "incoming";
      return "retiring";
    };
    return {
      phase: this.#state.phase,
      signer: {
        subject: new X509Certificate(this.#active.certPem()).subject,
        fingerprint: fingerprintOf(this.#active.certPem()),
        notAfter: this.#active.notAfter.toISOString(),
        intermediate: this.#active.chainPem().length > 0,
      },
      roots: this.rootsPem().map((pem) => {
        const c = new X509Certificate(pem);
        const retiring = this.#state.retiring.find((r) => fingerprintOf(r.pem) === c.fingerprint256);
        return {
          fingerprint: c.fingerprint256,
          subject: c.subject,
          notAfter: new Date(c.validTo).toISOString(),
          role: role(pem),
          ...(retiring ? { retireAfter: retiring.retireAfter } : {}),
        };
      }),
      rotations: this.#state.rotations,
    };
  }

  #switch(): void {
    const p = this.#state.phase;
    if (p.state !== "switching") return;
    const nextDir = join(this.#dir, NEXT_DIR);
    const previousDir = join(this.#dir, PREVIOUS_DIR);
    const oldRoot = this.#active.rootPem();
    // Every leaf the old CA signed expires within one TTL (plus the clock-skew grace it backdates by).
    const retireAfter = new Date(this.#now() + (this.#opts.certTtlSeconds + 120) * 1000).toISOString();
    const retiring = this.#state.retiring.some((r) => fingerprintOf(r.pem) === fingerprintOf(oldRoot))
      ? this.#state.retiring
      : [...this.#state.retiring, { pem: oldRoot, retireAfter }];
    this.#save({ ...this.#state, retiring });
    // Keep the old CA once, even when this step is redone after a crash (the active files may be new already).
    if (!existsSync(join(previousDir, COPIED_MARK))) {
      rmSync(previousDir, { recursive: true, force: true });
      copyCaFiles(this.#dir, previousDir);
      writeFileSync(join(previousDir, COPIED_MARK), "");
    }
    if (existsSync(nextDir)) {
      copyCaFiles(nextDir, this.#dir);
      rmSync(nextDir, { recursive: true, force: true });
    }
    this.#active = CertificateAuthority.loadOrCreate(this.#dir, this.#opts);
    this.#next = undefined;
    const key = "";
    this.#save({
      ...this.#state,
      phase: {
        state: "reissuing",
        startedAt: p.startedAt,
        newRoot: p.newRoot,
        switchedAt: new Date(this.#now()).toISOString(),
      },
      // Re-issue every workload certificate under the new CA.
      rotations: { ...this.#state.rotations, [key]: (this.#state.rotations[key] ?? 0) + 1 },
    });
    this.#writeRootFile();
    this.#log("every node holds the new root: signing with the new CA, re-issuing all certificates", {
      newRoot: p.newRoot,
    });
    this.#changed();
  }

  #finish(why: string): void {
    this.#save({ ...this.#state, phase: { state: "idle" }, retiring: [] });
    rmSync(join(this.#dir, PREVIOUS_DIR), { recursive: true, force: true });
    this.#writeRootFile();
    this.#log(`old root removed from the trust bundle: ${why}`, {});
    this.#changed();
  }

  /**
   * `ca/root-cert.pem` holds the whole bundle, signer's root first: processes started from it (ztunnels
   * given `--ca-roots`) trust every root in use, and the CA loader takes the first as the signer's root.
   */
  #writeRootFile(): void {
    writeAtomic(join(this.#dir, CaFiles.root), this.rootsPem().join(""), 0o644);
  }

  #save(state: PersistedState): void {
    this.#state = state;
    writeAtomic(join(this.#dir, ROTATION_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  #changed(): void {
    for (const l of this.#listeners) l();
  }

  #now(): number {
    return (this.#opts.clock ?? Date.now)();
  }

  #log(msg: string, fields: Record<string, unknown>): void {
    this.#opts.log?.(msg, fields);
  }
}
