/**
 * The node agent's control socket (`$AMBIT_HOME/agent.sock`, mode 0600: root only, like the
 * netns it manages): operations on the processes the agent supervises, which the control plane
 * does not own. HTTP/1.1 + JSON over a unix socket, one route per operation:
 *
 *   POST /v1/ztunnels/<node>/restart  {"drainDeadlineMs": 30000}  → ZtunnelRestartResult
 */
import { chmod, rm } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { AmbitError } from "../errors.js";
import { LocalError, LocalErrorCode } from "./errors.js";

export interface ZtunnelRestartResult {
  readonly node: string;
  readonly oldPid: number;
  readonly newPid: number;
  /** Live connections on the old ztunnel when it closed its listeners (null: it did not report). */
  readonly liveAtHandover: number | null;
  /** Of those, still open at the drain deadline and closed then. */
  readonly cutAtDeadline: number | null;
  readonly durationMs: number;
}

export interface AgentOperations {
  restartZtunnel(node: string, drainDeadlineMs: number): Promise<ZtunnelRestartResult>;
}

export interface AgentControl {
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;

export function agentSocketPath(home: string): string {
  return join(home, "agent.sock");
}

export async function serveAgentControl(path: string, ops: AgentOperations): Promise<AgentControl> {
  await rm(path, { force: true });
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(b);
    });
    req.on("end", () => {
      const m = /^\/v1\/ztunnels\/([a-z0-9.-]+)\/restart$/.exec(req.url ?? "");
      if (req.method !== "POST" || m === null)
        return answer(404, { error: `no route ${req.method} ${req.url}` });
      let deadline: unknown;
      try {
        deadline = (JSON.parse(Buffer.concat(chunks).toString() || "{}") as { drainDeadlineMs?: unknown })
          .drainDeadlineMs;
      } catch {
        return answer(400, { code: LocalErrorCode.BAD_OPTIONS, error: "body is not JSON" });
      }
      const drainDeadlineMs = deadline ?? 30_000;
      if (typeof drainDeadlineMs !== "number" || !Number.isInteger(drainDeadlineMs) || drainDeadlineMs < 0) {
        return answer(400, {
          code: LocalErrorCode.BAD_OPTIONS,
          error: `drainDeadlineMs ${JSON.stringify(deadline)} must be a non-negative integer`,
        });
      }
      ops.restartZtunnel(m[1] ?? "", drainDeadlineMs).then(
        (r) => answer(200, r),
        (e: unknown) =>
          answer(e instanceof LocalError && e.code === LocalErrorCode.NOT_FOUND ? 404 : 500, {
            code: e instanceof AmbitError ? e.code : LocalErrorCode.HANDOVER,
            error: (e as Error).message,
          }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Client side: asks the agent of the cluster in `home` to hand over `node`'s ztunnel. */
export function requestZtunnelRestart(
  home: string,
  node: string,
  drainDeadlineMs: number,
): Promise<ZtunnelRestartResult> {
  const body = JSON.stringify({ drainDeadlineMs });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: agentSocketPath(home),
        method: "POST",
        path: `/v1/ztunnels/${encodeURIComponent(node)}/restart`,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (b: Buffer) => chunks.push(b));
        res.on("end", () => {
          let parsed: { code?: string; error?: string } & Partial<ZtunnelRestartResult>;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString()) as typeof parsed;
          } catch {
            return reject(
              new LocalError(LocalErrorCode.AGENT, `node agent sent a non-JSON answer (${res.statusCode})`),
            );
          }
          if (res.statusCode === 200) return resolve(parsed as ZtunnelRestartResult);
          const code =
            Object.values(LocalErrorCode).find((c) => c === parsed.code) ?? LocalErrorCode.HANDOVER;
          reject(new LocalError(code, parsed.error ?? `node agent answered ${res.statusCode}`));
        });
        res.on("error", reject);
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      reject(
        new LocalError(
          LocalErrorCode.AGENT,
          `cannot reach the node agent at ${agentSocketPath(home)} (${e.code ?? e.message}); is the cluster up (\`ambit status\`)?`,
          { cause: e },
        ),
      ),
    );
    req.end(body);
  });
}
