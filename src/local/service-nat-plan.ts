/**
 * kube-proxy's job for pods that ztunnel does not capture: service VIP → one of the endpoints, by
 * DNAT in each node's netns (iptables mode: one rule per endpoint with `statistic --mode random`,
 * probability 1/(n-i) so every endpoint gets an even share). Captured pods never reach these rules:
 * their traffic is redirected to ztunnel earlier in PREROUTING, and ztunnel resolves VIPs itself.
 * Pure: registry snapshot in, `iptables-restore --noflush` text out.
 */
import type { Registry } from "../control/registry.js";

export function servicesChain(prefix: string): string {
  return `${prefix}-SERVICES`;
}

/** Declaring the chain in a `--noflush` restore flushes it, so each batch replaces the whole table of VIPs. */
export function planServiceNat(registry: Pick<Registry, "services" | "workloads">, prefix: string): string {
  const chain = servicesChain(prefix);
  const lines = ["*nat", `:${chain} - [0:0]`];
  const services = [...registry.services]
    .filter((s) => s.kind === "Service" && s.vip !== undefined)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const s of services) {
    const key = `${s.namespace}/${s.hostname}`;
    for (const port of s.ports) {
      if (port.protocol.toUpperCase() !== "TCP") continue;
      const endpoints = registry.workloads
        .filter((w) => w.kind === "Pod" && w.ip !== undefined && s.endpoints.includes(w.uid))
        .map((w) => ({
          ip: w.ip as string,
          port: w.services[key]?.find((m) => m.servicePort === port.port)?.targetPort,
        }))
        .filter((e): e is { ip: string; port: number } => e.port !== undefined)
        .sort((a, b) => a.ip.localeCompare(b.ip));
      endpoints.forEach((e, i) => {
        const left = endpoints.length - i;
        const pick = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(5)} ` : "";
        lines.push(
          `-A ${chain} -d ${s.vip}/32 -p tcp --dport ${port.port} ${pick}-m comment --comment ${prefix}/svc=${s.namespace}.${s.name} -j DNAT --to-destination ${e.ip}:${e.port}`,
        );
      });
    }
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** The chain and its two jumps, installed once per node by `ambit up` (appended: after the capture chains). */
export function planServiceNatBase(prefix: string): string {
  const chain = servicesChain(prefix);
  return [
    "*nat",
    `:${chain} - [0:0]`,
    `-A PREROUTING -p tcp -j ${chain}`,
    `-A OUTPUT -p tcp -j ${chain}`,
    "COMMIT",
    "",
  ].join("\n");
}
