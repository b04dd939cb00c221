/**
 * A real Prometheus server (Debian's `prometheus`) for tests: a generated `prometheus.yml`, a
 * temporary TSDB, the web API on a free loopback port, and PromQL over its HTTP API. `stop()` kills
 * the process and removes the data directory.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type RequestOptions, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PROMETHEUS = "/usr/bin/prometheus";
export const PROMTOOL = "/usr/bin/promtool";

export interface ScrapeJob {
  readonly job: string;
  readonly targets: readonly { readonly address: string; readonly labels?: Record<string, string> }[];
  /** A file holding a bearer token (the control plane's admin API needs one). */
  readonly credentialsFile?: string;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = a !== null && typeof a !== "string" ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** prometheus.yml as JSON, which is valid YAML: no YAML writer needed. */
export function prometheusConfig(jobs: readonly ScrapeJob[], intervalSeconds: number): string {
  return JSON.stringify(
    {
      global: { scrape_interval: `${intervalSeconds}s`, scrape_timeout: `${intervalSeconds}s` },
      scrape_configs: jobs.map((j) => ({
        job_name: j.job,
        metrics_path: "/metrics",
        ...(j.credentialsFile !== undefined
          ? { authorization: { type: "Bearer", credentials_file: j.credentialsFile } }
          : {}),
        static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      })),
    },
    null,
    2,
  );
}

export class PrometheusServer {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #log = "";

  private constructor(port: number, child: ChildProcess, dir: string) {
    this.port = port;
    this.#child = child;
    this.#dir = dir;
    child.stderr?.on("data", (b: Buffer) => {
      this.#log = (this.#log + b.toString()).slice(-8000);
    });
    child.stdout?.resume();
  }

  static async start(jobs: readonly ScrapeJob[], intervalSeconds = 1): Promise<PrometheusServer> {
    const dir = await mkdtemp(join(tmpdir(), "ambit-prom-"));
    const config = join(dir, "prometheus.yml");
    await writeFile(config, prometheusConfig(jobs, intervalSeconds));
    const check = await run(PROMTOOL, ["check", "config", config]);
    if (check.code !== 0) throw new Error(`promtool check config failed:\n${check.output}`);
    const port = await freePort();
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.on("error", () => {});
    const p = new PrometheusServer(port, child, dir);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${p.log}`);
      const ready = await p.get("/-/ready").catch(() => undefined);
      if (ready?.status === 200) return p;
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(`prometheus not ready on :${port} within 60 s:\n${p.log}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get log(): string {
    return this.#log;
  }

  /** An instant query; throws on a PromQL error. */
  async query(promql: string): Promise<PromSample[]> {
    const r = await this.get(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = JSON.parse(r.body) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== "success" || body.data === undefined)
      throw new Error(`query ${promql} failed: ${body.error ?? r.body}`);
    return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  get(path: string): Promise<{ status: number; body: string }> {
    return httpGet({ host: "127.0.0.1", port: this.port, path });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((r) => this.#child.once("exit", r));
      this.#child.kill("SIGTERM");
      const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** `promtool check metrics` over a scraped body: its exit code and complaints (one per line). */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; problems: string[] }> {
  const r = await run(PROMTOOL, ["check", "metrics"], text);
  return {
    code: r.code,
    problems: r.output
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0),
  };
}

function run(
  file: string,
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(stdin ?? "");
  });
}

/** A GET (TCP or `socketPath`) that resolves with any status; 10 s timeout. */
export function httpGet(options: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ timeout: 10_000, ...options, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${options.path ?? "/"} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
