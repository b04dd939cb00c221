/**
 * Small TCP endpoints for netns tests, opened from the test process itself through the addon
 * (listener or client socket created inside the target netns): no child process per endpoint.
 */
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { connectFrom, listenOn } from "../../src/platform/netns-sockets.js";

export interface Endpoint {
  readonly server: Server;
  /** Peers seen, in order of arrival. */
  readonly accepted: {
    remoteAddress: string | undefined;
    localAddress: string | undefined;
    localPort: number | undefined;
  }[];
  close(): Promise<void>;
}

/**
 * A listener in `netns` that answers every connection with `reply(socket, received)` once the
 * client half-closes. `allowHalfOpen` as capture listeners need (PLATFORM-NOTES).
 */
export async function listenIn(
  netns: string,
  port: number,
  reply: (socket: Socket, received: string) => string,
): Promise<Endpoint> {
  const accepted: Endpoint["accepted"] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    accepted.push({
      remoteAddress: socket.remoteAddress,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
    });
    const chunks: Buffer[] = [];
    socket.on("data", (b: Buffer) => chunks.push(b));
    socket.on("end", () => {
      let answer: string;
      try {
        answer = reply(socket, Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        answer = `error ${(e as { code?: string }).code ?? String(e)}`;
      }
      socket.end(answer);
    });
  });
  server.on("error", () => undefined);
  await listenOn(server, { netns, address: "0.0.0.0", port });
  return {
    server,
    accepted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects from `netns`, sends `payload`, half-closes and resolves with the whole reply. */
export async function request(netns: string, host: string, port: number, payload: string): Promise<string> {
  const socket = connectFrom({ netns, host, port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on("data", (b: Buffer) => chunks.push(b));
  try {
    await once(socket, "connect");
    socket.end(payload);
    await once(socket, "end");
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    socket.destroy();
  }
}
