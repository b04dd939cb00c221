/** Process-level plumbing shared by the `ambit` commands: stop signals and bounded input. */
import { readFile } from "node:fs/promises";

/** Resolves on the first SIGINT or SIGTERM; daemons then close and exit 0. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * Runs `work` with a signal that the first SIGINT or SIGTERM aborts, after saying what stopping
 * means; `work` then stops and cleans up on its own, and an error it ends with sets exit status
 * 130. A second signal says what is left and exits 130 at once, without waiting for the clean-up.
 */
export async function interruptibly<T>(
  say: { readonly stopping: string; readonly again: string; readonly left: string },
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      process.stderr.write(`${sig} again: leaving now; ${say.left}\n`);
      process.exit(130);
    }
    process.stderr.write(`${sig}: ${say.stopping} (${sig} again to ${say.again})\n`);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await work(stop.signal);
  } catch (e) {
    if (stop.signal.aborted) process.exitCode = 130;
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Reads standard input, refusing more than `maxBytes` rather than buffering a runaway stream. */
export async function readStdin(maxBytes: number, what = "input"): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > maxBytes) throw new Error(`${what} on stdin is larger than ${maxBytes} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The text of a `--request` argument: inline JSON (starts with `{`), `-` for stdin, else a file path.
 * A request is a few hundred bytes; 1 MiB is a generous bound.
 */
export async function readRequestText(arg: string): Promise<string> {
  if (arg.trimStart().startsWith("{")) return arg;
  if (arg === "-") return readStdin(1024 * 1024, "the request");
  return readFile(arg, "utf8");
}
