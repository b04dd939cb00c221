/** Shared set-up of the control-plane integration tests: a daemon on loopback in a temp home. */
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../../src/control/control-plane.js";
import { silentLogger } from "../../src/control/log.js";

export interface Harness {
  cp: ControlPlane;
  home: string;
  /** Stops the daemon and removes the temp home. */
  close(): Promise<void>;
}

export async function startControl(extra: { adminAddress?: string } = {}): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), "ambit-cp-"));
  try {
    const cp = await ControlPlane.start(
      { home, xdsAddress: "127.0.0.1:0", debounceMs: 10, storeDebounceMs: 30, ...extra },
      { log: silentLogger() },
    );
    return {
      cp,
      home,
      async close() {
        await cp.close();
        await rm(home, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(home, { recursive: true, force: true });
    throw e;
  }
}

export interface HttpReply {
  status: number;
  body: unknown;
}

/** One admin request over the home's unix socket; `token: null` sends no Authorization header. */
export function admin(
  h: Harness,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = h.cp.credentials.adminToken,
): Promise<HttpReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: h.cp.adminSocket,
        method,
        path,
        headers: {
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Resolves when `predicate` holds, checking after each event of `subscribe`; rejects after `ms`. */
export function until(
  subscribe: (notify: () => void) => () => void,
  predicate: () => boolean,
  ms = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      stop();
      reject(new Error("condition not reached in time"));
    }, ms);
    const stop = subscribe(() => {
      if (!predicate()) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

export const DEMO = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Node
metadata:
  name: node1
---
apiVersion: v1
kind: Node
metadata:
  name: node2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: example/web
        command: [python3, -m, http.server, "8080"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`;
