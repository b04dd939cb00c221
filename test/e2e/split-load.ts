/**
 * A load generator run inside a pod's netns (`ip netns exec … node split-load.js …`): keep-alive
 * HTTP/1.1 requests on `--concurrency` connections to the demo app, counting the `version` of each
 * reply per time window. Prints one JSON document when done. Used by the waypoint e2e test to
 * observe the TrafficSplit; not a benchmark.
 */
import http from "node:http";
import { parseArgs } from "node:util";

interface Window {
  t: number;
  counts: Record<string, number>;
  errors: number;
}

const { values } = parseArgs({
  options: {
    host: { type: "string" },
    port: { type: "string", default: "8080" },
    "host-header": { type: "string" },
    requests: { type: "string" },
    "duration-ms": { type: "string" },
    concurrency: { type: "string", default: "8" },
    "window-ms": { type: "string", default: "100" },
  },
});

const host = values.host ?? "127.0.0.1";
const port = Number(values.port);
const limit = values.requests !== undefined ? Number(values.requests) : Number.POSITIVE_INFINITY;
const endAt =
  values["duration-ms"] !== undefined ? Date.now() + Number(values["duration-ms"]) : Number.POSITIVE_INFINITY;
const windowMs = Number(values["window-ms"]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.concurrency) });
const windows = new Map<number, Window>();
const counts: Record<string, number> = {};
const errorSamples: string[] = [];
let started = 0;
let errors = 0;

function record(version: string | undefined, error?: string): void {
  const t = Math.floor(Date.now() / windowMs) * windowMs;
  let w = windows.get(t);
  if (w === undefined) {
    w = { t, counts: {}, errors: 0 };
    windows.set(t, w);
  }
  if (version !== undefined) {
    w.counts[version] = (w.counts[version] ?? 0) + 1;
    counts[version] = (counts[version] ?? 0) + 1;
  } else {
    w.errors += 1;
    errors += 1;
    if (errorSamples.length < 10) errorSamples.push(error ?? "?");
  }
}

function once(): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port,
        path: "/",
        agent,
        headers: values["host-header"] !== undefined ? { host: values["host-header"] } : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) record(undefined, `HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
          else {
            try {
              record((JSON.parse(body) as { version?: string }).version ?? "none");
            } catch {
              record(undefined, `bad body ${body.slice(0, 100)}`);
            }
          }
          resolve();
        });
        res.on("error", (e) => {
          record(undefined, e.message);
          resolve();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => {
      record(undefined, e.message);
      resolve();
    });
    req.end();
  });
}

async function worker(): Promise<void> {
  while (started < limit && Date.now() < endAt) {
    started += 1;
    await once();
  }
}

const t0 = Date.now();
await Promise.all(Array.from({ length: Number(values.concurrency) }, () => worker()));
agent.destroy();
process.stdout.write(
  `${JSON.stringify({
    startedAt: t0,
    elapsedMs: Date.now() - t0,
    total: started,
    counts,
    errors,
    errorSamples,
    windows: [...windows.values()].sort((a, b) => a.t - b.t),
  })}\n`,
);
