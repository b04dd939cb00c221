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
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { aToB: number; bToA: number; error: Error | undefined }): void => {
      if (settled) return;
      settled = true;
      resolve({ received: r.aToB, sent: r.bToA, error: r.error });
    };
    const live = splice(client, upstream, done);
    // A side destroyed without an error (e.g. on shutdown) may never finish its pipeline.
    const onClose = (): void => {
      if (client.destroyed && upstream.destroyed) setImmediate(() => done(live));
    };
    client.on("close", onClose);
    upstream.on("close", onClose);
  });
}
