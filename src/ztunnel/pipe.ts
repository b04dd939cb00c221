/**
 * Joins the client side and the upstream side of a proxied connection and resolves when both
 * directions are done. Backpressure and half-close come from the HBONE library's `splice` (a
 * half-close on one side ends only that direction). Byte counts are from the client's view:
 * `received` = client → upstream, `sent` = upstream → client (Istio's tcp_received/sent_bytes).
 */
import type { Duplex } from "node:stream";
import { splice } from "../hbone/splice.js";

export interface PipeResult {
  readonly received: number;
  readonly sent: number;
  readonly error: Error | undefined;
}

export function pipeBoth(client: Duplex, upstream: Duplex): Promise<PipeResult> {
  // splice settles once both directions are over, including when both sides were destroyed.
  return new Promise((resolve) => {
    splice(client, upstream, (r) => resolve({ received: r.aToB, sent: r.bToA, error: r.error }));
  });
}
