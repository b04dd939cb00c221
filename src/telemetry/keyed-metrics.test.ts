import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { KeyedCounter, KeyedHistogram } from "./keyed-metrics.js";

const NAMES = ["reporter", "response_code", "destination_app"] as const;
type Name = (typeof NAMES)[number];
const BUCKETS = [0.5, 1, 5, 10, 250];

const observations: { labels: Record<Name, string>; value: number }[] = [
  { labels: { reporter: "waypoint", response_code: "200", destination_app: "reviews" }, value: 0.3 },
  { labels: { reporter: "waypoint", response_code: "200", destination_app: "reviews" }, value: 7 },
  { labels: { reporter: "waypoint", response_code: "503", destination_app: "reviews" }, value: 1000 },
  { labels: { reporter: "waypoint", response_code: "200", destination_app: 'ra"tings\\' }, value: 5 },
];

test("keyed counter and histogram expose exactly what prom-client's would, default labels included", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  for (const r of [theirs, ours]) r.setDefaultLabels({ component: "waypoint" });
  const c = new Counter({ name: "x_requests_total", help: "h", labelNames: NAMES, registers: [theirs] });
  const h = new Histogram({
    name: "x_duration",
    help: "h",
    labelNames: NAMES,
    buckets: BUCKETS,
    registers: [theirs],
  });
  const kc = new KeyedCounter({ name: "x_requests_total", help: "h", labelNames: NAMES, registers: [ours] });
  const kh = new KeyedHistogram({
    name: "x_duration",
    help: "h",
    labelNames: NAMES,
    buckets: BUCKETS,
    registers: [ours],
  });
  for (const o of observations) {
    c.inc(o.labels);
    h.observe(o.labels, o.value);
    const key = Object.values(o.labels).join("|");
    kc.inc(key, () => o.labels);
    kh.observe(key, () => o.labels, o.value);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  ours.resetMetrics();
  theirs.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test("labels are built once per key; keys whose labels come out equal share one series", async () => {
  const r = new Registry();
  const kc = new KeyedCounter({ name: "y_total", help: "h", labelNames: NAMES, registers: [r] });
  let built = 0;
  const labels = (): Record<Name, string> => {
    built += 1;
    return { reporter: "waypoint", response_code: "200", destination_app: "unknown" };
  };
  for (let i = 0; i < 100; i++) kc.inc("a", labels);
  kc.inc("b", labels, 5); // another key, same label set
  assert.equal(built, 2);
  const text = await r.metrics();
  assert.equal(text.match(/^y_total\{/gm)?.length, 1, text);
  assert.match(text, /^y_total\{reporter="waypoint",response_code="200",destination_app="unknown"\} 105$/m);
});

test("a label the metric does not have, a negative increment or a non-finite value is refused", () => {
  const r = new Registry();
  const kc = new KeyedCounter({ name: "z_total", help: "h", labelNames: NAMES, registers: [r] });
  const kh = new KeyedHistogram({
    name: "z_ms",
    help: "h",
    labelNames: NAMES,
    buckets: BUCKETS,
    registers: [r],
  });
  assert.throws(() => kc.inc("k", () => ({ nope: "1" }) as never), /label "nope"/);
  assert.throws(() => kc.inc("k2", () => observations[0]?.labels as never, -1), /counter increment -1/);
  assert.throws(
    () => kh.observe("k3", () => observations[0]?.labels as never, Number.NaN),
    /histogram value NaN/,
  );
});
