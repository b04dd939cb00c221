export interface BackoffOptions {
  /** Delay before the first retry (default 200 ms). */
  readonly initialMs?: number;
  /** Cap (default 15 s): a restarted control plane is found again within this. */
  readonly maxMs?: number;
}

export const DEFAULT_BACKOFF = { initialMs: 200, maxMs: 15_000 } as const;

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of
 * ztunnels that lost the same control plane does not reconnect in lockstep, yet none retries
 * immediately. `attempt` counts failures since the last healthy stream, from 0.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
