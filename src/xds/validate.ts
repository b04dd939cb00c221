import type { L7Resource } from "./gen/ambit/waypoint/l7_pb.js";
import type { Authorization, Match, StringMatch } from "./gen/istio/security/authorization_pb.js";
import type {
  Address,
  GatewayAddress,
  NetworkAddress,
  Port,
  Service,
  Workload,
} from "./gen/istio/workload/workload_pb.js";

/**
 * Validators for resources arriving over xDS. The control plane is trusted to authenticate, not to
 * be bug-free: anything that would make the data plane misbehave (an address of the wrong length,
 * a port of 0, a million entries) is rejected here so the response is NACKed and the last good
 * config stays in force. Each validator returns null, or one path-like message naming the field,
 * the bad value and what was expected, e.g. `workload[uid=a].addresses[0]: 3 bytes, expected 4 or 16`.
 */
export type ResourceValidator<T = unknown> = (resource: T, name: string) => string | null;

export const XDS_LIMITS = {
  /** Resource names, uids, SANs, policy references. Istio uids embed cluster/group/kind/ns/name. */
  nameLength: 1024,
  /** DNS names, namespaces, networks, trust domains, service accounts (RFC 1123 bound). */
  labelLength: 253,
  addressesPerWorkload: 16,
  addressesPerService: 64,
  portsPerService: 1024,
  servicesPerWorkload: 1024,
  policiesPerWorkload: 1024,
  subjectAltNames: 64,
  extensions: 64,
  rulesPerPolicy: 1024,
  clausesPerRule: 64,
  matchesPerClause: 256,
  valuesPerMatchField: 1024,
  /** One L7 resource's JSON (a VirtualService with many routes stays well below). */
  l7JsonBytes: 1024 * 1024,
} as const;

class Invalid {
  constructor(readonly message: string) {}
}

function fail(path: string, detail: string): never {
  throw new Invalid(`${path}: ${detail}`);
}

function checkString(path: string, value: string, max: number = XDS_LIMITS.labelLength): void {
  if (value.length > max) fail(path, `${value.length} characters, at most ${max} allowed`);
}

function checkCount(path: string, count: number, max: number): void {
  if (count > max) fail(path, `${count} entries, at most ${max} allowed`);
}

function checkIp(path: string, bytes: Uint8Array): void {
  if (bytes.length !== 4 && bytes.length !== 16) fail(path, `${bytes.length} bytes, expected 4 or 16`);
}

function checkPort(path: string, port: number, allowZero: boolean): void {
  const min = allowZero ? 0 : 1;
  if (!Number.isInteger(port) || port < min || port > 65535) fail(path, `${port}, expected ${min}-65535`);
}

function checkPorts(path: string, ports: readonly Port[]): void {
  checkCount(path, ports.length, XDS_LIMITS.portsPerService);
  ports.forEach((p, i) => {
    checkPort(`${path}[${i}].service_port`, p.servicePort, false);
    // 0 means "same as service_port" (a named target port not resolved for this endpoint).
    checkPort(`${path}[${i}].target_port`, p.targetPort, true);
  });
}

function checkNetworkAddress(path: string, a: NetworkAddress): void {
  checkString(`${path}.network`, a.network);
  checkIp(`${path}.address`, a.address);
}

function checkGateway(path: string, g: GatewayAddress | undefined): void {
  if (g === undefined) return;
  switch (g.destination.case) {
    case "address":
      checkNetworkAddress(`${path}.address`, g.destination.value);
      break;
    case "hostname":
      checkString(`${path}.hostname.namespace`, g.destination.value.namespace);
      checkString(`${path}.hostname.hostname`, g.destination.value.hostname);
      if (g.destination.value.hostname === "")
        fail(`${path}.hostname.hostname`, "empty, expected a hostname");
      break;
    case undefined:
      fail(`${path}.destination`, "unset, expected hostname or address");
  }
  checkPort(`${path}.hbone_mtls_port`, g.hboneMtlsPort, false);
}

function checkWorkload(path: string, w: Workload): void {
  checkString(`${path}.uid`, w.uid, XDS_LIMITS.nameLength);
  checkString(`${path}.name`, w.name);
  checkString(`${path}.namespace`, w.namespace);
  checkCount(`${path}.addresses`, w.addresses.length, XDS_LIMITS.addressesPerWorkload);
  w.addresses.forEach((a, i) => {
    checkIp(`${path}.addresses[${i}]`, a);
  });
  checkString(`${path}.hostname`, w.hostname);
  if (w.addresses.length === 0 && w.hostname === "")
    fail(path, "no addresses and no hostname, expected at least one");
  checkString(`${path}.network`, w.network);
  checkString(`${path}.trust_domain`, w.trustDomain);
  checkString(`${path}.service_account`, w.serviceAccount);
  checkGateway(`${path}.waypoint`, w.waypoint);
  checkGateway(`${path}.network_gateway`, w.networkGateway);
  checkString(`${path}.node`, w.node);
  checkString(`${path}.canonical_name`, w.canonicalName);
  checkString(`${path}.canonical_revision`, w.canonicalRevision);
  checkString(`${path}.workload_name`, w.workloadName);
  checkString(`${path}.cluster_id`, w.clusterId);
  if (w.applicationTunnel !== undefined) {
    checkPort(`${path}.application_tunnel.port`, w.applicationTunnel.port, true);
  }
  const services = Object.entries(w.services);
  checkCount(`${path}.services`, services.length, XDS_LIMITS.servicesPerWorkload);
  for (const [key, list] of services) {
    checkString(`${path}.services[${key.slice(0, 64)}]`, key, XDS_LIMITS.nameLength);
    checkPorts(`${path}.services[${key}].ports`, list.ports);
  }
  checkCount(
    `${path}.authorization_policies`,
    w.authorizationPolicies.length,
    XDS_LIMITS.policiesPerWorkload,
  );
  w.authorizationPolicies.forEach((p, i) => {
    checkString(`${path}.authorization_policies[${i}]`, p, XDS_LIMITS.nameLength);
  });
  if (w.locality !== undefined) {
    checkString(`${path}.locality.region`, w.locality.region);
    checkString(`${path}.locality.zone`, w.locality.zone);
    checkString(`${path}.locality.subzone`, w.locality.subzone);
  }
  checkCount(`${path}.extensions`, w.extensions.length, XDS_LIMITS.extensions);
}

function checkService(path: string, s: Service): void {
  checkString(`${path}.name`, s.name);
  checkString(`${path}.namespace`, s.namespace);
  checkString(`${path}.hostname`, s.hostname);
  if (s.hostname === "") fail(`${path}.hostname`, "empty, expected the service FQDN");
  checkCount(`${path}.addresses`, s.addresses.length, XDS_LIMITS.addressesPerService);
  s.addresses.forEach((a, i) => {
    checkNetworkAddress(`${path}.addresses[${i}]`, a);
  });
  checkPorts(`${path}.ports`, s.ports);
  checkCount(`${path}.subject_alt_names`, s.subjectAltNames.length, XDS_LIMITS.subjectAltNames);
  s.subjectAltNames.forEach((san, i) => {
    checkString(`${path}.subject_alt_names[${i}]`, san, XDS_LIMITS.nameLength);
  });
  checkGateway(`${path}.waypoint`, s.waypoint);
  if (s.loadBalancing !== undefined) {
    // Each scope at most once: a longer list can only be a repeat.
    checkCount(`${path}.load_balancing.routing_preference`, s.loadBalancing.routingPreference.length, 7);
  }
  checkCount(`${path}.extensions`, s.extensions.length, XDS_LIMITS.extensions);
}

/** The xDS resource name Istio uses for an Address: the workload uid, or "namespace/hostname". */
export function addressResourceName(a: Address): string {
  switch (a.type.case) {
    case "workload":
      return a.type.value.uid;
    case "service":
      return `${a.type.value.namespace}/${a.type.value.hostname}`;
    default:
      return "";
  }
}

/** The xDS resource name Istio uses for an Authorization: "namespace/name". */
export function authorizationResourceName(a: Authorization): string {
  return `${a.namespace}/${a.name}`;
}

function run(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (e) {
    if (e instanceof Invalid) return e.message;
    throw e;
  }
}

export const validateAddress: ResourceValidator<Address> = (a, name) =>
  run(() => {
    checkString("name", name, XDS_LIMITS.nameLength);
    switch (a.type.case) {
      case "workload": {
        const w = a.type.value;
        const path = `workload[uid=${w.uid.slice(0, 128)}]`;
        if (w.uid === "") fail(`${path}.uid`, "empty, expected a unique workload id");
        if (name !== w.uid)
          fail(path, `resource name "${name.slice(0, 128)}" differs from uid, expected the uid`);
        checkWorkload(path, w);
        break;
      }
      case "service": {
        const s = a.type.value;
        const key = `${s.namespace}/${s.hostname}`;
        const path = `service[${key.slice(0, 256)}]`;
        checkService(path, s);
        if (name !== key)
          fail(path, `resource name "${name.slice(0, 128)}" differs, expected "namespace/hostname"`);
        break;
      }
      case undefined:
        fail(`address[${name.slice(0, 128)}].type`, "unset, expected workload or service");
    }
  });

function checkStringMatches(path: string, list: readonly StringMatch[]): void {
  checkCount(path, list.length, XDS_LIMITS.valuesPerMatchField);
  list.forEach((m, i) => {
    const p = `${path}[${i}]`;
    switch (m.matchType.case) {
      case "exact":
      case "prefix":
      case "suffix":
        checkString(`${p}.${m.matchType.case}`, m.matchType.value, XDS_LIMITS.nameLength);
        break;
      case "presence":
        break;
      case undefined:
        fail(`${p}.match_type`, "unset, expected exact, prefix, suffix or presence");
    }
  });
}

function checkCidrs(path: string, list: Match["sourceIps"]): void {
  checkCount(path, list.length, XDS_LIMITS.valuesPerMatchField);
  list.forEach((c, i) => {
    checkIp(`${path}[${i}].address`, c.address);
    const max = c.address.length * 8;
    if (c.length > max) fail(`${path}[${i}].length`, `${c.length}, expected 0-${max}`);
  });
}

function checkPortList(path: string, list: readonly number[]): void {
  checkCount(path, list.length, XDS_LIMITS.valuesPerMatchField);
  list.forEach((p, i) => {
    checkPort(`${path}[${i}]`, p, false);
  });
}

function checkMatch(path: string, m: Match): void {
  checkStringMatches(`${path}.namespaces`, m.namespaces);
  checkStringMatches(`${path}.not_namespaces`, m.notNamespaces);
  checkStringMatches(`${path}.principals`, m.principals);
  checkStringMatches(`${path}.not_principals`, m.notPrincipals);
  checkCidrs(`${path}.source_ips`, m.sourceIps);
  checkCidrs(`${path}.not_source_ips`, m.notSourceIps);
  checkCidrs(`${path}.destination_ips`, m.destinationIps);
  checkCidrs(`${path}.not_destination_ips`, m.notDestinationIps);
  checkPortList(`${path}.destination_ports`, m.destinationPorts);
  checkPortList(`${path}.not_destination_ports`, m.notDestinationPorts);
}

export const validateAuthorization: ResourceValidator<Authorization> = (a, name) =>
  run(() => {
    const key = authorizationResourceName(a);
    const path = `authorization[${key.slice(0, 256)}]`;
    checkString(`${path}.name`, a.name);
    checkString(`${path}.namespace`, a.namespace);
    if (a.name === "") fail(`${path}.name`, "empty, expected the policy name");
    if (name !== key) fail(path, `resource name "${name.slice(0, 128)}" differs, expected "namespace/name"`);
    checkCount(`${path}.rules`, a.rules.length, XDS_LIMITS.rulesPerPolicy);
    a.rules.forEach((r, i) => {
      checkCount(`${path}.rules[${i}].clauses`, r.clauses.length, XDS_LIMITS.clausesPerRule);
      r.clauses.forEach((c, j) => {
        const cp = `${path}.rules[${i}].clauses[${j}]`;
        checkCount(`${cp}.matches`, c.matches.length, XDS_LIMITS.matchesPerClause);
        c.matches.forEach((m, k) => {
          checkMatch(`${cp}.matches[${k}]`, m);
        });
      });
    });
  });

/** "<kind>/<namespace>/<name>", the name of an ambit.waypoint.L7Resource. */
export function l7ResourceName(r: Pick<L7Resource, "kind" | "namespace" | "name">): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

/**
 * The envelope of an L7 resource: its name, and JSON that is an object agreeing with it. Whether
 * the resource itself is valid and compiles is for the waypoint to decide (it owns the engines).
 */
export const validateL7Resource: ResourceValidator<L7Resource> = (r, name) =>
  run(() => {
    const key = l7ResourceName(r);
    const path = `l7[${key.slice(0, 256)}]`;
    checkString(`${path}.kind`, r.kind);
    checkString(`${path}.namespace`, r.namespace);
    checkString(`${path}.name`, r.name);
    checkString(`${path}.api_version`, r.apiVersion);
    if (r.kind === "" || r.name === "") fail(path, "kind and name must be set");
    if (name !== key)
      fail(path, `resource name "${name.slice(0, 128)}" differs, expected "kind/namespace/name"`);
    if (r.json.length > XDS_LIMITS.l7JsonBytes)
      fail(`${path}.json`, `${r.json.length} characters, at most ${XDS_LIMITS.l7JsonBytes} allowed`);
    let doc: unknown;
    try {
      doc = JSON.parse(r.json);
    } catch (e) {
      fail(`${path}.json`, `not JSON (${(e as Error).message})`);
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc))
      fail(`${path}.json`, "expected a JSON object (one resource)");
    const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    if (d.kind !== r.kind || d.metadata?.name !== r.name || (d.metadata?.namespace ?? "") !== r.namespace)
      fail(`${path}.json`, "kind / metadata.name / metadata.namespace differ from the resource's fields");
  });
