import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { cidrContains, parseCidr, parseIp } from "./ip-match.js";

const contains = (cidr: string, ip: string): boolean => {
  const b = parseCidr(cidr);
  const a = parseIp(ip);
  assert.ok(b !== null, `cidr ${cidr}`);
  assert.ok(a !== null, `ip ${ip}`);
  return cidrContains(b, a);
};

const table: [cidr: string, ip: string, expected: boolean][] = [
  ["10.0.0.0/8", "10.255.1.2", true],
  ["10.0.0.0/8", "11.0.0.1", false],
  ["10.1.2.3", "10.1.2.3", true],
  ["10.1.2.3", "10.1.2.4", false],
  ["0.0.0.0/0", "192.0.2.1", true],
  ["192.168.1.128/25", "192.168.1.127", false],
  ["192.168.1.128/25", "192.168.1.200", true],
  ["2001:db8::/32", "2001:db8:ffff::1", true],
  ["2001:db8::/32", "2001:db9::1", false],
  ["::1", "::1", true],
  ["::/0", "fe80::1", true],
  ["2001:db8::/127", "2001:db8::1", true],
  ["2001:db8::/128", "2001:db8::1", false],
  ["fd00::/8", "10.0.0.1", false],
  ["10.0.0.0/8", "::ffff:10.1.1.1", true],
  ["::ffff:10.0.0.0/104", "10.9.9.9", true],
  ["2001:db8::1.2.3.4", "2001:db8::102:304", true],
];

for (const [cidr, ip, expected] of table) {
  test(`${cidr} ${expected ? "contains" : "does not contain"} ${ip}`, () => {
    assert.equal(contains(cidr, ip), expected);
  });
}

test("malformed blocks are rejected", () => {
  for (const bad of [
    "10.0.0.0/33",
    "10.0.0/8",
    "2001:db8::/129",
    "abc",
    "",
    "10.0.0.1/",
    "10.0.0.1/-1",
    "fe80::1%eth0",
  ]) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

test("property: every IPv4 address is inside its own /n block and its /32", () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, n) => {
      assert.equal(contains(`${ip}/${n}`, ip), true);
      assert.equal(contains(ip, ip), true);
    }),
  );
});

test("property: an IPv6 address is inside its /128 and a different one is not", () => {
  fc.assert(
    fc.property(fc.ipV6(), fc.ipV6(), (a, b) => {
      const pa = parseIp(a);
      const pb = parseIp(b);
      if (pa === null || pb === null || pa.family !== 6 || pb.family !== 6) return;
      assert.equal(contains(a, a), true);
      const same = pa.words.every((w, i) => w === pb.words[i]);
      assert.equal(contains(a, b), same);
    }),
  );
});
