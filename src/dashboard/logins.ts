/**
 * Browser logins of the dashboard. The admin API (bearer token) mints a one-time code; the page
 * at `/login?code=…` trades it for a session cookie (HttpOnly, SameSite=Strict), so the admin
 * token never travels in a URL, a browser history or a log. Codes live two minutes and work once.
 */
import { randomBytes } from "node:crypto";

const CODE_TTL_MS = 120_000;
const SESSION_TTL_MS = 12 * 3600_000;
/** Bounds memory if something mints codes in a loop; the oldest are dropped first. */
const MAX_ENTRIES = 1000;

export const SESSION_COOKIE = "ambit_dashboard";

export interface LoginCode {
  readonly code: string;
  readonly expiresAt: number;
}

export class DashboardLogins {
  readonly #now: () => number;
  readonly #codes = new Map<string, number>();
  readonly #sessions = new Map<string, number>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  createCode(): LoginCode {
    const code = randomBytes(24).toString("base64url");
    const expiresAt = this.#now() + CODE_TTL_MS;
    bounded(this.#codes).set(code, expiresAt);
    return { code, expiresAt };
  }

  /** A new session id for a valid unused code, else undefined; the code is spent either way. */
  redeem(code: string): string | undefined {
    const expiresAt = this.#codes.get(code);
    this.#codes.delete(code);
    if (expiresAt === undefined || expiresAt < this.#now()) return undefined;
    const session = randomBytes(32).toString("base64url");
    bounded(this.#sessions).set(session, this.#now() + SESSION_TTL_MS);
    return session;
  }

  /** Whether the request's `cookie` header carries a live session. */
  isSession(cookieHeader: string | undefined): boolean {
    const value = cookieOf(cookieHeader, SESSION_COOKIE);
    if (value === undefined) return false;
    const expiresAt = this.#sessions.get(value);
    if (expiresAt === undefined) return false;
    if (expiresAt < this.#now()) {
      this.#sessions.delete(value);
      return false;
    }
    return true;
  }
}

function bounded<V>(m: Map<string, V>): Map<string, V> {
  while (m.size >= MAX_ENTRIES) {
    const oldest = m.keys().next().value;
    if (oldest === undefined) break;
    m.delete(oldest);
  }
  return m;
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
