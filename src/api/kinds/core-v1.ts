/** core v1: Namespace, Service, ServiceAccount, Pod, Node — as Kubernetes defines them, with its validation rules. */
import { ConfigErrorCode as C } from "../errors.js";
import {
  checkDns1123Label,
  checkDns1123Subdomain,
  checkIanaSvcName,
  checkIp,
  cidr,
  ipAddress,
  ipOrCidr,
  portNumber,
} from "../formats.js";
import {
  anyValue,
  bool,
  enumOf,
  int,
  intOrString,
  list,
  type ObjectCheck,
  obj,
  type Parsed,
  problem,
  type Schema,
  str,
} from "../schema.js";
import { labels } from "./common.js";

// ------------------------------------------------------------------ Namespace

export const DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode";
export const USE_WAYPOINT_LABEL = "istio.io/use-waypoint";
export const DATAPLANE_MODES = ["ambient", "monitor", "none"] as const;

export const namespaceSpec = obj({ finalizers: list(str()) });

/** Resource-level check: enrollment labels of a Namespace (or Pod) must hold values ambit understands. */
export const enrollmentLabels: ObjectCheck = (v, scope) => {
  const l = (v["metadata"] as { labels?: Record<string, string> } | undefined)?.labels ?? {};
  const mode = l[DATAPLANE_MODE_LABEL];
  if (mode !== undefined && !(DATAPLANE_MODES as readonly string[]).includes(mode)) {
    scope.report(
      C.ENUM,
      `metadata.labels["${DATAPLANE_MODE_LABEL}"]`,
      `${JSON.stringify(mode)} is not one of ${DATAPLANE_MODES.join(", ")}`,
    );
  }
  const waypoint = l[USE_WAYPOINT_LABEL];
  if (waypoint !== undefined && waypoint !== "none" && checkDns1123Subdomain(waypoint) !== undefined) {
    scope.report(
      C.NAME,
      `metadata.labels["${USE_WAYPOINT_LABEL}"]`,
      `${JSON.stringify(waypoint)} is not a waypoint Gateway name (or "none")`,
    );
  }
};

// ------------------------------------------------------------------ Service

const protocol = (): Schema => enumOf(["TCP", "UDP", "SCTP"]);

const targetPort = (): Schema =>
  intOrString((v) => {
    if (typeof v === "number") {
      return v >= 1 && v <= 65535 ? undefined : problem(C.PORT, `${v} is not a port number (1-65535)`);
    }
    return checkIanaSvcName(v);
  });

const servicePort = obj(
  {
    name: str({ check: checkDns1123Label }),
    protocol: protocol(),
    appProtocol: str(),
    port: portNumber(),
    targetPort: targetPort(),
    nodePort: portNumber(),
  },
  { required: ["port"] },
);

const byName = (what: string) => ({ key: (p: Parsed) => (p as { name?: string }).name, what });

export const serviceSpec = obj(
  {
    type: enumOf(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]),
    selector: labels(),
    ports: list(servicePort, { uniqueBy: byName("port name") }),
    clusterIP: str({ check: (v) => (v === "None" || v === "" ? undefined : checkClusterIp(v)) }),
    clusterIPs: list(str({ check: (v) => (v === "None" ? undefined : checkClusterIp(v)) })),
    externalName: str({ check: checkDns1123Subdomain }),
    externalIPs: list(ipAddress()),
    sessionAffinity: enumOf(["ClientIP", "None"]),
    sessionAffinityConfig: anyValue(),
    externalTrafficPolicy: enumOf(["Cluster", "Local"]),
    internalTrafficPolicy: enumOf(["Cluster", "Local"]),
    ipFamilies: list(enumOf(["IPv4", "IPv6"])),
    ipFamilyPolicy: enumOf(["SingleStack", "PreferDualStack", "RequireDualStack"]),
    publishNotReadyAddresses: bool(),
    loadBalancerIP: ipAddress(),
    loadBalancerSourceRanges: list(ipOrCidr()),
    loadBalancerClass: str(),
    allocateLoadBalancerNodePorts: bool(),
    healthCheckNodePort: portNumber(),
    trafficDistribution: str(),
  },
  {
    checks: [
      (v, scope) => {
        const ports = (v["ports"] as { name?: string; port: number; protocol?: string }[] | undefined) ?? [];
        // Kubernetes: with more than one port every port needs a name (endpoints are matched by it).
        if (ports.length > 1) {
          for (const [i, p] of ports.entries()) {
            if (p.name === undefined)
              scope.report(
                C.MISSING_FIELD,
                `ports[${i}]`,
                "with more than one port, every port needs a name",
              );
          }
        }
        const seen = new Map<string, number>();
        for (const [i, p] of ports.entries()) {
          const k = `${p.port}/${p.protocol ?? "TCP"}`;
          const first = seen.get(k);
          if (first !== undefined)
            scope.report(
              C.DUPLICATE_ITEM,
              `ports[${i}].port`,
              `duplicate port ${k} (already in ports[${first}])`,
            );
          else seen.set(k, i);
        }
        const type = v["type"] ?? "ClusterIP";
        if (type === "ExternalName" && v["externalName"] === undefined) {
          scope.report(C.MISSING_FIELD, "externalName", "type ExternalName needs externalName");
        }
        if (type !== "ExternalName" && ports.length === 0 && v["clusterIP"] !== "None") {
          scope.report(
            C.MISSING_FIELD,
            "ports",
            "a Service needs at least one port (unless headless or ExternalName)",
          );
        }
        if (type === "ClusterIP") {
          for (const [i, p] of ports.entries()) {
            if ((p as { nodePort?: number }).nodePort !== undefined) {
              scope.report(
                C.SEMANTIC,
                `ports[${i}].nodePort`,
                "nodePort needs type NodePort or LoadBalancer",
              );
            }
          }
        }
      },
    ],
  },
);

function checkClusterIp(v: string) {
  return checkIp(v) === undefined
    ? undefined
    : problem(C.CIDR, `${JSON.stringify(v)} is not an IP address (or "None" for a headless Service)`);
}

// ------------------------------------------------------------------ ServiceAccount (top-level fields)

export const serviceAccountFields: Record<string, Schema> = {
  automountServiceAccountToken: bool(),
  secrets: list(
    obj({
      name: str(),
      namespace: str(),
      kind: str(),
      apiVersion: str(),
      uid: str(),
      fieldPath: str(),
      resourceVersion: str(),
    }),
  ),
  imagePullSecrets: list(obj({ name: str() })),
};

// ------------------------------------------------------------------ Pod

const envVar = obj(
  { name: str({ nonEmpty: true }), value: str(), valueFrom: anyValue() },
  {
    required: ["name"],
    checks: [
      (v, scope) => {
        if (v["value"] !== undefined && v["valueFrom"] !== undefined) {
          scope.report(C.CONFLICT, "valueFrom", "value and valueFrom are mutually exclusive");
        }
      },
    ],
  },
);

const containerPort = obj(
  {
    name: str({ check: checkIanaSvcName }),
    containerPort: portNumber(),
    protocol: protocol(),
    hostPort: portNumber(),
    hostIP: ipAddress(),
  },
  { required: ["containerPort"] },
);

const container = (): Schema =>
  obj(
    {
      name: str({ check: checkDns1123Label }),
      image: str(),
      command: list(str()),
      args: list(str()),
      workingDir: str(),
      env: list(envVar),
      envFrom: list(anyValue()),
      ports: list(containerPort, { uniqueBy: byName("port name") }),
      imagePullPolicy: enumOf(["Always", "IfNotPresent", "Never"]),
      resources: anyValue(),
      resizePolicy: anyValue(),
      readinessProbe: anyValue(),
      livenessProbe: anyValue(),
      startupProbe: anyValue(),
      lifecycle: anyValue(),
      securityContext: anyValue(),
      volumeMounts: list(anyValue()),
      volumeDevices: list(anyValue()),
      stdin: bool(),
      stdinOnce: bool(),
      tty: bool(),
      terminationMessagePath: str(),
      terminationMessagePolicy: enumOf(["File", "FallbackToLogsOnError"]),
      restartPolicy: enumOf(["Always"]),
    },
    { required: ["name"] },
  );

const uniqueContainers = (what: string) => ({ key: (c: Parsed) => (c as { name?: string }).name, what });

export const podSpec = obj(
  {
    containers: list(container(), { minItems: 1, uniqueBy: uniqueContainers("container name") }),
    initContainers: list(container(), { uniqueBy: uniqueContainers("container name") }),
    ephemeralContainers: list(anyValue()),
    nodeName: str({ check: checkDns1123Subdomain }),
    nodeSelector: labels(),
    serviceAccountName: str({ check: checkDns1123Subdomain }),
    serviceAccount: str({ check: checkDns1123Subdomain }),
    automountServiceAccountToken: bool(),
    restartPolicy: enumOf(["Always", "OnFailure", "Never"]),
    terminationGracePeriodSeconds: int({ min: 0 }),
    activeDeadlineSeconds: int({ min: 1 }),
    hostname: str({ check: checkDns1123Label }),
    subdomain: str({ check: checkDns1123Label }),
    hostNetwork: bool(),
    hostPID: bool(),
    hostIPC: bool(),
    shareProcessNamespace: bool(),
    dnsPolicy: enumOf(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]),
    dnsConfig: anyValue(),
    hostAliases: list(anyValue()),
    schedulerName: str(),
    priorityClassName: str(),
    priority: int(),
    preemptionPolicy: enumOf(["PreemptLowerPriority", "Never"]),
    runtimeClassName: str(),
    enableServiceLinks: bool(),
    volumes: list(anyValue()),
    affinity: anyValue(),
    tolerations: list(anyValue()),
    topologySpreadConstraints: list(anyValue()),
    securityContext: anyValue(),
    imagePullSecrets: list(obj({ name: str() })),
    readinessGates: list(anyValue()),
    overhead: anyValue(),
    os: anyValue(),
    setHostnameAsFQDN: bool(),
    hostUsers: bool(),
    schedulingGates: list(anyValue()),
    resourceClaims: list(anyValue()),
    resources: anyValue(),
  },
  { required: ["containers"] },
);

// ------------------------------------------------------------------ Node

export const nodeSpec = obj(
  {
    podCIDR: cidr(),
    podCIDRs: list(cidr()),
    providerID: str(),
    unschedulable: bool(),
    taints: list(
      obj(
        {
          key: str({ nonEmpty: true }),
          value: str(),
          effect: enumOf(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
          timeAdded: str(),
        },
        { required: ["key", "effect"] },
      ),
    ),
    configSource: anyValue(),
    externalID: str(),
  },
  {
    checks: [
      (v, scope) => {
        const cidrs = v["podCIDRs"] as string[] | undefined;
        if (v["podCIDR"] !== undefined && cidrs !== undefined && cidrs[0] !== v["podCIDR"]) {
          scope.report(C.SEMANTIC, "podCIDRs", "podCIDRs[0] must equal podCIDR when both are set");
        }
      },
    ],
  },
);
