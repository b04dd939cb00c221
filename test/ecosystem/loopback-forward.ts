/**
 * Loopback forwards for processes that live in the host network namespace (Prometheus, promtool's
 * input): `127.0.0.1:<port>` → an address inside a cluster netns (through the addon's
 * `connectFrom`, no change of this process's namespace) or → a unix socket (the control plane's
 * admin API). Each accepted connection is piped both ways with backpressure.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { connectFrom } from "../../src/platform/netns-sockets.js";

export interface LoopbackForward {
  readonly port: number;
  close(): Promise<void>;
}

export type ForwardTarget =
  | { readonly kind: "netns"; readonly netns: string; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export async function forwardTo(target: ForwardTarget): Promise<LoopbackForward> {
  const open = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream =
      target.kind === "netns"
        ? connectFrom({ netns: target.netns, host: target.host, port: target.port, allowHalfOpen: true })
        : createConnection({ path: target.path, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => open.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("forward: no TCP address");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
