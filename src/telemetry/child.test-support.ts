/**
 * A child process set up as a daemon's telemetry is (`ambit ztunnel`): `body` runs as an ES module
 * with `log`, the batched stdout logger, and `createMeshMetrics` in scope; stdout is a pipe.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const LOGGER = fileURLToPath(new URL("./logger.js", import.meta.url));
const METRICS = fileURLToPath(new URL("./metrics.js", import.meta.url));

export function spawnTelemetryChild(body: string): ChildProcessByStdio<null, Readable, null> {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
import { createMeshMetrics } from ${JSON.stringify(METRICS)};
const log = createLogger({ name: "t" });
${body}`;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}
