/**
 * deploy/grafana/ambit-istio.json: a Grafana dashboard a user imports unchanged. The JSON must be a
 * current dashboard (schemaVersion ≥ 36) with a Prometheus data-source variable used by every panel;
 * every PromQL expression must parse (promtool checks them as recording rules, Grafana's variables
 * substituted) and use only metrics that docs/metrics.md lists.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../e2e/cluster.js";
import { PROMTOOL } from "./prometheus-server.js";

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

/** Grafana's reference to the data-source variable (a literal `${…}`, not a JS template). */
const DATASOURCE_REF = ["$", "{datasource}"].join("");

const load = async (): Promise<Dashboard> =>
  JSON.parse(await readFile(join(ROOT, "deploy", "grafana", "ambit-istio.json"), "utf8")) as Dashboard;

/** Grafana's variables replaced by values Prometheus accepts, so the expression can be parsed. */
function substitute(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$reporter", "waypoint")
    .replaceAll("$service", ".*");
}

test("the Grafana dashboard is a current dashboard with a Prometheus data-source variable on every panel", async () => {
  const d = await load();
  assert.ok(d.schemaVersion >= 36, `schemaVersion ${d.schemaVersion}`);
  assert.equal(d.uid, "ambit-istio");
  const ds = d.templating.list.find((v) => v.type === "datasource");
  assert.equal(ds?.name, "datasource");
  assert.equal(ds?.query, "prometheus");
  assert.deepEqual(
    d.panels.map((p) => p.id),
    [...new Set(d.panels.map((p) => p.id))],
    "panel ids are unique",
  );
  for (const p of d.panels) {
    assert.equal(p.datasource?.uid, DATASOURCE_REF, `panel "${p.title}" uses the variable`);
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, DATASOURCE_REF);
  }
  const titles = d.panels.map((p) => p.title.toLowerCase()).join(" | ");
  for (const want of [
    "request rate",
    "success rate",
    "p50 / p90 / p99",
    "tcp bytes",
    "mtls",
    "health score",
  ]) {
    assert.ok(titles.includes(want), `a panel about ${want}: ${titles}`);
  }
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
  for (const q of ["0.5", "0.9", "0.99"]) assert.match(exprs, new RegExp(`histogram_quantile\\(${q},`));
});

test("every PromQL expression of the dashboard parses and uses only metrics listed in docs/metrics.md", async () => {
  const d = await load();
  const doc = await readFile(join(ROOT, "docs", "metrics.md"), "utf8");
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => substitute(t.expr)));
  assert.ok(exprs.length >= 9, `${exprs.length} expressions`);

  const used = new Set<string>();
  for (const e of exprs) {
    for (const m of e.matchAll(/\b((?:istio|ambit)_[a-z0-9_]+)/g)) {
      if (m[1] !== undefined) used.add(m[1].replace(/_(bucket|sum|count)$/, ""));
    }
  }
  assert.ok(used.has("istio_requests_total") && used.has("ambit_mesh_health_score"));
  for (const name of used) assert.ok(doc.includes(`\`${name}\``), `${name} is in docs/metrics.md`);

  // promtool parses each expression as a recording rule (JSON is valid YAML).
  const dir = await mkdtemp(join(tmpdir(), "ambit-grafana-"));
  try {
    const rules = join(dir, "rules.yml");
    await writeFile(
      rules,
      JSON.stringify({
        groups: [
          { name: "dashboard", rules: exprs.map((expr, i) => ({ record: `dashboard:expr${i}`, expr })) },
        ],
      }),
    );
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile(PROMTOOL, ["check", "rules", rules], (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number(err.code ?? 1), text: stdout + stderr }),
      );
    });
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, new RegExp(`SUCCESS: ${exprs.length} rules found`));

    // The check can fail: a broken expression is refused.
    await writeFile(
      rules,
      JSON.stringify({ groups: [{ name: "g", rules: [{ record: "r", expr: "sum(rate(x[1m])" }] }] }),
    );
    const broken = await new Promise<number>((resolve) => {
      execFile(PROMTOOL, ["check", "rules", rules], (err) => resolve(err === null ? 0 : 1));
    });
    assert.equal(broken, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
