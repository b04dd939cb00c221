/** The e2e tests' manifests: echo servers and idle clients, in an ambient namespace and a plain one. */
import { join } from "node:path";
import { ROOT } from "./cluster.js";

export const ECHO_PORT = 9000;

function pod(o: {
  name: string;
  ns: string;
  node: string;
  sa: string;
  app: string;
  command: string[];
}): string {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${o.name}`,
    `  namespace: ${o.ns}`,
    "  labels:",
    `    app: ${o.app}`,
    "spec:",
    `  nodeName: ${o.node}`,
    `  serviceAccountName: ${o.sa}`,
    "  containers:",
    `    - name: ${o.app}`,
    "      image: local/test",
    `      command: ${JSON.stringify(o.command)}`,
    "",
  ].join("\n");
}

export function meshManifests(): string {
  const echo = [process.execPath, join(ROOT, "dist", "test", "e2e", "echo-server.js"), String(ECHO_PORT)];
  const idle = ["sleep", "infinity"];
  const docs = [
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mesh\n  labels:\n    istio.io/dataplane-mode: ambient\n",
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plain\n",
    ...["echo", "client", "other"].map(
      (sa) => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${sa}\n  namespace: mesh\n`,
    ),
    pod({ name: "echo-a", ns: "mesh", node: "node-1", sa: "echo", app: "echo", command: echo }),
    pod({ name: "echo-b", ns: "mesh", node: "node-2", sa: "echo", app: "echo", command: echo }),
    pod({ name: "client-a", ns: "mesh", node: "node-1", sa: "client", app: "client", command: idle }),
    pod({ name: "intruder", ns: "mesh", node: "node-1", sa: "other", app: "intruder", command: idle }),
    pod({ name: "plain-echo", ns: "plain", node: "node-2", sa: "default", app: "echo", command: echo }),
    pod({ name: "plain-client", ns: "plain", node: "node-1", sa: "default", app: "client", command: idle }),
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: mesh\nspec:\n  selector:\n    app: echo\n  ports:\n    - name: tcp-echo\n      port: ${ECHO_PORT}\n      targetPort: ${ECHO_PORT}\n`,
  ];
  return docs.join("---\n");
}

export const MESH_PODS = [
  "mesh/echo-a",
  "mesh/echo-b",
  "mesh/client-a",
  "mesh/intruder",
  "plain/plain-echo",
  "plain/plain-client",
];

export function denyClientPolicy(name = "deny-client"): string {
  return [
    "apiVersion: security.istio.io/v1",
    "kind: AuthorizationPolicy",
    "metadata:",
    `  name: ${name}`,
    "  namespace: mesh",
    "spec:",
    "  selector:",
    "    matchLabels:",
    "      app: echo",
    "  action: DENY",
    "  rules:",
    "    - from:",
    "        - source:",
    '            principals: ["cluster.local/ns/mesh/sa/client"]',
    "",
  ].join("\n");
}

export function allowOnlyClientPolicy(): string {
  return [
    "apiVersion: security.istio.io/v1",
    "kind: AuthorizationPolicy",
    "metadata:",
    "  name: only-client",
    "  namespace: mesh",
    "spec:",
    "  selector:",
    "    matchLabels:",
    "      app: echo",
    "  action: ALLOW",
    "  rules:",
    "    - from:",
    "        - source:",
    '            principals: ["cluster.local/ns/mesh/sa/client"]',
    "",
  ].join("\n");
}
