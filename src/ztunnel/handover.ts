/**
 * Zero-downtime hand-over between two ztunnel processes of one node, as the supervisor (the node
 * agent) drives it over the Node IPC channel it opened when it spawned each ztunnel:
 *
 *   agent spawns B (same ports, SO_REUSEPORT) ── B: {"type":"ready"} ──▶ agent
 *   agent ── {"type":"drain","deadlineMs"} ──▶ A: closes listeners, drains ── {"type":"drained",…} ──▶ agent; A exits
 *
 * Between B's bind and A's close the kernel spreads new connections over both; after A's close
 * every new connection reaches B, and the ones queued on A's listener migrate to B
 * (net.ipv4.tcp_migrate_req). Live connections stay on A until they end or the deadline passes.
 */
import type { DrainResult } from "./ztunnel.js";

export type HandoverMessage =
  | { readonly type: "ready"; readonly pid: number }
  | { readonly type: "drain"; readonly deadlineMs: number }
  | ({ readonly type: "drained"; readonly pid: number } & DrainResult);

/** The part of a Ztunnel the hand-over needs (tests drive it with the real one). */
export interface Drainable {
  whenReady(timeoutMs?: number): Promise<void>;
  drain(deadlineMs: number): Promise<DrainResult>;
}

export interface HandoverChannel {
  send?: ((message: HandoverMessage) => boolean) | undefined;
  on(event: "message", listener: (message: unknown) => void): unknown;
  channel?: { unref(): void } | null | undefined;
}

export function isHandoverMessage(m: unknown): m is HandoverMessage {
  if (typeof m !== "object" || m === null) return false;
  const type = (m as { type?: unknown }).type;
  return type === "ready" || type === "drain" || type === "drained";
}

/**
 * Announces readiness to the supervisor and drains on its request. Resolves with the drain result
 * once asked to drain and done (the caller then exits); never resolves without a supervisor.
 */
export function serveHandover(
  ztunnel: Drainable,
  channel: HandoverChannel = process as unknown as HandoverChannel,
): Promise<DrainResult> {
  const send = channel.send?.bind(channel);
  if (send === undefined) return new Promise(() => {});
  // The channel must not keep the process alive on its own: SIGTERM still ends it.
  channel.channel?.unref();
  ztunnel.whenReady(120_000).then(
    () => send({ type: "ready", pid: process.pid }),
    () => {},
  );
  return new Promise((resolve) => {
    channel.on("message", (m) => {
      if (!isHandoverMessage(m) || m.type !== "drain") return;
      ztunnel.drain(m.deadlineMs).then(
        (result) => {
          send({ type: "drained", pid: process.pid, ...result });
          resolve(result);
        },
        () => resolve({ liveAtStart: 0, cutAtDeadline: 0 }),
      );
    });
  });
}
