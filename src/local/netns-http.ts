/**
 * A small HTTP GET from inside a network namespace (readiness, metrics), through the addon's
 * `connectFrom`: no `curl` process, no change of this process's own namespace.
 */
import { request } from "node:http";
import { connectFrom } from "../platform/netns-sockets.js";

export interface NetnsHttpResponse {
  readonly status: number;
  readonly body: string;
}

export function httpGetInNetns(
  netns: string,
  url: { host: string; port: number; path: string },
  timeoutMs = 2000,
): Promise<NetnsHttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.host,
        port: url.port,
        path: url.path,
        method: "GET",
        timeout: timeoutMs,
        createConnection: () => connectFrom({ netns, host: url.host, port: url.port }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`GET ${url.host}:${url.port}${url.path} in ${netns} timed out`)),
    );
    req.on("error", reject);
    req.end();
  });
}
