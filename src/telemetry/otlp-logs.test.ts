import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { Registry } from "prom-client";
import { AccessLog } from "./access-log.js";
import { readOtelEnv } from "./env.js";
import { TelemetryErrorCode } from "./errors.js";
import { createLogger, MemoryLogDestination } from "./logger.js";
import { otlpAccessLogs } from "./otlp-access-log.js";
import { type LogRecordInput, OtlpLogExporter } from "./otlp-logs.js";

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean };
}
interface LogsRequest {
  resourceLogs: {
    resource: { attributes: KeyValue[] };
    scopeLogs: {
      scope: { name: string; version?: string };
      logRecords: {
        timeUnixNano: string;
        observedTimeUnixNano: string;
        severityNumber: number;
        severityText: string;
        body: { stringValue: string };
        attributes: KeyValue[];
        traceId?: string;
        spanId?: string;
      }[];
    }[];
  }[];
}

/**
 * A real OTLP/HTTP collector on loopback (node:http): records every request; `answer` decides the
 * status of each one, and may hold a request until the test releases it.
 */
class Collector {
  readonly requests: { headers: IncomingMessage["headers"]; body: LogsRequest }[] = [];
  readonly #server: Server;
  readonly #held: (() => void)[] = [];
  answer: (n: number) => number | "hold" = () => 200;
  #waiters: { count: number; resolve: () => void }[] = [];

  private constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async start(): Promise<Collector> {
    const c = new Collector();
    await new Promise<void>((r) => c.#server.listen(0, "127.0.0.1", r));
    return c;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1/logs`;
  }

  /** Resolves once `count` requests have arrived (answered or held). */
  received(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  releaseAll(): void {
    for (const release of this.#held.splice(0)) release();
  }

  records(): LogsRequest["resourceLogs"][number]["scopeLogs"][number]["logRecords"] {
    return this.requests.flatMap((r) =>
      r.body.resourceLogs.flatMap((l) => l.scopeLogs.flatMap((s) => s.logRecords)),
    );
  }

  close(): Promise<void> {
    this.releaseAll();
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = this.requests.length;
      this.requests.push({
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString()) as LogsRequest,
      });
      for (const w of this.#waiters.filter((x) => this.requests.length >= x.count)) w.resolve();
      this.#waiters = this.#waiters.filter((x) => this.requests.length < x.count);
      const status = this.answer(n);
      const reply = (code: number): void => {
        res.writeHead(code, code === 503 || code === 429 ? { "retry-after": "0" } : {}).end("{}");
      };
      if (status === "hold") this.#held.push(() => reply(200));
      else reply(status);
    });
  }
}

const record = (i: number): LogRecordInput => ({
  timeMs: 1_700_000_000_000 + i,
  severity: "info",
  body: "access",
  attributes: { "conn.id": `c${i}` },
});

const attr = (kvs: KeyValue[], key: string): KeyValue["value"] | undefined =>
  kvs.find((kv) => kv.key === key)?.value;

describe("OTLP/HTTP JSON logs export against a real in-test collector", () => {
  const collectors: Collector[] = [];
  const exporters: OtlpLogExporter[] = [];
  const collector = async (): Promise<Collector> => {
    const c = await Collector.start();
    collectors.push(c);
    return c;
  };
  after(async () => {
    for (const c of collectors) c.releaseAll();
    await Promise.all(exporters.map((e) => e.shutdown()));
    await Promise.all(collectors.map((c) => c.close()));
  });

  test("an access record becomes an ExportLogsServiceRequest: resource, scope, severity, time, body, attributes, trace ids", async () => {
    const c = await collector();
    const registry = new Registry();
    const otlp = otlpAccessLogs({
      otel: readOtelEnv({ OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test" }),
      endpoint: c.url.replace("/v1/logs", ""),
      serviceName: "ambit-ztunnel",
      resource: { "k8s.node.name": "node-1" },
      registry,
      version: "0.1.0",
    });
    assert.ok(otlp);
    exporters.push(otlp.exporter);
    const file = new MemoryLogDestination();
    const logger = createLogger({
      name: "ztunnel",
      destination: file,
      also: [otlp.destination],
      base: { node: "node-1" },
    });
    logger.info("not an access record: stays out of OTLP");
    const access = new AccessLog({ logger: logger.child({ component: "access" }) });
    access
      .open({
        "conn.id": "abc",
        direction: "inbound",
        "src.identity": "spiffe://cluster.local/ns/a/sa/b",
        security: "mutual_tls",
        "bytes.sent": 42,
      })
      .finish();
    const traced = access.open({
      "conn.id": "def",
      "dst.workload": "echo",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    traced.finish(Object.assign(new Error("upstream refused"), { code: "ZT_ERR_CONNECT" }));
    await otlp.exporter.flush();

    assert.equal(c.requests.length, 1, "one batch");
    assert.equal(c.requests[0]?.headers["content-type"], "application/json");
    const rl = c.requests[0]?.body.resourceLogs[0];
    assert.ok(rl);
    assert.deepEqual(attr(rl.resource.attributes, "service.name"), { stringValue: "ambit-ztunnel" });
    assert.deepEqual(attr(rl.resource.attributes, "k8s.node.name"), { stringValue: "node-1" });
    assert.deepEqual(attr(rl.resource.attributes, "deployment.environment"), { stringValue: "test" });
    assert.deepEqual(rl.scopeLogs[0]?.scope, { name: "ambit.access", version: "0.1.0" });
    const [first, second] = rl.scopeLogs[0]?.logRecords ?? [];
    assert.ok(first && second, "two access records, the plain log line left out");
    assert.equal(file.records.length, 3, "the log file still gets every line");
    assert.match(first.timeUnixNano, /^\d{19}$/);
    assert.equal(
      BigInt(first.timeUnixNano) / 1_000_000n,
      BigInt(Date.parse(String(file.records[1]?.["time"]))),
    );
    assert.equal(first.severityNumber, 9);
    assert.equal(first.severityText, "INFO");
    assert.deepEqual(first.body, { stringValue: "access" });
    assert.deepEqual(attr(first.attributes, "src.identity"), {
      stringValue: "spiffe://cluster.local/ns/a/sa/b",
    });
    assert.deepEqual(attr(first.attributes, "bytes.sent"), { intValue: "42" });
    assert.deepEqual(attr(first.attributes, "security"), { stringValue: "mutual_tls" });
    assert.equal(first.traceId, undefined);
    assert.equal(second.severityNumber, 13, "an error record is WARN");
    assert.deepEqual(attr(second.attributes, "error.code"), { stringValue: "ZT_ERR_CONNECT" });
    assert.equal(second.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(second.spanId, "b7ad6b7169203331");
    assert.match(await registry.metrics(), /ambit_otlp_log_records_exported_total 2/);
  });

  test("batches: a full batch goes at once, the rest on flush (or after the schedule delay)", async () => {
    const c = await collector();
    const e = new OtlpLogExporter({
      endpoint: c.url,
      resource: { "service.name": "t" },
      maxBatchSize: 3,
      scheduledDelayMs: 600_000,
    });
    exporters.push(e);
    for (let i = 0; i < 7; i++) e.emit(record(i));
    await c.received(2);
    assert.equal(e.queued, 1, "the seventh waits for the timer or a flush");
    await e.flush();
    assert.deepEqual(
      c.requests.map((r) => r.body.resourceLogs[0]?.scopeLogs[0]?.logRecords.length),
      [3, 3, 1],
    );
    assert.deepEqual(
      c.records().map((r) => attr(r.attributes, "conn.id")?.stringValue),
      ["c0", "c1", "c2", "c3", "c4", "c5", "c6"],
      "in order, none twice",
    );

    const timed = new OtlpLogExporter({
      endpoint: c.url,
      resource: { "service.name": "t" },
      scheduledDelayMs: 20,
    });
    exporters.push(timed);
    timed.emit(record(9));
    await c.received(4);
    assert.equal(c.records().at(-1)?.attributes[0]?.value.stringValue, "c9", "sent by the timer alone");
  });

  test("a slow collector: the queue is bounded, overflow is dropped and counted, emit never waits", async () => {
    const c = await collector();
    c.answer = () => "hold";
    const dropped: string[] = [];
    const e = new OtlpLogExporter({
      endpoint: c.url,
      resource: { "service.name": "t" },
      maxQueueSize: 4,
      maxBatchSize: 2,
      scheduledDelayMs: 600_000,
      onDropped: (n, reason) => dropped.push(`${n} ${reason}`),
    });
    exporters.push(e);
    e.emit(record(0));
    e.emit(record(1)); // a full batch: in flight, held by the collector
    await c.received(1);
    for (let i = 2; i < 10; i++) e.emit(record(i)); // 4 fit the queue, 4 are dropped
    assert.equal(e.queued, 4);
    assert.equal(e.dropped, 4);
    assert.deepEqual(dropped, ["1 queue_full", "1 queue_full", "1 queue_full", "1 queue_full"]);
    c.answer = () => 200;
    c.releaseAll();
    await e.flush();
    assert.equal(e.exported, 6);
    assert.deepEqual(
      c.records().map((r) => attr(r.attributes, "conn.id")?.stringValue),
      ["c0", "c1", "c2", "c3", "c4", "c5"],
    );
  });

  test("retries with backoff on 503 and 429 (Retry-After honoured); a 400 is not retried", async () => {
    const c = await collector();
    c.answer = (n) => (n === 0 ? 503 : n === 1 ? 429 : 200);
    const e = new OtlpLogExporter({
      endpoint: c.url,
      resource: { "service.name": "t" },
      scheduledDelayMs: 600_000,
      initialBackoffMs: 5,
      random: () => 0.5,
    });
    exporters.push(e);
    e.emit(record(0));
    await e.flush();
    assert.equal(c.requests.length, 3, "503, 429, then 200");
    assert.equal(e.exported, 1);
    assert.equal(e.dropped, 0);

    const bad = await collector();
    bad.answer = () => 400;
    const reasons: string[] = [];
    const e2 = new OtlpLogExporter({
      endpoint: bad.url,
      resource: { "service.name": "t" },
      initialBackoffMs: 5,
      onDropped: (_, reason) => reasons.push(reason),
    });
    exporters.push(e2);
    e2.emit(record(1));
    await e2.flush();
    assert.equal(bad.requests.length, 1);
    assert.deepEqual(reasons, ["export_failed"]);
  });

  test("a collector that is down: attempts are bounded, the batch is dropped as export_failed", async () => {
    const c = await collector();
    const url = c.url;
    await c.close();
    const e = new OtlpLogExporter({
      endpoint: url,
      resource: { "service.name": "t" },
      maxAttempts: 3,
      initialBackoffMs: 5,
      random: () => 0,
    });
    exporters.push(e);
    e.emit(record(0));
    await e.flush();
    assert.equal(e.dropped, 1);
    assert.equal(e.exported, 0);
  });

  test("configuration follows the OpenTelemetry environment variables", () => {
    assert.equal(
      readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).logsEndpoint,
      "http://collector:4318/v1/logs",
    );
    assert.equal(
      readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://gw/otlp/" }).logsEndpoint,
      "http://gw/otlp/v1/logs",
    );
    assert.equal(
      readOtelEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "http://logs:9999/custom",
      }).logsEndpoint,
      "http://logs:9999/custom",
      "the signal-specific variable is used as is",
    );
    assert.equal(readOtelEnv({}).logsEndpoint, undefined);
    const env = readOtelEnv({
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%20b,x=1",
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "x=2",
      OTEL_BLRP_MAX_QUEUE_SIZE: "100",
    });
    assert.deepEqual(env.headers, { "api-key": "a b", x: "2" });
    assert.equal(env.maxQueueSize, 100);
    for (const bad of [
      { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" },
      { OTEL_BLRP_SCHEDULE_DELAY: "-1" },
      { OTEL_RESOURCE_ATTRIBUTES: "novalue" },
      { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" },
    ]) {
      assert.throws(() => readOtelEnv(bad), { code: TelemetryErrorCode.BadEnv }, JSON.stringify(bad));
    }
    assert.equal(
      readOtelEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }).logsEndpoint,
      undefined,
      "another program's OTEL_* protocol does not matter while ambit exports nothing",
    );
    assert.throws(() => new OtlpLogExporter({ endpoint: "ftp://x/v1/logs", resource: {} }), {
      code: TelemetryErrorCode.BadOtlpConfig,
    });
    assert.equal(
      otlpAccessLogs({
        otel: readOtelEnv({}),
        endpoint: undefined,
        serviceName: "s",
        resource: {},
        registry: new Registry(),
      }),
      undefined,
      "no endpoint, no exporter",
    );
  });
});
