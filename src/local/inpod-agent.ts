/**
 * The node agent's side of in-pod mode (src/ztunnel/inpod.ts has the protocol): it keeps the set
 * of pods the node's ztunnel must serve in their own netns, sends it whole to every ztunnel that
 * says hello (first start, restart, hand-over successor), and sends each change to every ztunnel
 * connected, waiting for the acknowledgement.
 *
 * Failing closed: a pod's capture rules are installed before it is announced, so if no ztunnel
 * acknowledges it (none running, or its listeners could not open) the pod's connections are
 * refused, never sent around the mesh. The pod still starts; the next hello serves it.
 */
import type { ChildProcess } from "node:child_process";
import type { Logger } from "../telemetry/logger.js";
import { type InPodMessage, type InPodWorkload, isInPodMessage } from "../ztunnel/inpod.js";

export interface InPodAgentOptions {
  readonly node: string;
  readonly log: Logger;
  /** How long an add waits for a ztunnel to acknowledge it (default 30 s: a first start fetches certificates). */
  readonly ackTimeoutMs?: number;
}

interface Waiter {
  readonly resolve: (error: string | undefined) => void;
}

export class InPodAgent {
  readonly #o: InPodAgentOptions;
  readonly #pods = new Map<string, InPodWorkload>();
  /** Ztunnels that said hello and have not exited. */
  readonly #connected = new Set<ChildProcess>();
  readonly #waiters = new Map<string, Waiter>();
  #helloWaiters: (() => void)[] = [];
  #seq = 0;

  constructor(o: InPodAgentOptions) {
    this.#o = o;
  }

  /** Follows one ztunnel process (every spawn of the node's supervisor). */
  attach(child: ChildProcess): void {
    child.on("message", (m: unknown) => {
      if (!isInPodMessage(m)) return;
      if (m.type === "inpod-hello") {
        this.#connected.add(child);
        this.#o.log.info(
          { node: this.#o.node, pid: child.pid, pods: this.#pods.size },
          "in-pod: ztunnel connected, sending its pods",
        );
        for (const pod of this.#pods.values())
          void this.#send(child, (seq) => ({ type: "inpod-add", seq, pod }));
        void this.#send(child, (seq) => ({ type: "inpod-snapshot-sent", seq }));
        const waiting = this.#helloWaiters;
        this.#helloWaiters = [];
        for (const w of waiting) w();
      } else if (m.type === "inpod-ack") {
        const key = `${child.pid}/${m.seq}`;
        this.#waiters.get(key)?.resolve(m.error);
        this.#waiters.delete(key);
      }
    });
    child.once("exit", () => {
      this.#connected.delete(child);
      for (const [key, w] of this.#waiters) {
        if (key.startsWith(`${child.pid}/`)) {
          w.resolve("the ztunnel exited");
          this.#waiters.delete(key);
        }
      }
    });
  }

  get pods(): InPodWorkload[] {
    return [...this.#pods.values()];
  }

  /**
   * Announces a pod (idempotent) and waits until every connected ztunnel acknowledged it, or one
   * connects and does, for up to the ack timeout. Returns false (and logs why) when none did.
   */
  async add(pod: InPodWorkload): Promise<boolean> {
    this.#pods.set(pod.uid, pod);
    const deadline = Date.now() + (this.#o.ackTimeoutMs ?? 30_000);
    if (this.#connected.size === 0) await this.#hello(deadline - Date.now());
    const children = [...this.#connected];
    if (children.length === 0) {
      this.#o.log.warn(
        { node: this.#o.node, pod: pod.uid },
        "in-pod: no ztunnel connected; the pod's connections are refused until one is",
      );
      return false;
    }
    const errors = await Promise.all(
      children.map((c) => this.#send(c, (seq) => ({ type: "inpod-add", seq, pod }), deadline - Date.now())),
    );
    const failed = errors.filter((e): e is string => e !== undefined);
    for (const error of failed)
      this.#o.log.error(
        { node: this.#o.node, pod: pod.uid, err: error },
        "in-pod: ztunnel could not serve the pod; its connections are refused",
      );
    return failed.length < children.length;
  }

  /**
   * Withdraws a pod; waits (briefly) for the ztunnels to close its listeners and, for a pod that is
   * `gone` (deleted), every socket they hold in its netns.
   */
  async remove(uid: string, o: { gone?: boolean } = {}): Promise<void> {
    if (!this.#pods.delete(uid)) return;
    const gone = o.gone === true;
    await Promise.all(
      [...this.#connected].map((c) =>
        this.#send(c, (seq) => ({ type: "inpod-del", seq, uid, ...(gone ? { gone } : {}) }), 5000),
      ),
    );
  }

  #hello(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.#helloWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sends one message; resolves with the ztunnel's error, or undefined once acknowledged. */
  #send(
    child: ChildProcess,
    build: (seq: number) => InPodMessage,
    timeoutMs = 30_000,
  ): Promise<string | undefined> {
    const seq = ++this.#seq;
    const key = `${child.pid}/${seq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#waiters.delete(key);
          resolve(`no acknowledgement within ${timeoutMs} ms`);
        },
        Math.max(0, timeoutMs),
      );
      this.#waiters.set(key, {
        resolve: (error) => {
          clearTimeout(timer);
          resolve(error);
        },
      });
      try {
        child.send(build(seq));
      } catch (e) {
        this.#waiters.delete(key);
        clearTimeout(timer);
        resolve((e as Error).message);
      }
    });
  }
}
