/** The user docs list every error code and every metric the code defines (and nothing stale). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createMeshMetrics, TRAFFIC_LABELS } from "../../src/telemetry/metrics.js";
import { ZtunnelErrorCode } from "../../src/ztunnel/errors.js";

// Compiled to dist/test/ztunnel/: the repository root is three levels up.
const root = new URL("../../../", import.meta.url);
const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, root)), "utf8");

test("docs/ztunnel.md lists every ZT_ERR_ code, and only those", () => {
  const doc = read("docs/ztunnel.md");
  const codes = Object.values(ZtunnelErrorCode);
  for (const code of codes) assert.ok(doc.includes(`\`${code}\``), `${code} missing from docs/ztunnel.md`);
  for (const m of doc.matchAll(/`(ZT_ERR_[A-Z_]+)`/g))
    assert.ok((codes as string[]).includes(m[1]!), `${m[1]} is documented but not defined`);
});

test("docs/metrics.md lists every metric and traffic label", async () => {
  const doc = read("docs/metrics.md");
  const metrics = createMeshMetrics();
  for (const m of await metrics.registry.getMetricsAsJSON())
    assert.ok(doc.includes(`\`${m.name}\``), `${m.name} missing`);
  for (const label of TRAFFIC_LABELS) assert.ok(doc.includes(`\`${label}\``), `label ${label} missing`);
});
