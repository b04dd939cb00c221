/**
 * The ztunnel's HTTP endpoints: `/metrics` (15020), `/healthz/ready` (15021), and the admin API
 * (15000, loopback only): `/config_dump`, `/certs`, `/logging`, and the views `ambit ztunnel-config`
 * reads (as istioctl ztunnel-config reads ztunnel's): `/workloads`, `/certificates`, `/policies`,
 * `/connections`. Dumps never contain private keys or tokens (DESIGN §10): certificates are listed by
 * identity, serial, validity and chain only.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { toJson } from "@bufbuild/protobuf";
import type { CertStore } from "../identity/cert-store.js";
import { cpuProfile, ProfileBusyError } from "../telemetry/cpu-profile.js";
import { isLogLevel, LOG_LEVELS } from "../telemetry/env.js";
import type { Logger } from "../telemetry/logger.js";
import type { MeshMetrics } from "../telemetry/metrics.js";
import { AuthorizationSchema } from "../xds/gen/istio/security/authorization_pb.js";
import type { LiveConnectionView } from "./connections.js";
import type { ZtunnelState } from "./state.js";

export type Readiness =
  | { readonly ready: true; readonly since: string }
  | { readonly ready: false; readonly waitingFor: readonly string[] };

export interface AdminSources {
  readonly node: string;
  readonly state: ZtunnelState;
  readonly certs: CertStore;
  readonly logger: Logger;
  readonly metrics: MeshMetrics;
  readonly readiness: () => Readiness;
  readonly xds: () => unknown;
  readonly listeners: () => Record<string, string>;
  /** Pods served from sockets inside their own netns (in-pod mode): uid, netns, addresses. */
  readonly inPod?: () => readonly { uid: string; netns: string; ips: readonly string[] }[];
  /** Open connections, oldest first. */
  readonly connections: () => LiveConnectionView[];
  /** Wall clock for "time left" (tests pin it). */
  readonly now?: () => number;
}

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = typeof body === "string" ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(text);
}

export function certificatesDump(certs: CertStore): unknown[] {
  return certs.list().map((c) => ({
    identity: c.identity.toString(),
    serial: c.serial,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    state: certs.status(c.identity) ?? null,
    // Public material only: the chain, never `keyPem`.
    certChainPem: c.certChainPem,
  }));
}

/** Certificates without the chain: what an operator checks (identity, serial, expiry, time left). */
export function certificatesView(certs: CertStore, now: number): unknown[] {
  return certs
    .list()
    .map((c) => ({
      identity: c.identity.toString(),
      serial: c.serial,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      secondsLeft: Math.max(0, Math.floor((c.notAfter.getTime() - now) / 1000)),
      state: certs.status(c.identity)?.state ?? "unknown",
    }))
    .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

/** Every workload this ztunnel knows (from xDS), `local` = scheduled on its node. */
export function workloadsView(state: ZtunnelState): unknown[] {
  return [...state.workloads()].map((w) => ({
    uid: w.uid,
    namespace: w.namespace,
    name: w.name,
    addresses: w.addresses,
    node: w.node,
    identity: w.identity,
    protocol: w.tunnel === "hbone" ? "HBONE" : "TCP",
    mode: w.mode,
    waypoint:
      w.waypoint === undefined
        ? null
        : w.waypoint.kind === "hostname"
          ? `${w.waypoint.namespace}/${w.waypoint.hostname}`
          : `${w.waypoint.ip}:${w.waypoint.port}`,
    services: [...w.services.keys()],
    local: state.isLocal(w),
  }));
}

/** The L4 policies (istio.security.Authorization) this ztunnel enforces. */
export function policiesView(state: ZtunnelState): unknown[] {
  return [...state.policies()].map((p) => ({
    key: p.key,
    namespace: p.namespace,
    name: p.name,
    scope: p.scope,
    action: p.action,
    rules: p.proto.rules.length,
    spec: toJson(AuthorizationSchema, p.proto),
  }));
}

export function configDump(s: AdminSources): unknown {
  const { state } = s;
  return {
    node: s.node,
    stateVersion: state.version,
    readiness: s.readiness(),
    xds: s.xds(),
    listeners: s.listeners(),
    inPod: s.inPod?.() ?? [],
    workloads: [...state.workloads()].map((w) => ({
      ...w,
      services: Object.fromEntries(w.services),
      local: state.isLocal(w),
    })),
    services: [...state.services()],
    policies: [...state.policies()].map((p) => ({
      key: p.key,
      scope: p.scope,
      action: p.action,
      spec: toJson(AuthorizationSchema, p.proto),
    })),
    certificates: certificatesDump(s.certs),
  };
}

export function metricsHandler(metrics: MeshMetrics, beforeScrape: () => void = () => {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.split("?")[0] !== "/metrics") {
      send(res, 404, { error: "try /metrics" });
      return;
    }
    beforeScrape();
    metrics.registry.metrics().then(
      (text) => send(res, 200, text, metrics.registry.contentType),
      (e: unknown) => send(res, 500, { error: String(e) }),
    );
  };
}

export function readinessHandler(readiness: () => Readiness) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.split("?")[0] !== "/healthz/ready") {
      send(res, 404, { error: "try /healthz/ready" });
      return;
    }
    const r = readiness();
    send(res, r.ready ? 200 : 503, r);
  };
}

export function adminHandler(s: AdminSources) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://admin");
    switch (url.pathname) {
      case "/config_dump": {
        send(res, 200, configDump(s));
        return;
      }
      case "/certs": {
        send(res, 200, { certificates: certificatesDump(s.certs) });
        return;
      }
      case "/certificates": {
        send(res, 200, { node: s.node, certificates: certificatesView(s.certs, (s.now ?? Date.now)()) });
        return;
      }
      case "/workloads": {
        send(res, 200, { node: s.node, workloads: workloadsView(s.state) });
        return;
      }
      case "/policies": {
        send(res, 200, { node: s.node, policies: policiesView(s.state) });
        return;
      }
      case "/connections": {
        send(res, 200, { node: s.node, connections: s.connections() });
        return;
      }
      case "/logging": {
        const level = url.searchParams.get("level");
        if (level === null) {
          send(res, 200, { level: s.logger.level });
          return;
        }
        if (req.method !== "POST" && req.method !== "PUT") {
          send(res, 405, { error: "change the level with POST /logging?level=<level>" });
          return;
        }
        if (!isLogLevel(level)) {
          send(res, 400, { error: `unknown level "${level}"; use one of ${LOG_LEVELS.join(", ")}` });
          return;
        }
        s.logger.level = level;
        send(res, 200, { level });
        return;
      }
      case "/debug/pprof/profile": {
        // ztunnel's own path for this; the answer is a V8 .cpuprofile (DevTools, speedscope).
        const seconds = Number(url.searchParams.get("seconds") ?? "10");
        if (!Number.isInteger(seconds) || seconds < 1 || seconds > 120) {
          send(res, 400, {
            error: `seconds=${url.searchParams.get("seconds")}: expected a whole number 1-120`,
          });
          return;
        }
        cpuProfile(seconds).then(
          (text) => {
            res.writeHead(200, {
              "content-type": "application/json",
              "content-disposition": 'attachment; filename="ztunnel.cpuprofile"',
            });
            res.end(text);
          },
          (e: unknown) =>
            send(res, e instanceof ProfileBusyError ? 409 : 500, { error: (e as Error).message }),
        );
        return;
      }
      case "/": {
        send(res, 200, {
          endpoints: [
            "/config_dump",
            "/certs",
            "/certificates",
            "/workloads",
            "/policies",
            "/connections",
            "/logging?level=<level>",
            "/debug/pprof/profile?seconds=<1-120>",
          ],
        });
        return;
      }
      default: {
        send(res, 404, { error: `no admin endpoint ${url.pathname}` });
        return;
      }
    }
  };
}
