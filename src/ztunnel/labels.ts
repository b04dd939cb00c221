/** Istio metric labels of one connection, from what ztunnel knows about both ends. */
import { type TrafficLabels, trafficLabels } from "../telemetry/metrics.js";
import type { ServiceInfo, WorkloadInfo } from "./state.js";

export interface LabelFacts {
  readonly reporter: "source" | "destination";
  readonly source: WorkloadInfo | undefined;
  /** Verified peer identity (inbound) or the source's own identity (outbound over HBONE). */
  readonly sourceIdentity: string | undefined;
  readonly destination: WorkloadInfo | undefined;
  readonly destinationIdentity: string | undefined;
  readonly service: ServiceInfo | undefined;
  readonly mtls: boolean;
  readonly responseFlags?: "-" | "DENY" | "CONNECT";
}

/** Istio's `*_principal` labels carry the SPIFFE URI; "unknown" when there is none. */
function principal(id: string | undefined): string | undefined {
  return id;
}

function namespaceOfIdentity(id: string | undefined): string | undefined {
  return id === undefined ? undefined : /\/ns\/([^/]+)\/sa\//.exec(id)?.[1];
}

export function connectionLabels(f: LabelFacts): TrafficLabels {
  const s = f.source;
  const d = f.destination;
  return trafficLabels({
    reporter: f.reporter,
    source_workload: s?.workloadName,
    source_canonical_service: s?.canonicalName,
    source_canonical_revision: s?.canonicalRevision,
    source_workload_namespace: s?.namespace ?? namespaceOfIdentity(f.sourceIdentity),
    source_principal: principal(f.sourceIdentity),
    source_app: s?.canonicalName,
    source_version: s?.canonicalRevision,
    source_cluster: s?.clusterId,
    destination_service: f.service?.hostname,
    destination_service_namespace: f.service?.namespace,
    destination_service_name: f.service?.name,
    destination_workload: d?.workloadName,
    destination_canonical_service: d?.canonicalName,
    destination_canonical_revision: d?.canonicalRevision,
    destination_workload_namespace: d?.namespace,
    destination_principal: principal(f.destinationIdentity),
    destination_app: d?.canonicalName,
    destination_version: d?.canonicalRevision,
    destination_cluster: d?.clusterId,
    request_protocol: "tcp",
    response_flags: f.responseFlags ?? "-",
    connection_security_policy: f.mtls ? "mutual_tls" : "none",
  });
}
