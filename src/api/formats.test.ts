import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkDns1035Label,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkDuration,
  checkHost,
  checkIpOrCidr,
  checkIstioWildcard,
  checkLabelKey,
  checkLabelValue,
  checkPortString,
  parseDurationMs,
} from "./formats.js";

type Check = (v: string) => { code: string } | undefined;

const table: [string, Check, string[], string[], string][] = [
  [
    "port string",
    checkPortString,
    ["1", "3306", "65535"],
    ["0", "65536", "http", "-1", "80 ", "1e3", ""],
    "CFG_ERR_PORT",
  ],
  [
    "IP or CIDR",
    checkIpOrCidr,
    ["10.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "fd00::/64", "::1", "192.168.1.1/32"],
    ["10.0.0.0/33", "10.0.0", "fd00::/129", "a.b.c.d", "10.0.0.0/", "10.0.0.0/-1", "*"],
    "CFG_ERR_CIDR",
  ],
  [
    "duration",
    checkDuration,
    ["1.5s", "300ms", "1h30m", "0.5s", "10us", "2m"],
    ["1.5", "10 seconds", "s", "-1s", "1d", ""],
    "CFG_ERR_DURATION",
  ],
  [
    "DNS-1123 label",
    checkDns1123Label,
    ["a", "web-1", "9lives", "a".repeat(63)],
    ["A", "-a", "a-", "a.b", "a".repeat(64), ""],
    "CFG_ERR_NAME",
  ],
  [
    "DNS-1123 subdomain",
    checkDns1123Subdomain,
    ["a.b", "payment-db", "x.y-z.io"],
    ["a..b", ".a", "A.b", "a_b", ""],
    "CFG_ERR_NAME",
  ],
  ["DNS-1035 label", checkDns1035Label, ["web", "a1"], ["1web", "web-", "Web"], "CFG_ERR_NAME"],
  [
    "label key",
    checkLabelKey,
    ["app", "istio.io/dataplane-mode", "topology.kubernetes.io/zone", "a_b.c-d"],
    ["-a", "a/", "/a", "Bad_Prefix/a", "a/b/c", "x".repeat(64)],
    "CFG_ERR_NAME",
  ],
  [
    "label value",
    checkLabelValue,
    ["", "v1", "A_b.c-9"],
    ["-v", "v-", "with space", "x".repeat(64)],
    "CFG_ERR_NAME",
  ],
  [
    "Istio wildcard",
    checkIstioWildcard,
    ["*", "exact", "prefix*", "*suffix", "cluster.local/ns/a/sa/*"],
    ["a*b", "**", "*a*", ""],
    "CFG_ERR_FORMAT",
  ],
  [
    "host",
    checkHost,
    ["reviews", "reviews.prod.svc.cluster.local", "*.example.com", "*", "10.0.0.1"],
    ["a..b", "*a.com", "a_b", "-a"],
    "CFG_ERR_NAME",
  ],
];

for (const [name, check, good, bad, code] of table) {
  test(`format: ${name}`, () => {
    for (const v of good) assert.equal(check(v), undefined, `${JSON.stringify(v)} should be accepted`);
    for (const v of bad)
      assert.equal(check(v)?.code, code, `${JSON.stringify(v)} should be rejected with ${code}`);
  });
}

test("parseDurationMs", () => {
  assert.equal(parseDurationMs("1.5s"), 1500);
  assert.equal(parseDurationMs("300ms"), 300);
  assert.equal(parseDurationMs("1h30m"), 5_400_000);
  assert.equal(parseDurationMs("1x"), undefined);
});
