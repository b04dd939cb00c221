/**
 * Double HBONE (Istio multi-network): an outer HBONE CONNECT to the east-west gateway whose
 * `:authority` is the remote HBONE endpoint (`ip:15008`), and inside that stream a second, end-to-end
 * mTLS HTTP/2 session with the destination's ztunnel, which carries the inner CONNECT to the workload.
 * The gateway sees only the outer identity and ciphertext; the destination verifies the source's own
 * certificate.
 *
 * Built from two pools: the inner pool's socket factory is an outer-pool CONNECT, so pooling, limits,
 * pings and errors work the same on both layers.
 */
import { formatAuthority } from "./headers.js";
import { HbonePool, type HbonePoolOptions, type PoolConnectParams } from "./pool.js";

export interface DoubleHboneOptions {
  /** The pool that reaches the gateway (usually ztunnel's main pool). */
  outer: HbonePool;
  /** How to reach the gateway: its address (port 15008), the identities it may present, our credential. */
  gateway: Omit<PoolConnectParams, "authority">;
  /** Options of the inner pool (sessions through the gateway are long-lived: same defaults). */
  inner?: Omit<HbonePoolOptions, "connect">;
}

/**
 * A pool whose sessions run through the gateway. Use it like any pool: `dstAddress` is the remote
 * HBONE endpoint (`ip:15008` on the other network), `expectedIdentities` the remote workload's.
 */
export function createDoubleHbonePool(options: DoubleHboneOptions): HbonePool {
  return new HbonePool({
    ...options.inner,
    connect: (remote) => options.outer.connect({ ...options.gateway, authority: formatAuthority(remote) }),
  });
}
