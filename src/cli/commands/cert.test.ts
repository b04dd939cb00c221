import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTimeLeft, pendingTargets } from "./cert.js";

test("formatTimeLeft: hours+minutes, minutes+seconds, seconds, expired", () => {
  const table: Array<[number, string]> = [
    [3725, "1h02m"],
    [125, "2m05s"],
    [9, "9s"],
    [0, "expired"],
  ];
  for (const [s, want] of table) assert.equal(formatTimeLeft(s), want, String(s));
});

test("pendingTargets: done when a leaf issued after the request replaced the target, or the target is gone", () => {
  const answer = {
    generation: 2,
    namespace: null,
    requestedAt: "2026-01-01T00:00:10.000Z",
    targets: [
      { caller: "node/a", identity: "id1", serial: "S1" },
      { caller: "node/a", identity: "id2", serial: "S2" },
      { caller: "node/b", identity: "id3", serial: "S3" },
      { caller: "node/b", identity: "id4", serial: "S4" },
    ],
  };
  const row = (caller: string, identity: string, serial: string, issuedAt: string | null) => ({
    caller,
    node: null,
    identity,
    serial,
    notAfter: "",
    issuedAt,
    timeLeftSeconds: 100,
    root: "active",
  });
  const pending = pendingTargets(answer, [
    row("node/a", "id1", "N1", "2026-01-01T00:00:11.000Z"), // renewed
    row("node/a", "id2", "S2", "2026-01-01T00:00:01.000Z"), // still the old one
    row("node/b", "id3", "N3", "2026-01-01T00:00:09.000Z"), // new serial but issued before the request
  ]); // id4 is gone
  assert.deepEqual(
    pending.map((p) => p.identity),
    ["id2", "id3"],
  );
});
