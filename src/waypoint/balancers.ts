/**
 * One `LoadBalancer` (src/routing/load-balancer.ts) per backend and policy, fed with the backend's
 * current endpoints at every pick. Least-request counts stay with an endpoint across address-book
 * updates; `exclude` is Envoy's `previous_hosts` retry predicate, which Istio sets on every retry
 * policy: a retry prefers an endpoint not tried yet, re-drawing at most 5 times
 * (`host_selection_retry_max_attempts`) before accepting a repeat.
 */
import { type LoadBalancer as Lb, LoadBalancer, policyOf, type Rand } from "../routing/index.js";
import type { UpstreamChoice } from "./upstream.js";

const HOST_SELECTION_ATTEMPTS = 5;

/** A picked endpoint; `release()` when its request is over (least-request bookkeeping). */
export interface Lease {
  readonly choice: UpstreamChoice;
  release(): void;
}

function addressOf(c: UpstreamChoice): string {
  return `${c.endpoint.ip}:${c.port}`;
}

export class Balancers {
  readonly #rand: Rand;
  readonly #byBackend = new Map<string, { lb: Lb; addresses: string }>();

  constructor(rand: Rand) {
    this.#rand = rand;
  }

  pick(
    key: string,
    simple: string | null | undefined,
    candidates: readonly UpstreamChoice[],
    exclude: ReadonlySet<string> = new Set(),
  ): Lease | null {
    const policy = policyOf(simple);
    const k = `${key}|${policy}`;
    const byAddress = new Map(candidates.map((c) => [addressOf(c), c]));
    const addresses = [...byAddress.keys()].join(",");
    let entry = this.#byBackend.get(k);
    if (entry === undefined) {
      entry = {
        lb: new LoadBalancer(
          policy,
          [...byAddress.keys()].map((address) => ({ address })),
          this.#rand,
        ),
        addresses,
      };
      this.#byBackend.set(k, entry);
    } else if (entry.addresses !== addresses) {
      entry.lb.update([...byAddress.keys()].map((address) => ({ address })));
      entry.addresses = addresses;
    }
    const lb = entry.lb;
    let picked = lb.pick();
    for (let i = 1; picked !== null && exclude.has(picked.address) && i < HOST_SELECTION_ATTEMPTS; i++) {
      lb.release(picked.address);
      picked = lb.pick();
    }
    if (picked === null) return null;
    const choice = byAddress.get(picked.address);
    if (choice === undefined) return null;
    const address = picked.address;
    let released = false;
    return {
      choice,
      release: () => {
        if (released) return;
        released = true;
        lb.release(address);
      },
    };
  }

  /** Active requests per endpoint address of a backend (for tests and the admin dump). */
  active(key: string, simple: string | null | undefined): Record<string, number> {
    const lb = this.#byBackend.get(`${key}|${policyOf(simple)}`)?.lb;
    const out: Record<string, number> = {};
    for (const s of lb?.snapshot() ?? []) out[s.address] = s.active;
    return out;
  }
}

export { addressOf as endpointAddress };
