/**
 * The workloads `ambit chaos run` deploys when a scenario uses the default load: namespace
 * `chaos` (ambient) with a TCP echo server on node-2 and an idle client on node-1, so each request
 * crosses both ztunnels (and HBONE between them); namespace `chaos-l7` adds a waypoint in front of
 * its own echo, for the waypoint scenarios. Applying it again is a no-op.
 */
import { waypointGatewayYaml } from "../cli/waypoint-gateway.js";

export const CHAOS_ECHO_PORT = 9000;

/** The echo server a pod runs: every byte back, half-close kept (so each request ends cleanly). */
function echoCommand(): string[] {
  return [
    process.execPath,
    "-e",
    `require("net").createServer({allowHalfOpen:true},(s)=>{s.on("error",()=>s.destroy());s.pipe(s)}).listen(${CHAOS_ECHO_PORT})`,
  ];
}

function pod(name: string, ns: string, node: string, sa: string, app: string, command: string[]): string {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${ns}`,
    "  labels:",
    `    app: ${app}`,
    "spec:",
    `  nodeName: ${node}`,
    `  serviceAccountName: ${sa}`,
    "  containers:",
    `    - name: ${app}`,
    "      image: local/chaos",
    `      command: ${JSON.stringify(command)}`,
    "",
  ].join("\n");
}

function service(name: string, ns: string, app: string): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  selector:\n    app: ${app}\n  ports:\n    - name: tcp-echo\n      port: ${CHAOS_ECHO_PORT}\n      targetPort: ${CHAOS_ECHO_PORT}\n`;
}

export function chaosFixture(nodes: readonly string[]): string {
  const src = nodes[0] ?? "node-1";
  const dst = nodes[1] ?? src;
  const docs = [
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: chaos\n  labels:\n    istio.io/dataplane-mode: ambient\n",
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: chaos-l7\n  labels:\n    istio.io/dataplane-mode: ambient\n    istio.io/use-waypoint: waypoint\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: client\n  namespace: chaos\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: echo\n  namespace: chaos\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: echo\n  namespace: chaos-l7\n",
    pod("chaos-client", "chaos", src, "client", "chaos-client", ["sleep", "infinity"]),
    pod("chaos-echo", "chaos", dst, "echo", "chaos-echo", echoCommand()),
    pod("chaos-echo", "chaos-l7", dst, "echo", "chaos-echo", echoCommand()),
    service("chaos-echo", "chaos", "chaos-echo"),
    service("chaos-echo", "chaos-l7", "chaos-echo"),
    waypointGatewayYaml({ name: "waypoint", namespace: "chaos-l7", for: "service" }),
  ];
  return docs.join("---\n");
}

/** Pods (`namespace/name`) the fixture runs; the waypoint pod is named after its Gateway. */
export const FIXTURE_PODS = ["chaos/chaos-client", "chaos/chaos-echo", "chaos-l7/chaos-echo"];
