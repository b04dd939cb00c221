/** What every connection handler of one ztunnel shares. Built once by `Ztunnel.start`. */
import type { Duplex } from "node:stream";
import type { HbonePool } from "../hbone/pool.js";
import type { CertStore } from "../identity/cert-store.js";
import { SpiffeId } from "../identity/spiffe.js";
import type { AccessLog } from "../telemetry/access-log.js";
import type { Logger } from "../telemetry/logger.js";
import type { MeshMetrics } from "../telemetry/metrics.js";
import type { L4Authorizer } from "./authz.js";
import type { ZtunnelConfig } from "./config.js";
import type { ConnectionTable } from "./connections.js";
import type { ZtunnelState } from "./state.js";

export interface ProxyContext {
  readonly config: ZtunnelConfig;
  readonly state: ZtunnelState;
  readonly authorizer: L4Authorizer;
  readonly certs: CertStore;
  readonly pool: HbonePool;
  readonly metrics: MeshMetrics;
  readonly accessLog: AccessLog;
  /** The same object as `accessLog`: its open records are the live connections (`/connections`). */
  readonly connections: ConnectionTable;
  readonly logger: Logger;
  /** Opens a plain TCP connection; `origin` names the pod netns it must leave from (in-pod mode). */
  readonly connectUpstream: (target: { host: string; port: number }, origin?: string) => Promise<Duplex>;
  /** The netns of a pod served in-pod, by one of its IPs; undefined in node mode. */
  readonly podNetns: (ip: string) => string | undefined;
  /** Sockets and streams of live connections, destroyed on shutdown. */
  readonly live: Set<Duplex>;
}

const parsed = new Map<string, SpiffeId>();

/** SpiffeId of a state identity string, memoised (the state only holds validated identities). */
export function spiffe(identity: string): SpiffeId {
  let id = parsed.get(identity);
  if (id === undefined) {
    id = SpiffeId.parse(identity);
    if (parsed.size > 50_000) parsed.clear();
    parsed.set(identity, id);
  }
  return id;
}

/** Tracks a stream in `live` until it closes. */
export function track(ctx: ProxyContext, s: Duplex): void {
  ctx.live.add(s);
  s.on("close", () => ctx.live.delete(s));
}
