import assert from "node:assert/strict";
import { test } from "node:test";
import { isSerial, normaliseSerial, RevocationList } from "./revocation.js";

test("normaliseSerial: one spelling per serial; anything else is ID_ERR_BAD_SERIAL naming the value", () => {
  const same: Array<[string, string]> = [
    ["0A1B", "A1B"],
    ["0a:1b", "A1B"],
    ["0x0a1b", "A1B"],
    [" a1b ", "A1B"],
    ["00", "0"],
    ["7A0000000000000000000000005E0001", "7A0000000000000000000000005E0001"],
    ["f".repeat(40), "F".repeat(40)],
    [`00${"1".repeat(40)}`, "1".repeat(40)],
  ];
  for (const [input, want] of same) assert.equal(normaliseSerial(input), want, input);
  for (const bad of ["", "xyz", "12 34", "0x", "1-2", "١٢", `${"1".repeat(41)}`, "ab\u0000cd"]) {
    assert.throws(
      () => normaliseSerial(bad),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "ID_ERR_BAD_SERIAL");
        // The value is named, control characters escaped (never raw in a log line).
        const shown = bad.replace(
          /[^\x20-\x7e]/g,
          (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
        );
        assert.ok(e.message.includes(`"${shown}"`), e.message);
        return true;
      },
      bad,
    );
    assert.equal(isSerial(bad), false);
  }
});

test("RevocationList: replace reports what is new; version rises only on a change; lookups by any spelling", () => {
  const l = new RevocationList();
  assert.equal(l.version, 0);
  assert.deepEqual(l.replace(["0a1b", "FF"]), ["A1B", "FF"]);
  assert.equal(l.version, 1);
  assert.deepEqual(l.replace(["ff", "A1B"]), []);
  assert.equal(l.version, 1, "the same set is no change");
  assert.ok(l.has("0A:1B"));
  assert.ok(!l.has("not a serial"));
  assert.equal(l.firstRevoked(["01", "00FF", "A1B"]), "00FF");
  assert.equal(l.firstRevoked(["01"]), undefined);
  assert.deepEqual(l.replace(["FF"]), []);
  assert.equal(l.version, 2, "a removal is a change");
  assert.equal(l.size, 1);
  assert.throws(() => l.replace(["FF", "nope"]), { code: "ID_ERR_BAD_SERIAL" });
  assert.deepEqual(l.list(), ["FF"], "a bad list changes nothing");
});
