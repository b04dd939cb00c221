/** Stopping a bench run part-way (the CLI's Ctrl-C): each step raced against an AbortSignal. */
import { interrupted } from "./errors.js";

/**
 * Races each step of a run against `signal`: once it aborts, the step awaited rejects with
 * `interrupted()` at once, so the caller's clean-up runs while the abandoned step winds down.
 */
export function interruptible(signal: AbortSignal | undefined): {
  step<T>(work: Promise<T>): Promise<T>;
  dispose(): void;
} {
  if (signal === undefined) return { step: (work) => work, dispose: () => {} };
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(interrupted());
  });
  // Nobody may be waiting at the moment it rejects.
  aborted.catch(() => {});
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    step<T>(work: Promise<T>): Promise<T> {
      // An abandoned step that fails later (its cluster is gone) is no one's error.
      work.catch(() => {});
      if (signal.aborted) return Promise.reject(interrupted());
      return Promise.race([work, aborted]);
    },
    dispose: () => signal.removeEventListener("abort", onAbort),
  };
}
