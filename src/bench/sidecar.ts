/**
 * The classic sidecar model `ambit bench` compares against: one mTLS proxy per pod, from Debian,
 * in the pod's network namespace — a client-side proxy that receives the app's connections and a
 * server-side proxy in front of the app — with each proxy's default TLS session resumption.
 * HAProxy (event loop, threads) stands in for Envoy; stunnel is the simplest TLS pair. Both get
 * SPIFFE certificates from a throwaway CA and require the peer's certificate, as a mesh would.
 *
 * With `capture` the app's connections reach the client proxy the way a sidecar mesh delivers them
 * (Istio's sidecar mode): the app dials the server's own address and port, and an iptables REDIRECT
 * in the client pod's nat OUTPUT chain hands the connection to the proxy on loopback — the same
 * capture ambient's in-pod mode uses. `ambit bench` always captures, so every scenario's app makes
 * the same connection; without it the app must dial 127.0.0.1:`local` (bench/proxy-floor.ts, where
 * no path is captured).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestPki } from "../identity/testing.js";
import { runCommand } from "../platform/command.js";
import { iptablesInNetns } from "../platform/linux-names.js";
import { acceptsConnection } from "../platform/netns-sockets.js";

export type SidecarKind = "haproxy" | "stunnel";

/** One tunnelled port: the app connects to 127.0.0.1:`local` in the client pod; the server proxy listens on `tls` and forwards to 127.0.0.1:`target`. */
export interface SidecarPort {
  readonly local: number;
  readonly tls: number;
  readonly target: number;
}

export interface SidecarPairOptions {
  readonly kind: SidecarKind;
  readonly clientNetns: string;
  readonly serverNetns: string;
  readonly serverIp: string;
  readonly ports: readonly SidecarPort[];
  /** A private directory for configs and keys. */
  readonly dir: string;
  /** Redirect the client pod's connections to `serverIp:target` into the client proxy (see above). */
  readonly capture?: boolean;
}

export interface SidecarPair {
  readonly clientPid: number;
  readonly serverPid: number;
  stop(): Promise<void>;
}

function haproxyConfig(role: "client" | "server", o: SidecarPairOptions, files: Files): string {
  const lines = [
    "global",
    "  maxconn 4000",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 120s",
    "  timeout server 120s",
  ];
  for (const p of o.ports) {
    if (role === "client") {
      // No `sni`/`verifyhost`: SPIFFE certificates carry a URI SAN, not a DNS name; the chain is verified.
      lines.push(
        `listen out-${p.local}`,
        `  bind 127.0.0.1:${p.local}`,
        `  server s ${o.serverIp}:${p.tls} ssl crt ${files.clientPem} ca-file ${files.roots} verify required`,
      );
    } else {
      lines.push(
        `listen in-${p.tls}`,
        `  bind 0.0.0.0:${p.tls} ssl crt ${files.serverPem} ca-file ${files.roots} verify required`,
        `  server app 127.0.0.1:${p.target}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function stunnelConfig(role: "client" | "server", o: SidecarPairOptions, files: Files): string {
  const lines = [
    "foreground = yes",
    "pid =",
    "syslog = no",
    "debug = 3",
    "socket = l:TCP_NODELAY=1",
    "socket = r:TCP_NODELAY=1",
  ];
  for (const p of o.ports) {
    if (role === "client") {
      lines.push(
        `[out-${p.local}]`,
        "client = yes",
        `accept = 127.0.0.1:${p.local}`,
        `connect = ${o.serverIp}:${p.tls}`,
        `cert = ${files.clientPem}`,
        `CAfile = ${files.roots}`,
        "verifyChain = yes",
      );
    } else {
      lines.push(
        `[in-${p.tls}]`,
        `accept = 0.0.0.0:${p.tls}`,
        `connect = 127.0.0.1:${p.target}`,
        `cert = ${files.serverPem}`,
        `CAfile = ${files.roots}`,
        "verifyChain = yes",
        "requireCert = yes",
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

interface Files {
  readonly roots: string;
  /** Certificate chain followed by the key (both proxies read the key from the same file). */
  readonly clientPem: string;
  readonly serverPem: string;
}

function writeCredentials(dir: string): Files {
  const pki = createTestPki();
  const files: Files = {
    roots: join(dir, "roots.pem"),
    clientPem: join(dir, "client.pem"),
    serverPem: join(dir, "server.pem"),
  };
  const client = pki.issue("spiffe://cluster.local/ns/bench-sidecar/sa/client", { ttlSeconds: 86_400 });
  const server = pki.issue("spiffe://cluster.local/ns/bench-sidecar/sa/server", { ttlSeconds: 86_400 });
  writeFileSync(files.roots, pki.rootsPem, { mode: 0o600 });
  writeFileSync(files.clientPem, client.certChainPem + client.keyPem, { mode: 0o600 });
  writeFileSync(files.serverPem, server.certChainPem + server.keyPem, { mode: 0o600 });
  return files;
}

/**
 * Runs `argv` inside `netns`; `ip netns exec` execs the program after setns(2), so the child's pid
 * is the program's own. Its stderr's tail is printed if it exits with an error; its stdout is
 * discarded unless `stdout` is "pipe".
 */
export function startInNetns(
  netns: string,
  argv: string[],
  name: string,
  stdout: "ignore" | "pipe" = "ignore",
): ChildProcess {
  const p = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", stdout, "pipe"] });
  let err = "";
  p.stderr?.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  p.once("exit", (code, signal) => {
    if (code !== 0 && code !== null && signal === null)
      process.stderr.write(`${name} exited with code ${code}: ${err.trim()}\n`);
  });
  return p;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the process has exited. */
export function stopProcess(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once("exit", () => resolve());
    p.kill("SIGTERM");
    setTimeout(() => p.kill("SIGKILL"), 2000).unref();
  });
}

/** Resolves once `host:port` accepts a connection from inside `netns`; rejects after 10 s. */
export async function waitForListener(
  netns: string,
  host: string,
  port: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await acceptsConnection(netns, host, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not open ${host}:${port} in ${netns} within 10 s`);
}

/**
 * The client pod's rule that sends its connections to `serverIp:target` to the client proxy on
 * loopback (a REDIRECT of a locally made connection goes to 127.0.0.1), as a sidecar mesh's
 * outbound capture does. `-A` adds it, `-D` removes it.
 */
function captureRule(o: SidecarPairOptions, p: SidecarPort, op: "-A" | "-D"): string[] {
  return iptablesInNetns(o.clientNetns, [
    "-t",
    "nat",
    op,
    "OUTPUT",
    "-p",
    "tcp",
    "-d",
    `${o.serverIp}/32`,
    "--dport",
    String(p.target),
    "-m",
    "comment",
    "--comment",
    `ambit-bench/${o.kind}-sidecar`,
    "-j",
    "REDIRECT",
    "--to-ports",
    String(p.local),
  ]);
}

/** Starts the server-side and client-side proxies, waits until both listen, then captures (`capture`). */
export async function startSidecarPair(o: SidecarPairOptions): Promise<SidecarPair> {
  const files = writeCredentials(o.dir);
  const procs: ChildProcess[] = [];
  const start = (role: "client" | "server"): ChildProcess => {
    const conf = join(o.dir, `${o.kind}-${role}.conf`);
    const netns = role === "client" ? o.clientNetns : o.serverNetns;
    if (o.kind === "haproxy") {
      writeFileSync(conf, haproxyConfig(role, o, files));
      return startInNetns(netns, ["haproxy", "-db", "-f", conf], `haproxy (${role})`);
    }
    writeFileSync(conf, stunnelConfig(role, o, files));
    return startInNetns(netns, ["stunnel4", conf], `stunnel (${role})`);
  };
  const server = start("server");
  procs.push(server);
  const client = start("client");
  procs.push(client);
  const captured: SidecarPort[] = [];
  const stop = async (): Promise<void> => {
    // Rules first: a connection made after the proxies are gone must not be captured into nothing.
    // A pod already deleted took its rules with it.
    for (const p of captured.splice(0)) await runCommand(captureRule(o, p, "-D"), { okExitCodes: [0, 1, 2] });
    await Promise.all(procs.map(stopProcess));
  };
  try {
    for (const p of o.ports) {
      await waitForListener(o.serverNetns, "127.0.0.1", p.tls, `${o.kind} (server)`);
      await waitForListener(o.clientNetns, "127.0.0.1", p.local, `${o.kind} (client)`);
    }
    if (o.capture === true) {
      for (const p of o.ports) {
        const r = await runCommand(captureRule(o, p, "-A"), { okExitCodes: [0, 1, 2] });
        if (r.exitCode !== 0) {
          throw new Error(
            `capturing ${o.serverIp}:${p.target} into the ${o.kind} client sidecar in ${o.clientNetns} failed: ${r.stderr.trim()}`,
          );
        }
        captured.push(p);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { clientPid: client.pid ?? 0, serverPid: server.pid ?? 0, stop };
}
