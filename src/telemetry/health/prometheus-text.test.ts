import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Counter, Registry } from "prom-client";
import { isAmbitError } from "../../errors.js";
import { createMeshMetrics, trafficLabels } from "../metrics.js";
import { HealthErrorCode } from "./errors.js";
import { parsePrometheusText, sumOf } from "./prometheus-text.js";
import { ztunnelCounters } from "./ztunnel-counters.js";

describe("parsePrometheusText", () => {
  test("reads samples, labels with escapes, special values and timestamps; skips comments", () => {
    const text = [
      "# HELP a_total Things.",
      "# TYPE a_total counter",
      'a_total{x="1",y="q\\"uo\\\\te\\nnl"} 3',
      "b 1.5e3 1700000000000",
      "c{} +Inf",
      "d NaN",
      'e{ x = "sp" , } -2',
      "",
    ].join("\n");
    const s = parsePrometheusText(text);
    assert.deepEqual(
      s.map((x) => [x.name, x.labels, x.value]),
      [
        ["a_total", { x: "1", y: 'q"uo\\te\nnl' }, 3],
        ["b", {}, 1500],
        ["c", {}, Number.POSITIVE_INFINITY],
        ["d", {}, Number.NaN],
        ["e", { x: "sp" }, -2],
      ],
    );
  });

  test("sumOf adds the matching series and ignores non-finite values", () => {
    const s = parsePrometheusText(
      'h{direction="outbound",reason="a"} 2\nh{direction="outbound",reason="b"} 3\nh{direction="inbound"} 7\nh{direction="outbound"} NaN\n',
    );
    assert.equal(sumOf(s, "h", { direction: "outbound" }), 5);
    assert.equal(sumOf(s, "h"), 12);
    assert.equal(sumOf(s, "missing"), 0);
  });

  const bad: [string, string][] = [
    ["no value", "a_total\n"],
    ["not a number", "a_total abc\n"],
    ["unterminated label", 'a{x="1} 2\n'],
    ["unquoted label", "a{x=1} 2\n"],
    ["bad escape", 'a{x="\\t"} 2\n'],
    ["bad timestamp", "a 1 12.5\n"],
    ["html", "<html><body>hi</body></html>\n"],
    ["extra field", "a 1 2 3\n"],
  ];
  for (const [name, text] of bad) {
    test(`refuses ${name} with HEALTH_ERR_BAD_EXPOSITION`, () => {
      assert.throws(
        () => parsePrometheusText(text),
        (e: unknown) => isAmbitError(e, HealthErrorCode.BadExposition),
      );
    });
  }

  test("limits: samples and body size are bounded", () => {
    const limits = { maxBytes: 1000, maxSamples: 2, maxLabelsPerSample: 1 };
    assert.throws(() => parsePrometheusText("a 1\nb 2\nc 3\n", limits), /more than 2 samples/);
    assert.throws(() => parsePrometheusText('a{x="1",y="2"} 1\n', limits), /more than 1 labels/);
    assert.throws(() => parsePrometheusText("a 1\n".repeat(400), limits), /over 1000 bytes/);
  });

  test("round trip: whatever prom-client writes, the parser reads back (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.integer({ min: 0, max: 1_000_000 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (series) => {
          const registry = new Registry();
          const c = new Counter({ name: "t_total", help: "t", labelNames: ["v"], registers: [registry] });
          const expected = new Map<string, number>();
          for (const [v, n] of series) {
            c.inc({ v }, n);
            expected.set(v, (expected.get(v) ?? 0) + n);
          }
          const parsed = parsePrometheusText(await registry.metrics());
          for (const [v, n] of expected) assert.equal(sumOf(parsed, "t_total", { v }), n);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("ztunnelCounters reads a real ztunnel registry's exposition", async () => {
    const m = createMeshMetrics({ defaultLabels: { component: "ztunnel", node: "node-1" } });
    m.poolHits.inc(9);
    m.poolMisses.inc(3);
    m.handshakeErrors.inc({ direction: "outbound", reason: "HBONE_ERR_HANDSHAKE" }, 2);
    m.handshakeErrors.inc({ direction: "inbound", reason: "HBONE_ERR_HANDSHAKE" }, 5);
    m.tcpOpened.inc(trafficLabels({ reporter: "destination" }), 4);
    m.tcpOpened.inc(trafficLabels({ reporter: "source" }), 6);
    const c = ztunnelCounters(parsePrometheusText(await m.registry.metrics()));
    assert.deepEqual(c, { poolHits: 9, poolMisses: 3, handshakeErrors: 2, inboundConnections: 4 });
  });
});
