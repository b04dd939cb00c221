/**
 * Process loggers (pino, JSON lines). Daemons create one root logger and hand children to their
 * components; the level can be changed at run time (the ztunnel admin `/logging?level=`).
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./env.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  readonly name: string;
  readonly level?: LogLevel;
  /** Where JSON lines go; stdout by default. Tests pass a collecting stream. */
  readonly destination?: DestinationStream;
  readonly base?: Record<string, unknown>;
  /** Further destinations that receive every line at `info` and above (the OTLP access-log bridge). */
  readonly also?: readonly DestinationStream[];
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? "info",
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Keys and tokens must never reach logs (DESIGN §10), whatever a caller passes by mistake.
      redact: {
        paths: ["*.privateKeyPem", "*.keyPem", "*.token", "privateKeyPem", "keyPem", "token"],
        censor: "[redacted]",
      },
    },
    destinationOf(options),
  );
}

/**
 * stdout in batches: up to 4 KiB per write(2), flushed at most 100 ms after the first line of a
 * batch (Envoy flushes access logs on an interval too). A write per line was a sixth of a ztunnel's
 * CPU per new connection; pino flushes what is left when the process exits.
 *
 * The flush timer is armed by a write, not left running: an idle daemon is not woken ten times a
 * second to flush nothing (each empty flush is a thread-pool `write(2)` and a wake-up of the loop).
 * A flush that finds a write in flight does nothing, and lines queued behind that write stay
 * buffered when it completes (below the batch size): the bytes handed over and the bytes written
 * are counted, and a write that completes with some still buffered arms the timer again. (Not
 * sonic-boom's `flush(cb)`: its callback comes after an `fsync`, on every flush of a log file.)
 */
const FLUSH_INTERVAL_MS = 100;

function stdoutDestination(): DestinationStream {
  const d = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  let timer: NodeJS.Timeout | undefined;
  let buffered = 0;
  const flushSoon = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      try {
        d.flush();
      } catch {
        // Closed at exit: the exit flush has written what was left.
      }
    }, FLUSH_INTERVAL_MS);
    timer.unref();
  };
  d.on("write", (n: number) => {
    buffered -= n;
  });
  d.on("drain", () => {
    if (buffered > 0) flushSoon();
  });
  return {
    write(line: string): void {
      buffered += Buffer.byteLength(line);
      d.write(line);
      flushSoon();
    },
    // `logger.flush(cb)` at shutdown.
    flush(done?: (err?: Error) => void): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      d.flush(done);
    },
  } as DestinationStream;
}

function destinationOf(options: LoggerOptions): DestinationStream {
  const main = options.destination ?? stdoutDestination();
  if (options.also === undefined || options.also.length === 0) return main;
  // multistream filters per stream: the main one must see every level the logger lets through.
  return pino.multistream([
    { stream: main, level: options.level ?? "info" },
    ...options.also.map((stream) => ({ stream, level: "info" as const })),
  ]);
}

/** A destination that keeps parsed records in memory, for tests and `ambit … --dry-run` style tools. */
export class MemoryLogDestination implements DestinationStream {
  readonly records: Record<string, unknown>[] = [];
  write(line: string): void {
    for (const part of line.split("\n")) {
      if (part.trim().length > 0) this.records.push(JSON.parse(part) as Record<string, unknown>);
    }
  }
}
