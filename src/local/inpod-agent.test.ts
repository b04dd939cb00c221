/**
 * The agent's side of the in-pod protocol against a scripted stand-in for the ztunnel process
 * (an EventEmitter with `send`, named fake below): the real exchange over a real IPC channel runs
 * in test/e2e/inpod.test.ts.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { createLogger } from "../telemetry/logger.js";
import type { InPodMessage } from "../ztunnel/inpod.js";
import { InPodAgent } from "./inpod-agent.js";

/** A fake ztunnel child: records what the agent sends, answers as told. */
class FakeZtunnel extends EventEmitter {
  readonly pid: number;
  readonly sent: InPodMessage[] = [];
  answer: (m: InPodMessage) => InPodMessage | undefined = (m) =>
    "seq" in m ? { type: "inpod-ack", seq: m.seq } : undefined;

  constructor(pid: number) {
    super();
    this.pid = pid;
  }

  send(m: InPodMessage): boolean {
    this.sent.push(m);
    const reply = this.answer(m);
    if (reply !== undefined) setImmediate(() => this.emit("message", reply));
    return true;
  }

  hello(): void {
    this.emit("message", { type: "inpod-hello", pid: this.pid });
  }
}

function agent(ackTimeoutMs: number): { agent: InPodAgent; logs: string[] } {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ name: "test", destination });
  return { agent: new InPodAgent({ node: "node-1", log, ackTimeoutMs }), logs };
}

const POD = { uid: "client-0.demo", netns: "c1-client-0.demo", ips: ["10.244.1.2"] };

describe("InPodAgent", () => {
  test("no ztunnel connected: add gives up after the ack timeout (fail closed); the next hello gets the pod", async () => {
    const { agent: a, logs } = agent(50);
    const started = Date.now();
    assert.equal(await a.add(POD), false);
    assert.ok(Date.now() - started >= 45, "waited for a ztunnel");
    assert.match(logs.join(""), /no ztunnel connected; the pod's connections are refused/);
    const z = new FakeZtunnel(101);
    a.attach(z as unknown as ChildProcess);
    z.hello();
    assert.deepEqual(
      z.sent.map((m) => (m.type === "inpod-add" ? m.pod.uid : m.type)),
      ["client-0.demo", "inpod-snapshot-sent"],
      "the snapshot on hello carries the pod, then says it is complete",
    );
  });

  test("add waits for every connected ztunnel (a hand-over has two); one failing is logged, the pod still served", async () => {
    const { agent: a, logs } = agent(1000);
    const z1 = new FakeZtunnel(201);
    const z2 = new FakeZtunnel(202);
    z2.answer = (m) =>
      "seq" in m ? { type: "inpod-ack", seq: m.seq, error: "cannot listen on 10.244.1.2:15008" } : undefined;
    for (const z of [z1, z2]) {
      a.attach(z as unknown as ChildProcess);
      z.hello();
    }
    assert.equal(await a.add(POD), true);
    for (const z of [z1, z2])
      assert.deepEqual(
        z.sent.map((m) => m.type),
        ["inpod-snapshot-sent", "inpod-add"],
      );
    assert.match(logs.join(""), /cannot listen on 10\.244\.1\.2:15008/);
    z2.answer = (m) => ("seq" in m ? { type: "inpod-ack", seq: m.seq, error: "still broken" } : undefined);
    z1.answer = z2.answer;
    assert.equal(await a.add({ ...POD, uid: "other.demo" }), false, "no ztunnel serves it");
  });

  test("a ztunnel that exits stops being waited for; remove reaches the connected ones", async () => {
    const { agent: a } = agent(5000);
    const z = new FakeZtunnel(301);
    z.answer = () => undefined; // never answers
    a.attach(z as unknown as ChildProcess);
    z.hello();
    const adding = a.add(POD);
    setTimeout(() => z.emit("exit", 1, null), 20);
    const started = Date.now();
    assert.equal(await adding, false);
    assert.ok(Date.now() - started < 2000, "the exit ended the wait, not the timeout");
    const z2 = new FakeZtunnel(302);
    a.attach(z2 as unknown as ChildProcess);
    z2.hello();
    await a.remove(POD.uid);
    assert.deepEqual(
      z2.sent.map((m) => m.type),
      ["inpod-add", "inpod-snapshot-sent", "inpod-del"],
    );
    assert.deepEqual(a.pods, []);
  });
});
