/** The corpus is the contract of issue 5: at least 200 cases, each name unique within its target, every area covered. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CONNECT_CASES } from "./corpus/connect.js";
import { H2_FRAME_CASES } from "./corpus/h2-frames.js";
import { PORT_CASES } from "./corpus/ports.js";
import { TLS_CASES } from "./corpus/tls.js";
import { XDS_CASES } from "./corpus/xds.js";
import { YAML_CASES } from "./corpus/yaml.js";

const ALL = [...H2_FRAME_CASES, ...CONNECT_CASES, ...YAML_CASES, ...TLS_CASES, ...PORT_CASES, ...XDS_CASES];

test("the hostile-input corpus holds at least 200 uniquely named cases", () => {
  const names = ALL.map((c) => `${c.target}: ${c.name}`);
  assert.ok(names.length >= 200, `only ${names.length} cases`);
  assert.equal(new Set(names).size, names.length, "duplicate case names");
});

test("every attack surface of issue 5 has its cases (numbers as in docs/security.md)", () => {
  const count = (target: string): number => ALL.filter((c) => c.target === target).length;
  assert.deepEqual(
    {
      "15008-h2": count("15008-h2"),
      "15008-connect": count("15008-connect"),
      yaml: YAML_CASES.length,
      "15008-tls": count("15008-tls"),
      "hbone-client-tls": count("hbone-client-tls"),
      "15001": count("15001"),
      "15006": count("15006"),
      "15008-raw": count("15008-raw"),
      "xds-client": count("xds-client"),
      total: ALL.length,
    },
    {
      "15008-h2": 72,
      "15008-connect": 87,
      yaml: 44,
      "15008-tls": 25,
      "hbone-client-tls": 22,
      "15001": 15,
      "15006": 20,
      "15008-raw": 9,
      "xds-client": 49,
      total: 343,
    },
  );
});
