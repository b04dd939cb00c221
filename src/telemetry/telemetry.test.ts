import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { test } from "node:test";
import { AccessLog } from "./access-log.js";
import { readEnv } from "./env.js";
import { TelemetryErrorCode } from "./errors.js";
import { createLogger, MemoryLogDestination } from "./logger.js";
import { createMeshMetrics, TRAFFIC_LABELS, trafficLabels } from "./metrics.js";
import { tracer, watchTrace } from "./trace.js";

test("trafficLabels fills every Istio label, with Istio's defaults", () => {
  const l = trafficLabels({ reporter: "source", source_workload: "a", destination_app: "" });
  assert.deepEqual(Object.keys(l).sort(), [...TRAFFIC_LABELS].sort());
  assert.equal(l.reporter, "source");
  assert.equal(l.source_workload, "a");
  assert.equal(l.destination_app, "unknown");
  assert.equal(l.request_protocol, "tcp");
  assert.equal(l.connection_security_policy, "none");
});

test("metrics expose Istio names and labels in the Prometheus text format", async () => {
  const m = createMeshMetrics();
  const labels = trafficLabels({ reporter: "destination", connection_security_policy: "mutual_tls" });
  m.tcpOpened.inc(labels);
  m.tcpSentBytes.inc(labels, 42);
  m.requests.inc("http-200", () => ({
    ...labels,
    request_protocol: "http",
    response_code: "200",
    grpc_response_status: "",
  }));
  const text = await m.registry.metrics();
  assert.match(
    text,
    /istio_tcp_connections_opened_total\{reporter="destination",.*connection_security_policy="mutual_tls"\} 1/,
  );
  assert.match(text, /istio_tcp_sent_bytes_total\{.*\} 42/);
  assert.match(text, /istio_requests_total\{.*response_code="200"/);
  for (const name of [
    "istio_request_duration_milliseconds",
    "istio_request_bytes",
    "istio_response_bytes",
    "ambit_hbone_pool_hits_total",
  ]) {
    assert.ok(text.includes(name), name);
  }
  // Two registries in one process must not collide (one per daemon in in-process tests).
  createMeshMetrics();
});

test("an access record is written exactly once, with duration and error code", () => {
  const dest = new MemoryLogDestination();
  let t = 100;
  const log = new AccessLog({ logger: createLogger({ name: "t", destination: dest }), now: () => t });
  const rec = log.open({ "conn.id": "c1", direction: "outbound", "src.addr": "10.0.0.1:4000" });
  rec.set({ "bytes.sent": 5 });
  t = 112.5;
  const err = Object.assign(new Error("upstream refused"), { code: "ZT_ERR_UPSTREAM" });
  rec.finish(err);
  rec.finish();
  assert.equal(dest.records.length, 1);
  const r = dest.records[0]!;
  assert.equal(r["conn.id"], "c1");
  assert.equal(r["bytes.sent"], 5);
  assert.equal(r["duration_ms"], 12.5);
  assert.equal(r["reason"], "upstream refused");
  assert.equal(r["error.code"], "ZT_ERR_UPSTREAM");
});

test("logger redacts keys and tokens", () => {
  const dest = new MemoryLogDestination();
  createLogger({ name: "t", destination: dest }).info({ token: "s3cret", cred: { keyPem: "KEY" } }, "x");
  assert.doesNotMatch(JSON.stringify(dest.records), /s3cret|KEY/);
});

test("tracing costs nothing when off and delivers events when watched", () => {
  const t = tracer("telemetry-test");
  let built = 0;
  const fields = (): Record<string, unknown> => {
    built++;
    return { n: built };
  };
  t.trace("off", fields);
  assert.equal(built, 0);
  assert.equal(t.enabled, false);
  const seen: unknown[] = [];
  const stop = watchTrace(["telemetry-test"], (e) => seen.push(e.fields));
  t.trace("on", fields);
  stop();
  t.trace("off again", fields);
  assert.deepEqual(seen, [{ n: 1 }]);
});

test("AMBIT_TRACE=pool also receives the HBONE library's pool channel", () => {
  const seen: string[] = [];
  const stop = watchTrace(["pool"], (e) => seen.push(`${e.component}:${e.msg}`));
  diagnostics_channel.channel("ambit:hbone:pool").publish({ event: "session-open", key: "k" });
  stop();
  diagnostics_channel.channel("ambit:hbone:pool").publish({ event: "ignored" });
  assert.deepEqual(seen, ["pool:session-open"]);
});

test("readEnv parses AMBIT_TRACE and rejects bad values with a code", () => {
  assert.deepEqual(readEnv({ AMBIT_TRACE: "pool, xds" }).trace, ["pool", "xds"]);
  assert.equal(readEnv({}).logLevel, "info");
  assert.throws(() => readEnv({ AMBIT_LOG_LEVEL: "loud" }), { code: TelemetryErrorCode.BadLogLevel });
  assert.throws(() => readEnv({ AMBIT_TRACE: "po ol" }), { code: TelemetryErrorCode.BadEnv });
});
