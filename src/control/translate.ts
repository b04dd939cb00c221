/**
 * Registry + policies → the resources ztunnel consumes: `istio.workload.Address` (one Workload per
 * running pod / WorkloadEntry, one Service per Service / ServiceEntry host) and
 * `istio.security.Authorization`. Pure; the control plane hands the result to the xDS server,
 * which diffs and pushes it. Every ztunnel gets every address (it needs the whole address book to
 * resolve destinations), as in Istio.
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { AuthorizationPolicy, MtlsMode, PeerAuthentication } from "../api/types.js";
import {
  Action,
  type Authorization,
  AuthorizationSchema,
  ClauseSchema,
  MatchSchema,
  RuleSchema,
  Scope,
  StringMatchSchema,
} from "../xds/gen/istio/security/authorization_pb.js";
import {
  type Address,
  AddressSchema,
  ExtensionSchema,
  type GatewayAddress,
  GatewayAddressSchema,
  LocalitySchema,
  NetworkAddressSchema,
  PortListSchema,
  PortSchema,
  ServiceSchema,
  TunnelProtocol,
  WorkloadSchema,
  WorkloadStatus,
  WorkloadType,
} from "../xds/gen/istio/workload/workload_pb.js";
import { convertAuthorizationPolicy } from "./authz-convert.js";
import { ipBytes } from "./ip-pool.js";
import { HBONE_PORT, matches, type Registry, type WaypointRef, type WorkloadInfo } from "./registry.js";
import type { StoredResource } from "./store.js";
import { type L7Translation, translateL7 } from "./translate-l7.js";

export interface TranslateOptions {
  rootNamespace: string;
  trustDomain: string;
  clusterId: string;
  network: string;
}

/** Marks a workload in `monitor` mode: captured and observed, but passed through without a tunnel. */
export const MONITOR_EXTENSION = "ambit.dev/dataplane-mode-monitor";

export interface XdsSnapshot {
  /** Resource name (workload uid, or `namespace/hostname`) → Address. */
  addresses: Map<string, Address>;
  /** `namespace/name` → Authorization. */
  authorizations: Map<string, Authorization>;
  /** Per policy key, why parts of it do not apply at L4. */
  warnings: Map<string, string[]>;
  /** Waypoint L7 resources and which waypoint sees which (translate-l7.ts). */
  l7: L7Translation;
}

export function translate(
  registry: Registry,
  resources: readonly StoredResource[],
  o: TranslateOptions,
): XdsSnapshot {
  const authorizations = new Map<string, Authorization>();
  const warnings = new Map<string, string[]>();
  const selectorPolicies: AuthorizationPolicy[] = [];
  for (const r of resources) {
    if (r.kind !== "AuthorizationPolicy") continue;
    const p = r as unknown as AuthorizationPolicy;
    const key = `${p.metadata.namespace ?? "default"}/${p.metadata.name}`;
    const { authorization, warnings: w } = convertAuthorizationPolicy(o.rootNamespace, p);
    if (w.length > 0) warnings.set(key, w);
    if (!authorization) continue;
    authorizations.set(key, authorization);
    if (p.spec?.selector) selectorPolicies.push(p);
  }

  const addresses = new Map<string, Address>();
  const peerAuth = resources.filter(
    (r) => r.kind === "PeerAuthentication",
  ) as unknown as PeerAuthentication[];
  const strictKey = `${o.rootNamespace}/${STATIC_STRICT_POLICY}`;
  let anyStrict = false;
  for (const w of registry.workloads) {
    if (!w.ip) continue;
    const strict = effectiveMtls(peerAuth, w, o.rootNamespace) === "STRICT";
    anyStrict ||= strict;
    addresses.set(
      w.uid,
      create(AddressSchema, {
        type: { case: "workload", value: workloadMessage(w, selectorPolicies, o, strict ? [strictKey] : []) },
      }),
    );
  }
  if (anyStrict) authorizations.set(strictKey, staticStrictPolicy(o.rootNamespace));
  for (const s of registry.services) {
    const name = `${s.namespace}/${s.hostname}`;
    addresses.set(
      name,
      create(AddressSchema, {
        type: {
          case: "service",
          value: create(ServiceSchema, {
            name: s.name,
            namespace: s.namespace,
            hostname: s.hostname,
            addresses: s.vip
              ? [create(NetworkAddressSchema, { network: o.network, address: ipBytes(s.vip) })]
              : [],
            ports: s.ports.map((p) =>
              create(PortSchema, {
                servicePort: p.port,
                // A named target port differs per pod; 0 tells ztunnel to use each workload's own mapping.
                targetPort: typeof p.targetPort === "number" ? p.targetPort : 0,
              }),
            ),
            subjectAltNames: s.subjectAltNames,
            ...(s.waypoint ? { waypoint: gatewayAddress(s.waypoint, o.network) } : {}),
          }),
        },
      }),
    );
  }
  return { addresses, authorizations, warnings, l7: translateL7(registry, resources, o.rootNamespace) };
}

function workloadMessage(
  w: WorkloadInfo,
  policies: readonly AuthorizationPolicy[],
  o: TranslateOptions,
  extraPolicies: readonly string[],
) {
  // Selector policies of the workload's namespace and of the root namespace; namespace-wide and
  // global ones are found by ztunnel through their scope, so they are not listed here.
  const attached = policies
    .filter((p) => {
      const ns = p.metadata.namespace ?? "default";
      return (
        (ns === w.namespace || ns === o.rootNamespace) &&
        matches(p.spec?.selector?.matchLabels ?? {}, w.labels)
      );
    })
    .map((p) => `${p.metadata.namespace ?? "default"}/${p.metadata.name}`)
    .concat(extraPolicies)
    .sort();
  return create(WorkloadSchema, {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.ip ? [ipBytes(w.ip)] : [],
    network: w.network,
    // Waypoints terminate HBONE themselves; enrolled pods are reached through their node's ztunnel.
    tunnelProtocol: w.enrollment === "ambient" || w.isWaypoint ? TunnelProtocol.HBONE : TunnelProtocol.NONE,
    nativeTunnel: w.isWaypoint,
    trustDomain: o.trustDomain,
    serviceAccount: w.serviceAccount,
    node: w.node ?? "",
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: w.owner ? WorkloadType.DEPLOYMENT : WorkloadType.POD,
    workloadName: w.owner ?? w.name,
    services: Object.fromEntries(
      Object.entries(w.services).map(([k, ports]) => [
        k,
        create(PortListSchema, { ports: ports.map((p) => create(PortSchema, p)) }),
      ]),
    ),
    authorizationPolicies: attached,
    status: WorkloadStatus.HEALTHY,
    clusterId: o.clusterId,
    ...(w.region || w.zone ? { locality: create(LocalitySchema, { region: w.region, zone: w.zone }) } : {}),
    ...(w.waypoint ? { waypoint: gatewayAddress(w.waypoint, o.network) } : {}),
    extensions: w.enrollment === "monitor" ? [create(ExtensionSchema, { name: MONITOR_EXTENSION })] : [],
  });
}

function gatewayAddress(wp: WaypointRef, network: string): GatewayAddress {
  return create(GatewayAddressSchema, {
    destination: wp.vip
      ? { case: "address", value: create(NetworkAddressSchema, { network, address: ipBytes(wp.vip) }) }
      : {
          case: "hostname",
          value: {
            $typeName: "istio.workload.NamespacedHostname",
            namespace: wp.namespace,
            hostname: wp.hostname,
          },
        },
    hboneMtlsPort: HBONE_PORT,
  });
}

/** istiod's name for the one DENY policy that expresses PeerAuthentication STRICT to ztunnel. */
export const STATIC_STRICT_POLICY = "istio_converted_static_strict";

/** Deny any connection without a peer identity, i.e. anything that did not arrive over mTLS. */
function staticStrictPolicy(rootNamespace: string): Authorization {
  return create(AuthorizationSchema, {
    name: STATIC_STRICT_POLICY,
    namespace: rootNamespace,
    scope: Scope.WORKLOAD_SELECTOR,
    action: Action.DENY,
    rules: [
      create(RuleSchema, {
        clauses: [
          create(ClauseSchema, {
            matches: [
              create(MatchSchema, {
                notPrincipals: [
                  create(StringMatchSchema, { matchType: { case: "presence", value: create(EmptySchema) } }),
                ],
              }),
            ],
          }),
        ],
      }),
    ],
  });
}

/**
 * The workload's effective PeerAuthentication mode, inherited mesh (root namespace, no selector)
 * → namespace (no selector) → workload (selector); UNSET inherits. Istio picks the oldest policy
 * at each level; the store keeps no creation time, so the first by name wins. Port-level modes are
 * not translated yet (docs/control-plane.md).
 */
export function effectiveMtls(
  policies: readonly PeerAuthentication[],
  w: Pick<WorkloadInfo, "namespace" | "labels">,
  rootNamespace: string,
): MtlsMode {
  const sorted = [...policies].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const hasSelector = (p: PeerAuthentication): boolean =>
    Object.keys(p.spec?.selector?.matchLabels ?? {}).length > 0;
  const mesh = sorted.find((p) => p.metadata.namespace === rootNamespace && !hasSelector(p));
  const ns = sorted.find(
    (p) => p.metadata.namespace === w.namespace && w.namespace !== rootNamespace && !hasSelector(p),
  );
  const wl = sorted.find(
    (p) =>
      p.metadata.namespace === w.namespace &&
      w.namespace !== rootNamespace &&
      hasSelector(p) &&
      matches(p.spec?.selector?.matchLabels ?? {}, w.labels),
  );
  let mode: MtlsMode = "PERMISSIVE";
  for (const p of [mesh, ns, wl]) {
    const m = p?.spec?.mtls?.mode;
    if (m && m !== "UNSET") mode = m;
  }
  return mode;
}
