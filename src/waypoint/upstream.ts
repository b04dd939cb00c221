/**
 * Which endpoint serves a request: a pure choice over the address book, the route decision's
 * destination and the DestinationRule subsets. Round-robin per (service, subset); the I/O code only
 * executes it.
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

export function chooseUpstream(
  book: AddressBook,
  target: { host: string; port: number; subsetLabels: Readonly<Record<string, string>> | undefined },
  next: (key: string, n: number) => number,
): UpstreamDecision {
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
  const key = `${service.key}|${JSON.stringify(labels)}`;
  const pick = candidates[next(key, candidates.length)] ?? candidates[0]!;
  return { kind: "endpoint", choice: { service, endpoint: pick.endpoint, port: pick.port } };
}
