/**
 * Reads what the mesh views need from the control plane's admin API (the registry snapshot, the
 * trust domain and the objects that carry labels and policies) and builds a MeshView from it.
 */
import type { ResourceBase } from "../api/types.js";
import { MeshView } from "../control/mesh-views.js";
import type { Registry } from "../control/registry.js";
import type { AdminClient } from "./admin-client.js";

/** Kinds whose labels or specs the views read (enrollment, waypoints, policies, service labels). */
const VIEW_KINDS = [
  "Namespace",
  "MeshConfig",
  "Gateway",
  "Service",
  "ServiceEntry",
  "AuthorizationPolicy",
  "PeerAuthentication",
] as const;

export async function loadMeshView(client: AdminClient): Promise<MeshView> {
  const [registry, status, ...lists] = await Promise.all([
    client.get<Registry>("/v1/registry"),
    client.get<{ controlPlane?: { trustDomain?: string } }>("/v1/status"),
    ...VIEW_KINDS.map((k) =>
      client.get<{ items: ResourceBase<string, unknown>[] }>(`/v1/resources/${k}?allNamespaces=true`),
    ),
  ]);
  return new MeshView({
    registry,
    resources: lists.flatMap((l) => l.items),
    trustDomain: status.controlPlane?.trustDomain ?? "cluster.local",
  });
}
