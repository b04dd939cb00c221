/**
 * Endpoint choice inside one backend (service or subset), as a pure, stateful object: the waypoint
 * asks `pick()` for an endpoint and reports `release()` when the request ends. Policies follow Envoy's
 * as Istio configures them: LEAST_REQUEST is the power of two choices over active-request counts
 * (Istio's default since 1.14), ROUND_ROBIN rotates, RANDOM draws uniformly.
 */
import type { Rand } from "./weighted.js";

export type LoadBalancerPolicy = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM";

export interface Endpoint {
  /** `ip:port` or any stable key. */
  readonly address: string;
}

export interface EndpointState {
  readonly address: string;
  readonly active: number;
}

export class LoadBalancer {
  readonly policy: LoadBalancerPolicy;
  #endpoints: Endpoint[];
  #active = new Map<string, number>();
  #next = 0;
  #rand: Rand;

  constructor(policy: LoadBalancerPolicy, endpoints: readonly Endpoint[], rand: Rand) {
    this.policy = policy;
    this.#endpoints = [...endpoints];
    this.#rand = rand;
  }

  /** Replaces the endpoint set (an xDS update); active counts of surviving endpoints are kept. */
  update(endpoints: readonly Endpoint[]): void {
    this.#endpoints = [...endpoints];
    const keep = new Set(endpoints.map((e) => e.address));
    for (const k of [...this.#active.keys()]) if (!keep.has(k)) this.#active.delete(k);
    if (this.#next >= this.#endpoints.length) this.#next = 0;
  }

  /** Chooses an endpoint and counts it as active; null when there is none ("no healthy upstream"). */
  pick(): Endpoint | null {
    const n = this.#endpoints.length;
    if (n === 0) return null;
    let chosen: Endpoint;
    switch (this.policy) {
      case "ROUND_ROBIN":
        chosen = this.#endpoints[this.#next % n] as Endpoint;
        this.#next = (this.#next + 1) % n;
        break;
      case "RANDOM":
        chosen = this.#endpoints[Math.min(n - 1, Math.floor(this.#rand() * n))] as Endpoint;
        break;
      case "LEAST_REQUEST": {
        // Envoy's default choice_count is 2: sample two endpoints, keep the one with fewer active requests.
        const a = this.#endpoints[Math.min(n - 1, Math.floor(this.#rand() * n))] as Endpoint;
        const b = this.#endpoints[Math.min(n - 1, Math.floor(this.#rand() * n))] as Endpoint;
        chosen = this.activeOf(b.address) < this.activeOf(a.address) ? b : a;
        break;
      }
    }
    this.#active.set(chosen.address, this.activeOf(chosen.address) + 1);
    return chosen;
  }

  /** The request on `address` finished. */
  release(address: string): void {
    const n = this.activeOf(address);
    if (n <= 1) this.#active.delete(address);
    else this.#active.set(address, n - 1);
  }

  activeOf(address: string): number {
    return this.#active.get(address) ?? 0;
  }

  snapshot(): EndpointState[] {
    return this.#endpoints.map((e) => ({ address: e.address, active: this.activeOf(e.address) }));
  }
}

/** Maps an Istio `simple` load-balancer name to the policy the waypoint runs. */
export function policyOf(simple: string | null | undefined): LoadBalancerPolicy {
  switch (simple) {
    case "ROUND_ROBIN":
      return "ROUND_ROBIN";
    case "RANDOM":
      return "RANDOM";
    default:
      // UNSPECIFIED, LEAST_CONN (deprecated alias) and LEAST_REQUEST; PASSTHROUGH and consistent hashing
      // need connection-level information the router does not have and fall back to the default.
      return "LEAST_REQUEST";
  }
}
