/**
 * The request an enforcement point asks about: one connection (ztunnel) or one HTTP request / opaque
 * TCP connection (waypoint). It is also the JSON that `ambit authz check --request` reads, so
 * `parseAuthzRequest` validates untrusted input field by field and names the bad field.
 */
import { isIP } from "node:net";
import { PolicyError, PolicyErrorCode } from "./errors.js";

export type EnforcementPoint = "ztunnel" | "waypoint";

export interface AuthzSourceInfo {
  /** Peer identity from the verified certificate, `<trust-domain>/ns/<ns>/sa/<sa>` (a `spiffe://` prefix is accepted); null for plaintext. */
  principal: string | null;
  /** Informational: Istio derives the source namespace from the principal, never from the address. */
  namespace?: string | null;
  ip: string;
  /** Whether the connection arrived over mTLS (HBONE). */
  mtls: boolean;
  /** Original client address (X-Forwarded-For / PROXY protocol) for `remoteIpBlocks` and `remote.ip`; defaults to `ip`. */
  remoteIp?: string;
}

export interface AuthzDestinationInfo {
  namespace: string;
  /** Labels of the destination workload (what `selector.matchLabels` compares with). */
  labels: Record<string, string>;
  /** Name of the Service (or ServiceEntry) the request addressed, in `namespace`; null for a direct pod address. */
  service?: string | null;
  /** Whether `service` names a Kubernetes Service (default) or an Istio ServiceEntry. */
  serviceKind?: "Service" | "ServiceEntry";
  /** The waypoint (a Gateway of class istio-waypoint) enforcing this request: `name` or `namespace/name`. */
  waypoint?: string | null;
  ip: string;
  port: number;
}

export interface AuthzJwtInfo {
  /** `<iss>/<sub>` of the validated JWT (`requestPrincipals`, `request.auth.principal`). */
  principal?: string;
  audiences?: string[];
  presenter?: string;
  claims?: Record<string, string | string[]>;
}

export interface AuthzHttpInfo {
  /** HTTP method; on a MySQL port ambit's waypoint puts the SQL statement kind here (SELECT, UPDATE, …). */
  method: string;
  path: string;
  host: string;
  headers?: Record<string, string>;
  /** Result of request authentication (JWT), when any. */
  auth?: AuthzJwtInfo;
}

export interface AuthzRequest {
  enforcement: EnforcementPoint;
  source: AuthzSourceInfo;
  destination: AuthzDestinationInfo;
  /** TLS SNI of the connection (`connection.sni`), when known. */
  connection?: { sni?: string };
  /** Present only at a waypoint that parsed HTTP (or MySQL); absent means an opaque TCP connection. */
  http?: AuthzHttpInfo | null;
}

function bad(path: string, message: string): PolicyError {
  return new PolicyError(PolicyErrorCode.BAD_REQUEST, "", path, `request field ${path}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function reqString(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== "string") throw bad(`${path}.${key}`, `expected a string, got ${describe(v)}`);
  return v;
}

function optString(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw bad(`${path}.${key}`, `expected a string, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "string" ? JSON.stringify(v) : typeof v;
}

function checkIp(v: string, path: string): void {
  if (isIP(v) === 0) throw bad(path, `${JSON.stringify(v)} is not an IPv4 or IPv6 address`);
}

function stringRecord(v: unknown, path: string): Record<string, string> {
  if (!isRecord(v)) throw bad(path, `expected a map of strings, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw bad(`${path}.${k}`, `expected a string, got ${describe(val)}`);
    out[k] = val;
  }
  return out;
}

/** Strips `spiffe://` so principals compare as Istio writes them (`cluster.local/ns/x/sa/y`). */
export function normalizePrincipal(p: string): string {
  return p.startsWith("spiffe://") ? p.slice("spiffe://".length) : p;
}

/** The `<ns>` of `<td>/ns/<ns>/sa/<sa>`; "" when the principal has no namespace segment. */
export function principalNamespace(principal: string): string {
  const i = principal.indexOf("/ns/");
  if (i === -1) return "";
  const rest = principal.slice(i + 4);
  const j = rest.indexOf("/");
  return j === -1 ? rest : rest.slice(0, j);
}

const SOURCE_KEYS = new Set(["principal", "namespace", "ip", "mtls", "remoteIp"]);
const DEST_KEYS = new Set(["namespace", "labels", "service", "serviceKind", "waypoint", "ip", "port"]);
const HTTP_KEYS = new Set(["method", "path", "host", "headers", "auth"]);
const TOP_KEYS = new Set(["enforcement", "source", "destination", "connection", "http"]);

function rejectUnknown(o: Record<string, unknown>, allowed: Set<string>, path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) {
      throw bad(
        path === "" ? k : `${path}.${k}`,
        `unknown field; expected one of ${[...allowed].join(", ")}`,
      );
    }
  }
}

/** Validates untrusted JSON into an AuthzRequest; throws PolicyError POL_ERR_BAD_REQUEST naming the field. */
export function parseAuthzRequest(input: unknown): AuthzRequest {
  if (!isRecord(input)) throw bad("(root)", `expected a JSON object, got ${describe(input)}`);
  rejectUnknown(input, TOP_KEYS, "");
  const enforcement = input["enforcement"];
  if (enforcement !== "ztunnel" && enforcement !== "waypoint") {
    throw bad("enforcement", `expected "ztunnel" or "waypoint", got ${describe(enforcement)}`);
  }

  const s = input["source"];
  if (!isRecord(s)) throw bad("source", `expected an object, got ${describe(s)}`);
  rejectUnknown(s, SOURCE_KEYS, "source");
  const rawPrincipal = s["principal"];
  if (rawPrincipal !== null && rawPrincipal !== undefined && typeof rawPrincipal !== "string") {
    throw bad("source.principal", `expected a string or null, got ${describe(rawPrincipal)}`);
  }
  const principal = typeof rawPrincipal === "string" ? normalizePrincipal(rawPrincipal) : null;
  if (principal !== null && principalNamespace(principal) === "") {
    throw bad(
      "source.principal",
      `${JSON.stringify(rawPrincipal)} is not of the form <trust-domain>/ns/<namespace>/sa/<account>`,
    );
  }
  const mtls = s["mtls"] === undefined ? principal !== null : s["mtls"];
  if (typeof mtls !== "boolean") throw bad("source.mtls", `expected true or false, got ${describe(mtls)}`);
  if (!mtls && principal !== null) {
    throw bad(
      "source.principal",
      "a plaintext connection (mtls: false) has no peer identity; set principal to null",
    );
  }
  const rawNs = s["namespace"];
  if (rawNs !== undefined && rawNs !== null && typeof rawNs !== "string") {
    throw bad("source.namespace", `expected a string or null, got ${describe(rawNs)}`);
  }
  if (typeof rawNs === "string" && principal !== null && principalNamespace(principal) !== rawNs) {
    throw bad(
      "source.namespace",
      `${JSON.stringify(rawNs)} disagrees with the principal's namespace ${JSON.stringify(principalNamespace(principal))}; Istio takes the namespace from the certificate`,
    );
  }
  const srcIp = reqString(s, "ip", "source");
  checkIp(srcIp, "source.ip");
  const remoteIp = optString(s, "remoteIp", "source");
  if (remoteIp !== undefined) checkIp(remoteIp, "source.remoteIp");
  const source: AuthzSourceInfo = {
    principal,
    namespace: typeof rawNs === "string" ? rawNs : null,
    ip: srcIp,
    mtls,
  };
  if (remoteIp !== undefined) source.remoteIp = remoteIp;

  const d = input["destination"];
  if (!isRecord(d)) throw bad("destination", `expected an object, got ${describe(d)}`);
  rejectUnknown(d, DEST_KEYS, "destination");
  const destNs = reqString(d, "namespace", "destination");
  if (destNs === "") throw bad("destination.namespace", "must not be empty");
  const labels = d["labels"] === undefined ? {} : stringRecord(d["labels"], "destination.labels");
  const destIp = reqString(d, "ip", "destination");
  checkIp(destIp, "destination.ip");
  const port = d["port"];
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad("destination.port", `expected a port number 1-65535, got ${describe(port)}`);
  }
  const svc = d["service"];
  if (svc !== undefined && svc !== null && typeof svc !== "string") {
    throw bad("destination.service", `expected a string or null, got ${describe(svc)}`);
  }
  const serviceKind = d["serviceKind"] ?? "Service";
  if (serviceKind !== "Service" && serviceKind !== "ServiceEntry") {
    throw bad(
      "destination.serviceKind",
      `expected "Service" or "ServiceEntry", got ${describe(serviceKind)}`,
    );
  }
  const wp = d["waypoint"];
  if (wp !== undefined && wp !== null && typeof wp !== "string") {
    throw bad("destination.waypoint", `expected "name" or "namespace/name", got ${describe(wp)}`);
  }
  const destination: AuthzDestinationInfo = {
    namespace: destNs,
    labels,
    service: typeof svc === "string" ? svc : null,
    serviceKind,
    waypoint: typeof wp === "string" ? wp : null,
    ip: destIp,
    port,
  };

  const request: AuthzRequest = { enforcement, source, destination };

  const c = input["connection"];
  if (c !== undefined) {
    if (!isRecord(c)) throw bad("connection", `expected an object, got ${describe(c)}`);
    rejectUnknown(c, new Set(["sni"]), "connection");
    const sni = optString(c, "sni", "connection");
    request.connection = sni === undefined ? {} : { sni };
  }

  const h = input["http"];
  if (h !== undefined && h !== null) {
    if (enforcement === "ztunnel") {
      throw bad(
        "http",
        'ztunnel enforces at L4 and never sees HTTP; remove http or use enforcement "waypoint"',
      );
    }
    if (!isRecord(h)) throw bad("http", `expected an object, got ${describe(h)}`);
    rejectUnknown(h, HTTP_KEYS, "http");
    const http: AuthzHttpInfo = {
      method: reqString(h, "method", "http"),
      path: optString(h, "path", "http") ?? "/",
      host: optString(h, "host", "http") ?? "",
    };
    if (http.method === "") throw bad("http.method", "must not be empty");
    if (h["headers"] !== undefined) http.headers = stringRecord(h["headers"], "http.headers");
    if (h["auth"] !== undefined) http.auth = parseJwt(h["auth"]);
    request.http = http;
  }
  return request;
}

function parseJwt(v: unknown): AuthzJwtInfo {
  if (!isRecord(v)) throw bad("http.auth", `expected an object, got ${describe(v)}`);
  rejectUnknown(v, new Set(["principal", "audiences", "presenter", "claims"]), "http.auth");
  const out: AuthzJwtInfo = {};
  const principal = optString(v, "principal", "http.auth");
  if (principal !== undefined) out.principal = principal;
  const presenter = optString(v, "presenter", "http.auth");
  if (presenter !== undefined) out.presenter = presenter;
  const aud = v["audiences"];
  if (aud !== undefined) {
    if (!Array.isArray(aud) || !aud.every((a) => typeof a === "string")) {
      throw bad("http.auth.audiences", "expected a list of strings");
    }
    out.audiences = aud as string[];
  }
  const claims = v["claims"];
  if (claims !== undefined) {
    if (!isRecord(claims)) throw bad("http.auth.claims", `expected an object, got ${describe(claims)}`);
    const c: Record<string, string | string[]> = {};
    for (const [k, val] of Object.entries(claims)) {
      if (typeof val === "string") c[k] = val;
      else if (Array.isArray(val) && val.every((x) => typeof x === "string")) c[k] = val as string[];
      else throw bad(`http.auth.claims.${k}`, "expected a string or a list of strings");
    }
    out.claims = c;
  }
  return out;
}
