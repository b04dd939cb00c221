/**
 * A loopback TCP port that relays every connection to a unix socket, byte for byte (HTTP and the
 * SSE stream pass through untouched): the browser's way to the control plane's dashboard socket.
 */
import { connect, createServer, type Socket } from "node:net";
import { listen } from "../control/admin-api.js";

export interface PortForward {
  readonly port: number;
  close(): Promise<void>;
}

export async function forwardToUnixSocket(o: {
  host: string;
  port: number;
  socketPath: string;
}): Promise<PortForward> {
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ path: o.socketPath, allowHalfOpen: true });
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
  await listen(server, { host: o.host, port: o.port }, `dashboard port ${o.host}:${o.port}`);
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : o.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
