/**
 * Bearer credentials kept in the data directory, each a 0600 file in a 0700 directory:
 * `admin-token` (the admin API), `nodes/<node>.token` (a ztunnel's xDS/CA credential),
 * `waypoints/<namespace>.<name>.token` (a waypoint's). Tokens never reach logs.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ControlError, ControlErrorCode } from "./errors.js";
import { atomicWrite } from "./file-store.js";

/** Who a token belongs to. */
export type TokenSubject =
  | { kind: "node"; node: string }
  | { kind: "waypoint"; namespace: string; name: string };

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time comparison of two tokens (hashing first evens out the lengths). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export class Credentials {
  readonly #home: string;
  #adminToken = "";
  /** sha256(token) → subject; rebuilt from disk so tokens made by `ambit up` before start count. */
  readonly #subjects = new Map<string, TokenSubject>();

  constructor(home: string) {
    this.#home = home;
  }

  /** Reads (or makes, on first start) the admin token and loads every node/waypoint token. */
  async load(): Promise<void> {
    await mkdir(this.#home, { recursive: true, mode: 0o700 });
    await chmod(this.#home, 0o700);
    const path = join(this.#home, "admin-token");
    try {
      this.#adminToken = (await readFile(path, "utf8")).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(path, e);
    }
    if (this.#adminToken === "") {
      this.#adminToken = newToken();
      await atomicWrite(path, `${this.#adminToken}\n`);
    }
    await this.reload();
  }

  async reload(): Promise<void> {
    this.#subjects.clear();
    for (const [dir, parse] of [
      ["nodes", (base: string): TokenSubject => ({ kind: "node", node: base })],
      [
        "waypoints",
        (base: string): TokenSubject | undefined => {
          const dot = base.indexOf(".");
          return dot > 0
            ? { kind: "waypoint", namespace: base.slice(0, dot), name: base.slice(dot + 1) }
            : undefined;
        },
      ],
    ] as const) {
      let names: string[] = [];
      try {
        names = await readdir(join(this.#home, dir));
      } catch {
        continue;
      }
      for (const n of names) {
        if (!n.endsWith(".token")) continue;
        const subject = parse(n.slice(0, -".token".length));
        if (!subject) continue;
        const token = (await readFile(join(this.#home, dir, n), "utf8")).trim();
        if (token !== "") this.#subjects.set(hash(token), subject);
      }
    }
  }

  get adminToken(): string {
    return this.#adminToken;
  }

  isAdmin(token: string): boolean {
    return this.#adminToken !== "" && tokensEqual(token, this.#adminToken);
  }

  subjectOf(token: string): TokenSubject | undefined {
    return this.#subjects.get(hash(token));
  }

  /** Makes (or returns the existing) token of a node or waypoint; files are 0600. */
  async issue(subject: TokenSubject): Promise<string> {
    const names = subject.kind === "node" ? [subject.node] : [subject.namespace, subject.name];
    for (const n of names) {
      if (!NAME.test(n)) {
        throw new ControlError(
          ControlErrorCode.BAD_REQUEST,
          `${JSON.stringify(n)} is not a valid node/waypoint name`,
        );
      }
    }
    const dir = join(this.#home, subject.kind === "node" ? "nodes" : "waypoints");
    const file = join(
      dir,
      `${subject.kind === "node" ? subject.node : `${subject.namespace}.${subject.name}`}.token`,
    );
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let token = "";
    try {
      token = (await readFile(file, "utf8")).trim();
    } catch {
      // absent: made below
    }
    if (token === "") {
      token = newToken();
      await atomicWrite(file, `${token}\n`);
    }
    this.#subjects.set(hash(token), subject);
    return token;
  }
}

function hash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function ioError(path: string, e: unknown): ControlError {
  return new ControlError(ControlErrorCode.STORE_IO, `cannot read ${path}: ${(e as Error).message}`, {
    cause: e,
  });
}
