/**
 * Which endpoint serves a request: a pure choice over the address book, the route decision's
 * destination and the DestinationRule subsets. `upstreamCandidates` lists the endpoints of a backend;
 * `chooseUpstream` rotates over them (opaque TCP); HTTP requests pick through `Balancers`
 * (balancers.ts) with the DestinationRule's load-balancer policy.
 */
import type { AddressBook, WaypointEndpoint, WaypointService } from "./address-book.js";

export interface UpstreamChoice {
  readonly service: WaypointService;
  readonly endpoint: WaypointEndpoint;
  readonly port: number;
}

export type UpstreamDecision =
  | { readonly kind: "endpoint"; readonly choice: UpstreamChoice }
  | { readonly kind: "none"; readonly reason: string };

export type UpstreamCandidates =
  | {
      readonly kind: "endpoints";
      readonly service: WaypointService;
      /** Identifies the backend (service, subset labels, port) for per-backend load-balancer state. */
      readonly key: string;
      readonly candidates: readonly UpstreamChoice[];
    }
  | { readonly kind: "none"; readonly reason: string };

export interface UpstreamTarget {
  host: string;
  port: number;
  subsetLabels: Readonly<Record<string, string>> | undefined;
}

export function upstreamCandidates(book: AddressBook, target: UpstreamTarget): UpstreamCandidates {
  const service = book.serviceByHost(target.host);
  if (service === undefined) return { kind: "none", reason: `service ${target.host} is not in the mesh` };
  const labels = target.subsetLabels ?? {};
  const candidates = book
    .endpoints(service, target.port)
    .filter((c) => Object.entries(labels).every(([k, v]) => c.endpoint.labels[k] === v));
  if (candidates.length === 0)
    return {
      kind: "none",
      reason: `no healthy endpoint of ${service.key} port ${target.port}${
        target.subsetLabels ? ` with labels ${JSON.stringify(labels)}` : ""
      }`,
    };
  return {
    kind: "endpoints",
    service,
    key: `${service.key}|${JSON.stringify(labels)}`,
    candidates: candidates.map((c) => ({ service, endpoint: c.endpoint, port: c.port })),
  };
}

export function chooseUpstream(
  book: AddressBook,
  target: UpstreamTarget,
  next: (key: string, n: number) => number,
): UpstreamDecision {
  const found = upstreamCandidates(book, target);
  if (found.kind === "none") return found;
  const pick = found.candidates[next(found.key, found.candidates.length)] ?? found.candidates[0]!;
  return { kind: "endpoint", choice: pick };
}
