import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkInPodWorkload, isInPodMessage } from "./inpod.js";

describe("in-pod workload messages", () => {
  test("a valid pod passes, addresses canonical", () => {
    assert.deepEqual(checkInPodWorkload({ uid: "a.demo", netns: "c1-a.demo", ips: ["10.244.1.2"] }), {
      uid: "a.demo",
      netns: "c1-a.demo",
      ips: ["10.244.1.2"],
    });
  });

  test("each bad field is refused, naming the pod, the field, the value and what was expected", () => {
    const ok = { uid: "a.demo", netns: "c1-a.demo", ips: ["10.244.1.2"] };
    const cases: [unknown, RegExp][] = [
      [{ ...ok, uid: "" }, /uid "" is not a non-empty string/],
      [
        { ...ok, netns: "../etc" },
        /in-pod workload "a\.demo": netns "\.\.\/etc" is not a network namespace name/,
      ],
      [{ ...ok, ips: [] }, /ips \[\] is not a non-empty list of IPv4 addresses/],
      [{ ...ok, ips: ["fd00::1"] }, /ips \["fd00::1"\] is not a non-empty list of IPv4 addresses/],
      [null, /in-pod workload null: uid null/],
    ];
    for (const [raw, expected] of cases) assert.throws(() => checkInPodWorkload(raw as never), expected);
  });

  test("only the four message types are the protocol's", () => {
    assert.equal(isInPodMessage({ type: "inpod-hello", pid: 1 }), true);
    assert.equal(isInPodMessage({ type: "inpod-ack", seq: 1 }), true);
    assert.equal(isInPodMessage({ type: "ready", pid: 1 }), false, "a hand-over message is not");
    assert.equal(isInPodMessage("inpod-add"), false);
  });
});
