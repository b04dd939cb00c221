import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import {
  checkInPodWorkload,
  INPOD_SNAPSHOT_GATE,
  type InPodMessage,
  type InPodSockets,
  isInPodMessage,
  serveInPod,
} from "./inpod.js";

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

describe("serveInPod (the ztunnel's side), against a fake agent channel and a fake ztunnel host", () => {
  class FakeChannel extends EventEmitter {
    readonly sent: InPodMessage[] = [];
    send(m: InPodMessage): boolean {
      this.sent.push(m);
      return true;
    }
  }

  function fakeHost() {
    const gates = new Set<string>();
    const added: string[] = [];
    const inPod = {
      add: async (p: { uid: string }) => {
        added.push(p.uid);
        if (p.uid === "bad") throw new Error("cannot listen");
      },
      remove: async () => {},
      settled: async () => {},
    } as unknown as InPodSockets;
    return {
      gates,
      added,
      host: {
        inPod,
        holdReadiness: (what: string) => {
          gates.add(what);
          return () => gates.delete(what);
        },
        whenReady: async (_t?: number, except: readonly string[] = []) => {
          assert.ok(except.includes(INPOD_SNAPSHOT_GATE), "hello must not wait for the gate it lifts");
        },
      },
    };
  }

  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  test("readiness is held until the snapshot is served; hello first, then acks in order, errors named", async () => {
    const ch = new FakeChannel();
    const { host, gates, added } = fakeHost();
    serveInPod(host, ch);
    await tick();
    assert.deepEqual(ch.sent, [{ type: "inpod-hello", pid: process.pid }]);
    assert.deepEqual([...gates], [INPOD_SNAPSHOT_GATE]);
    const pod = { uid: "a.demo", netns: "c1-a.demo", ips: ["10.244.1.2"] };
    ch.emit("message", { type: "inpod-add", seq: 1, pod });
    ch.emit("message", { type: "inpod-add", seq: 2, pod: { ...pod, uid: "bad" } });
    await tick();
    assert.deepEqual([...gates], [INPOD_SNAPSHOT_GATE], "still held: the snapshot is not complete");
    ch.emit("message", { type: "inpod-snapshot-sent", seq: 3 });
    ch.emit("message", { type: "ready", pid: 1 }); // a hand-over message: not this protocol's
    await tick();
    await tick();
    assert.deepEqual(added, ["a.demo", "bad"]);
    assert.deepEqual(ch.sent.slice(1), [
      { type: "inpod-ack", seq: 1 },
      { type: "inpod-ack", seq: 2, error: "cannot listen" },
      { type: "inpod-ack", seq: 3 },
    ]);
    assert.deepEqual([...gates], [], "ready once the snapshot is served");
  });

  test("without an IPC channel it refuses to start, naming what is missing", () => {
    const { host } = fakeHost();
    assert.throws(() => serveInPod(host, { on: () => {} }), /--inpod needs the node agent/);
  });
});
