/**
 * The clock edge of the HBONE area, injectable so tests can drive idle eviction and pings
 * without waiting. Real timers are unref'd: an idle pool never keeps a process alive.
 */
export type TimerHandle = object;

export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
