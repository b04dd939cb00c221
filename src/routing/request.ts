/** Validation of a RouteRequest from untrusted JSON (`ambit route check --request`). */
import { RoutingError, RoutingErrorCode } from "./errors.js";
import type { RouteRequest } from "./types.js";

function bad(path: string, message: string): RoutingError {
  return new RoutingError(RoutingErrorCode.BAD_REQUEST, "", path, `request field ${path}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, path: string): Record<string, string> {
  if (!isObject(v)) throw bad(path, "expected an object of string values");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") throw bad(`${path}.${k}`, `expected a string, got ${JSON.stringify(x)}`);
    out[k] = x;
  }
  return out;
}

const KNOWN = new Set(["client", "host", "port", "method", "path", "headers", "scheme"]);

export function parseRouteRequest(v: unknown): RouteRequest {
  if (!isObject(v)) throw bad("(root)", "expected a JSON object");
  for (const k of Object.keys(v)) {
    if (!KNOWN.has(k)) throw bad(k, `unknown field (expected one of ${[...KNOWN].join(", ")})`);
  }
  const client = v["client"];
  if (!isObject(client)) throw bad("client", 'expected an object such as {"namespace":"default"}');
  if (typeof client["namespace"] !== "string" || client["namespace"] === "") {
    throw bad("client.namespace", "expected a non-empty string (the calling workload's namespace)");
  }
  const host = v["host"];
  if (typeof host !== "string" || host === "")
    throw bad("host", "expected a host name such as svc.ns.svc.cluster.local");
  const port = v["port"] ?? 80;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad("port", `expected a port number 1-65535, got ${JSON.stringify(port)}`);
  }
  const method = v["method"] ?? "GET";
  if (typeof method !== "string" || !/^[A-Za-z]+$/.test(method))
    throw bad("method", `expected an HTTP method, got ${JSON.stringify(method)}`);
  const path = v["path"] ?? "/";
  if (typeof path !== "string" || !path.startsWith("/"))
    throw bad("path", `expected a path starting with "/", got ${JSON.stringify(path)}`);
  const out: RouteRequest = {
    client: { namespace: client["namespace"] },
    host,
    port,
    method: method.toUpperCase(),
    path,
    headers: v["headers"] === undefined ? {} : stringMap(v["headers"], "headers"),
  };
  if (client["labels"] !== undefined) out.client.labels = stringMap(client["labels"], "client.labels");
  if (v["scheme"] !== undefined) {
    if (v["scheme"] !== "http" && v["scheme"] !== "https")
      throw bad("scheme", `expected "http" or "https", got ${JSON.stringify(v["scheme"])}`);
    out.scheme = v["scheme"];
  }
  return out;
}
