/**
 * Reaching one node's ztunnel admin endpoint (port 15000, loopback only in the node's network
 * namespace). In a local cluster (`ambit up`) the CLI opens its TCP connection from inside the
 * node's netns through the native addon (`connectFrom`: the socket is created in that namespace,
 * this process never switches), so the admin port never has to be exposed. A ztunnel whose admin
 * address is reachable directly (SOCKS5 setups, tests) is read with `--admin host:port`.
 */
import { request } from "node:http";
import { ControlError, ControlErrorCode } from "../control/errors.js";

/** The admin port of Istio's ztunnel, which ambit keeps. */
export const ZTUNNEL_ADMIN_PORT = 15000;

export type ZtunnelAdminTarget =
  | { readonly kind: "node"; readonly home: string; readonly node: string }
  | { readonly kind: "address"; readonly host: string; readonly port: number };

export async function ztunnelAdminGet(target: ZtunnelAdminTarget, path: string): Promise<unknown> {
  const { status, body, where } =
    target.kind === "node" ? await viaNodeNetns(target, path) : await direct(target, path);
  if (status !== 200) {
    throw new ControlError(
      ControlErrorCode.ADMIN_ERROR,
      `the ztunnel admin endpoint at ${where} answered ${status} to ${path}: ${body.slice(0, 200)}`,
    );
  }
  return JSON.parse(body) as unknown;
}

async function viaNodeNetns(
  target: Extract<ZtunnelAdminTarget, { kind: "node" }>,
  path: string,
): Promise<{ status: number; body: string; where: string }> {
  const { resolveExecNetns } = await import("../local/cluster-exec.js");
  const { httpGetInNetns } = await import("../local/netns-http.js");
  const netns = await resolveExecNetns(target.home, { node: target.node });
  const where = `127.0.0.1:${ZTUNNEL_ADMIN_PORT} in node ${target.node} (netns ${netns})`;
  try {
    const r = await httpGetInNetns(netns, { host: "127.0.0.1", port: ZTUNNEL_ADMIN_PORT, path }, 5000);
    return { ...r, where };
  } catch (e) {
    throw unreachable(where, e);
  }
}

function direct(
  target: Extract<ZtunnelAdminTarget, { kind: "address" }>,
  path: string,
): Promise<{ status: number; body: string; where: string }> {
  const where = `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.host, port: target.port, path, method: "GET", timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), where }),
        );
        res.on("error", (e) => reject(unreachable(where, e)));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => reject(unreachable(where, e)));
    req.end();
  });
}

function unreachable(where: string, e: unknown): ControlError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new ControlError(
    ControlErrorCode.UNREACHABLE,
    `cannot reach the ztunnel admin endpoint at ${where} (${code}); is the node's ztunnel running? (\`ambit status\`, logs/ztunnel.<node>.log)`,
    { cause: e },
  );
}

/** `host:port` of `--admin`. */
export function parseAdminAddress(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(":");
  const host = text.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(text.slice(i + 1));
  if (i <= 0 || host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ControlError(
      ControlErrorCode.BAD_REQUEST,
      `--admin ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:15000)`,
    );
  }
  return { host, port };
}
