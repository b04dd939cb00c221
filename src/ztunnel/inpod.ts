import type net from "node:net";
import { isIPv4 } from "node:net";
import { INPOD_MARK } from "../platform/capture-plan.js";
import { checkNetnsName } from "../platform/linux-names.js";
import { listenOn } from "../platform/netns-sockets.js";
import type { Logger } from "../telemetry/logger.js";
import { canonicalIp } from "./addresses.js";
import { ZtunnelError, ZtunnelErrorCode } from "./errors.js";
import { allowQueueMigration, closeServer } from "./listeners.js";

export { INPOD_MARK };

/** A pod the ztunnel serves in its own netns. */
export interface InPodWorkload {
  /** Unique on the node (the agent's capture key). */
  readonly uid: string;
  /** Name of the pod's network namespace under /run/netns. */
  readonly netns: string;
  /** The pod's IPv4 addresses (its inbound listeners bind each). */
  readonly ips: readonly string[];
}

export type InPodMessage =
  | { readonly type: "inpod-hello"; readonly pid: number }
  | { readonly type: "inpod-add"; readonly seq: number; readonly pod: InPodWorkload }
  /** `gone`: the pod was deleted (its processes stopped), not just taken out of the mesh. */
  | { readonly type: "inpod-del"; readonly seq: number; readonly uid: string; readonly gone?: boolean }
  | { readonly type: "inpod-snapshot-sent"; readonly seq: number }
  | { readonly type: "inpod-ack"; readonly seq: number; readonly error?: string };

export function isInPodMessage(m: unknown): m is InPodMessage {
  if (typeof m !== "object" || m === null) return false;
  const type = (m as { type?: unknown }).type;
  return (
    type === "inpod-hello" ||
    type === "inpod-add" ||
    type === "inpod-del" ||
    type === "inpod-snapshot-sent" ||
    type === "inpod-ack"
  );
}

export type InPodListener = "outbound" | "inboundPlaintext" | "inbound";

export interface InPodPorts {
  readonly outbound: number;
  readonly inboundPlaintext: number;
  readonly inbound: number;
}

export const INPOD_PORTS: InPodPorts = Object.freeze({
  outbound: 15001,
  inboundPlaintext: 15006,
  inbound: 15008,
});

/** Checks an `inpod-add` pod; the error names the field and what was expected. */
export function checkInPodWorkload(raw: unknown): InPodWorkload {
  const p = raw as Partial<Record<keyof InPodWorkload, unknown>> | null;
  const bad = (field: string, expected: string): ZtunnelError =>
    new ZtunnelError(
      ZtunnelErrorCode.Config,
      `in-pod workload ${JSON.stringify(p?.uid ?? null)}: ${field} ${JSON.stringify((p as Record<string, unknown> | null)?.[field] ?? null)} is not ${expected}`,
    );
  if (typeof p?.uid !== "string" || p.uid === "") throw bad("uid", "a non-empty string");
  if (typeof p.netns !== "string") throw bad("netns", "a network namespace name");
  try {
    checkNetnsName(p.netns);
  } catch {
    throw bad("netns", "a network namespace name");
  }
  if (
    !Array.isArray(p.ips) ||
    p.ips.length === 0 ||
    !p.ips.every((ip) => typeof ip === "string" && isIPv4(ip))
  )
    throw bad("ips", "a non-empty list of IPv4 addresses");
  return { uid: p.uid, netns: p.netns, ips: p.ips.map((ip: string) => canonicalIp(ip)) };
}

interface ServedPod {
  readonly pod: InPodWorkload;
  readonly servers: net.Server[];
  /** Connections accepted in the pod's netns and still open. */
  readonly accepted: Set<net.Socket>;
}

export interface InPodSocketsOptions {
  /** Builds the server of one listener for one pod (the ztunnel's own handlers). */
  readonly make: (listener: InPodListener, pod: InPodWorkload) => net.Server;
  readonly logger: Logger;
  readonly ports?: InPodPorts;
  /**
   * After a removed pod's listeners and accepted connections are closed: drop whatever else holds a
   * socket in its netns (the ztunnel closes the HBONE sessions pooled for it).
   */
  readonly onReleased?: (pod: InPodWorkload) => Promise<void>;
}

/**
 * The pods served in their own netns, their listeners, and which netns each pod IP lives in (so
 * upstream connections for a pod leave from it). Operations on one pod run one at a time.
 */
export class InPodSockets {
  readonly #o: InPodSocketsOptions;
  readonly #ports: InPodPorts;
  readonly #pods = new Map<string, ServedPod>();
  readonly #netnsByIp = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();
  #accepting = true;

  constructor(o: InPodSocketsOptions) {
    this.#o = o;
    this.#ports = o.ports ?? INPOD_PORTS;
  }

  /** Name of the netns where `ip` is served in-pod, or undefined (node mode, or not a local pod). */
  netnsOf(ip: string): string | undefined {
    return this.#netnsByIp.get(ip);
  }

  /** The pod whose netns accepted a connection: only its own addresses may be a source there. */
  owns(uid: string, ip: string): boolean {
    return this.#pods.get(uid)?.pod.ips.includes(ip) === true;
  }

  list(): InPodWorkload[] {
    return [...this.#pods.values()].map((s) => s.pod);
  }

  /** Serves `pod` (idempotent; a pod whose netns or addresses changed gets new listeners). */
  add(raw: InPodWorkload): Promise<void> {
    const pod = checkInPodWorkload(raw);
    return this.#serial(async () => {
      if (!this.#accepting)
        throw new ZtunnelError(ZtunnelErrorCode.Config, "ztunnel is draining: not serving new pods");
      const current = this.#pods.get(pod.uid);
      if (current !== undefined) {
        if (current.pod.netns === pod.netns && sameIps(current.pod.ips, pod.ips)) return;
        // Another netns or other addresses: the old sockets are no use to the pod any more.
        await this.#remove(pod.uid, true);
      }
      for (const ip of pod.ips) {
        const owner = this.#netnsByIp.get(ip);
        if (owner !== undefined && owner !== pod.netns)
          throw new ZtunnelError(
            ZtunnelErrorCode.Config,
            `in-pod workload ${pod.uid}: ${ip} is already served in netns ${owner}`,
          );
      }
      allowQueueMigration(this.#o.logger, pod.netns);
      const servers: net.Server[] = [];
      const accepted = new Set<net.Socket>();
      const where: [InPodListener, string][] = [
        ["outbound", "127.0.0.1"],
        ...pod.ips.flatMap((ip): [InPodListener, string][] => [
          ["inboundPlaintext", ip],
          ["inbound", ip],
        ]),
      ];
      try {
        for (const [listener, address] of where) {
          const server = this.#o.make(listener, pod);
          servers.push(server);
          try {
            await listenOn(server, {
              netns: pod.netns,
              address,
              port: this.#ports[listener],
              reusePort: true,
            });
          } catch (e) {
            throw new ZtunnelError(
              ZtunnelErrorCode.Bind,
              `in-pod workload ${pod.uid}: cannot listen on ${address}:${this.#ports[listener]} in netns ${pod.netns}: ${(e as Error).message}`,
              { cause: e },
            );
          }
          server.on("error", () => {});
          server.on("connection", (socket: net.Socket) => {
            accepted.add(socket);
            socket.once("close", () => accepted.delete(socket));
          });
        }
      } catch (e) {
        await Promise.all(servers.map(closeServer));
        throw e;
      }
      this.#pods.set(pod.uid, { pod, servers, accepted });
      for (const ip of pod.ips) this.#netnsByIp.set(ip, pod.netns);
      this.#o.logger.info(
        { pod: pod.uid, netns: pod.netns, ips: pod.ips },
        "in-pod: serving pod in its netns",
      );
    });
  }

  /**
   * Stops serving a pod (idempotent): its listeners close. A pod taken out of the mesh keeps its live
   * connections. A pod that is `gone` (deleted; the agent stops its processes first) also loses the
   * connections accepted in its netns, and `onReleased` drops the rest: nothing of the ztunnel's may
   * keep the netns alive, or its veth would outlive it, and a pod created again under the same name
   * would find its interface name taken or be handed this pod's pooled sessions.
   */
  remove(uid: string, o: { gone?: boolean } = {}): Promise<void> {
    return this.#serial(() => this.#remove(uid, o.gone === true));
  }

  async #remove(uid: string, gone: boolean): Promise<void> {
    const served = this.#pods.get(uid);
    if (served === undefined) return;
    this.#pods.delete(uid);
    for (const ip of served.pod.ips) {
      if (this.#netnsByIp.get(ip) === served.pod.netns) this.#netnsByIp.delete(ip);
    }
    // close() completes once the accepted connections end; listening stops at once.
    for (const s of served.servers) if (s.listening) s.close();
    if (!gone) {
      this.#o.logger.info({ pod: uid }, "in-pod: pod released");
      return;
    }
    const dropped = served.accepted.size;
    for (const socket of served.accepted) socket.destroy();
    await this.#o.onReleased?.(served.pod);
    this.#o.logger.info({ pod: uid, connections: dropped }, "in-pod: pod gone, its sockets closed");
  }

  /** Resolves once every add and remove asked so far is done. */
  async settled(): Promise<void> {
    await this.#queue;
  }

  /** Hand-over: stop accepting on every pod's listeners (the successor's take the new connections). */
  stopAccepting(): void {
    this.#accepting = false;
    for (const { servers } of this.#pods.values()) for (const s of servers) if (s.listening) s.close();
  }

  async close(): Promise<void> {
    this.#accepting = false;
    await this.#queue;
    const all = [...this.#pods.values()].flatMap((s) => s.servers);
    this.#pods.clear();
    this.#netnsByIp.clear();
    await Promise.all(all.map(closeServer));
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

function sameIps(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((ip) => b.includes(ip));
}

/** What `/healthz/ready` waits for in in-pod mode until the agent's snapshot is served. */
export const INPOD_SNAPSHOT_GATE = "the node agent's in-pod snapshot";

/** What `serveInPod` needs of a ztunnel. */
export interface InPodHost {
  whenReady(timeoutMs?: number, except?: readonly string[]): Promise<void>;
  holdReadiness(what: string): () => void;
  readonly inPod: InPodSockets;
}

export interface InPodChannel {
  send?: ((message: InPodMessage) => boolean) | undefined;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

/** The channel's `send`; throws when there is none (the ztunnel was not started by the node agent). */
export function requireInPodChannel(
  channel: InPodChannel = process as unknown as InPodChannel,
): (message: InPodMessage) => boolean {
  const send = channel.send?.bind(channel);
  if (send === undefined)
    throw new ZtunnelError(
      ZtunnelErrorCode.Config,
      "--inpod needs the node agent: it names the pods over the IPC channel it opens when it starts the ztunnel (ambit up does)",
    );
  return send;
}

/**
 * The ztunnel's side of the protocol above. It holds the ztunnel's readiness until the first
 * snapshot is served, says hello once everything else is ready, then applies the agent's adds and
 * deletes in order and acknowledges each. So `/healthz/ready` — and a hand-over successor's "ready"
 * — mean "listening in every pod". Throws without an IPC channel: in-pod mode needs the node agent.
 */
export function serveInPod(
  host: InPodHost,
  channel: InPodChannel = process as unknown as InPodChannel,
): void {
  const send = requireInPodChannel(channel);
  const release = host.holdReadiness(INPOD_SNAPSHOT_GATE);
  host.whenReady(120_000, [INPOD_SNAPSHOT_GATE]).then(
    () => send({ type: "inpod-hello", pid: process.pid }),
    () => {},
  );
  channel.on("message", (m) => {
    if (!isInPodMessage(m)) return;
    let op: Promise<void>;
    if (m.type === "inpod-add") op = host.inPod.add(m.pod);
    else if (m.type === "inpod-del") op = host.inPod.remove(m.uid, { gone: m.gone === true });
    else if (m.type === "inpod-snapshot-sent") op = host.inPod.settled().then(release);
    else return;
    op.then(
      () => send({ type: "inpod-ack", seq: m.seq }),
      (e: unknown) => send({ type: "inpod-ack", seq: m.seq, error: (e as Error).message }),
    );
  });
}
