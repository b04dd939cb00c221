/**
 * The compiled policies, indexed for the two enforcement points.
 *
 * Attachment follows Istio ambient (istio.io/latest/docs/ambient/usage/l4-policy/ "Authorization policy
 * attachment", and istiod's pilot/pkg/model/policyattachment.go):
 * - ztunnel (destination node) enforces policies without targetRefs: those of the root namespace
 *   (mesh-wide; with a selector, on matching workloads of every namespace) and those of the workload's
 *   namespace (all of its workloads, or the ones the selector matches). It ignores targetRef policies.
 * - a waypoint enforces only targetRef policies: to its Gateway, to the Service / ServiceEntry addressed,
 *   or to GatewayClass istio-waypoint from the root namespace. "Waypoints never use selector": a selector
 *   that matches the waypoint's own pod is enforced by the ztunnel in front of the waypoint, not by it.
 */
import type { AuthzDestinationInfo } from "./request.js";
import type { ApplicablePolicies, CompiledPeerAuthentication, CompiledPolicy } from "./types.js";

export function auditIgnoredAtZtunnel(key: string): string {
  return `AUDIT policy ${key} is ignored by ztunnel (ztunnel does not support the AUDIT action); attach it to a waypoint with targetRefs`;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** Waypoint look-ups are keyed by strings; bound the memo so a scan of many services cannot grow it forever. */
const WAYPOINT_CACHE_LIMIT = 10_000;

interface NamespaceIndex {
  readonly namespaceWide: CompiledPolicy[];
  readonly selected: CompiledPolicy[];
}

function selects(
  matchLabels: readonly (readonly [string, string])[],
  labels: Record<string, string>,
): boolean {
  for (const [k, v] of matchLabels) if (labels[k] !== v) return false;
  return true;
}

export class PolicySet {
  readonly rootNamespace: string;
  readonly policies: readonly CompiledPolicy[];
  readonly peerAuthentications: readonly CompiledPeerAuthentication[];
  readonly #meshWide: CompiledPolicy[] = [];
  readonly #meshSelected: CompiledPolicy[] = [];
  readonly #byNamespace = new Map<string, NamespaceIndex>();
  /** `Kind/namespace/name` → policies targeting it. */
  readonly #byTarget = new Map<string, CompiledPolicy[]>();
  readonly #allWaypoints: CompiledPolicy[] = [];
  /** Memo: the labels object of a workload (stable in a ztunnel's state) → namespace → applicable. */
  readonly #ztunnelMemo = new WeakMap<object, Map<string, ApplicablePolicies>>();
  readonly #waypointMemo = new Map<string, ApplicablePolicies>();
  readonly #paMesh: CompiledPeerAuthentication | null;
  readonly #paNamespace = new Map<string, CompiledPeerAuthentication>();
  readonly #paWorkload = new Map<string, CompiledPeerAuthentication[]>();

  constructor(rootNamespace: string, policies: CompiledPolicy[], peerAuths: CompiledPeerAuthentication[]) {
    this.rootNamespace = rootNamespace;
    this.policies = Object.freeze(policies);
    this.peerAuthentications = Object.freeze(peerAuths);
    for (const p of policies) {
      const a = p.attachment;
      if (a.kind === "targetRefs") {
        for (const t of a.targets) {
          if (t.kind === "GatewayClass") {
            if (p.namespace === rootNamespace && !this.#allWaypoints.includes(p)) this.#allWaypoints.push(p);
            continue;
          }
          const k = `${t.kind}/${p.namespace}/${t.name}`;
          const list = this.#byTarget.get(k) ?? [];
          if (!list.includes(p)) list.push(p);
          this.#byTarget.set(k, list);
        }
      } else if (p.namespace === rootNamespace) {
        (a.kind === "namespace" ? this.#meshWide : this.#meshSelected).push(p);
      } else {
        let idx = this.#byNamespace.get(p.namespace);
        if (idx === undefined) {
          idx = { namespaceWide: [], selected: [] };
          this.#byNamespace.set(p.namespace, idx);
        }
        (a.kind === "namespace" ? idx.namespaceWide : idx.selected).push(p);
      }
    }
    // Istio picks the oldest policy when several apply at one level; resources here carry no creation
    // time, so the first by namespace/name wins (deterministic, documented in docs/policy.md).
    let mesh: CompiledPeerAuthentication | null = null;
    for (const pa of peerAuths) {
      const hasSelector = pa.matchLabels !== null && pa.matchLabels.length > 0;
      if (!hasSelector) {
        if (pa.namespace === rootNamespace) mesh ??= pa;
        else if (!this.#paNamespace.has(pa.namespace)) this.#paNamespace.set(pa.namespace, pa);
      } else if (pa.namespace !== rootNamespace) {
        const list = this.#paWorkload.get(pa.namespace) ?? [];
        list.push(pa);
        this.#paWorkload.set(pa.namespace, list);
      }
    }
    this.#paMesh = mesh;
    Object.freeze(this);
  }

  /**
   * Policies a destination ztunnel enforces for a workload (namespace + labels). The result is memoised
   * on the identity of the `labels` object, so treat a workload's labels as immutable: replace the
   * object when they change (as a state snapshot from xDS does), never edit it in place.
   */
  forZtunnel(namespace: string, labels: Record<string, string>): ApplicablePolicies {
    let perNs = this.#ztunnelMemo.get(labels);
    const hit = perNs?.get(namespace);
    if (hit !== undefined) return hit;
    const found: CompiledPolicy[] = [...this.#meshWide];
    for (const p of this.#meshSelected) {
      if (p.attachment.kind === "selector" && selects(p.attachment.matchLabels, labels)) found.push(p);
    }
    if (namespace !== this.rootNamespace) {
      const idx = this.#byNamespace.get(namespace);
      if (idx !== undefined) {
        found.push(...idx.namespaceWide);
        for (const p of idx.selected) {
          if (p.attachment.kind === "selector" && selects(p.attachment.matchLabels, labels)) found.push(p);
        }
      }
    }
    const result = group(found, "ztunnel");
    if (perNs === undefined) {
      perNs = new Map();
      this.#ztunnelMemo.set(labels, perNs);
    }
    perNs.set(namespace, result);
    return result;
  }

  /** Policies a waypoint enforces for a request to `destination` through waypoint `waypoint` (namespace/name). */
  forWaypoint(destination: AuthzDestinationInfo): ApplicablePolicies {
    const wp = waypointRef(destination);
    const kind = destination.serviceKind ?? "Service";
    const svc = destination.service ?? null;
    const memoKey = `${wp ?? ""}|${kind}|${destination.namespace}|${svc ?? ""}`;
    const hit = this.#waypointMemo.get(memoKey);
    if (hit !== undefined) return hit;
    const found = new Set<CompiledPolicy>(this.#allWaypoints);
    if (wp !== null) for (const p of this.#byTarget.get(`Gateway/${wp}`) ?? EMPTY) found.add(p);
    if (svc !== null)
      for (const p of this.#byTarget.get(`${kind}/${destination.namespace}/${svc}`) ?? EMPTY) found.add(p);
    const list = [...found].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const result = group(list, "waypoint");
    if (this.#waypointMemo.size >= WAYPOINT_CACHE_LIMIT) this.#waypointMemo.clear();
    this.#waypointMemo.set(memoKey, result);
    return result;
  }

  /** PeerAuthentication levels for a workload: mesh, namespace, and the workload-level one that selects it. */
  peerAuthenticationsFor(
    namespace: string,
    labels: Record<string, string>,
  ): {
    mesh: CompiledPeerAuthentication | null;
    namespace: CompiledPeerAuthentication | null;
    workload: CompiledPeerAuthentication | null;
  } {
    let workload: CompiledPeerAuthentication | null = null;
    for (const pa of this.#paWorkload.get(namespace) ?? EMPTY) {
      if (pa.matchLabels !== null && selects(pa.matchLabels, labels)) {
        workload = pa;
        break;
      }
    }
    return { mesh: this.#paMesh, namespace: this.#paNamespace.get(namespace) ?? null, workload };
  }
}

/** `destination.waypoint` as `namespace/name` (a bare name is in the destination's namespace). */
export function waypointRef(destination: AuthzDestinationInfo): string | null {
  const w = destination.waypoint;
  if (w === undefined || w === null || w === "") return null;
  return w.includes("/") ? w : `${destination.namespace}/${w}`;
}

function group(list: readonly CompiledPolicy[], at: "ztunnel" | "waypoint"): ApplicablePolicies {
  const deny: CompiledPolicy[] = [];
  const allow: CompiledPolicy[] = [];
  const audit: CompiledPolicy[] = [];
  const dryRun: CompiledPolicy[] = [];
  const ignoredWarnings: string[] = [];
  const sorted = [...list].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const p of sorted) {
    if (p.action === "AUDIT" && at === "ztunnel") {
      ignoredWarnings.push(auditIgnoredAtZtunnel(p.key));
      continue;
    }
    if (p.dryRun) dryRun.push(p);
    else if (p.action === "DENY") deny.push(p);
    else if (p.action === "ALLOW") allow.push(p);
    else audit.push(p);
  }
  const where = at === "ztunnel" ? "ztunnel" : "the waypoint";
  const names = allow.slice(0, 3).map((p) => p.key);
  const named = allow.length > 3 ? `${names.join(", ")}, … (${allow.length} in all)` : names.join(", ");
  const noAllowReason = `denied at ${where}: ALLOW policies apply (${named}) but none matched; once any ALLOW policy applies, everything else is denied`;
  return Object.freeze({ deny, allow, audit, dryRun, ignoredWarnings, noAllowReason });
}
