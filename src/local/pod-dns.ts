/**
 * Name resolution inside a pod, as on Kubernetes but without a DNS server: `ip netns exec`
 * bind-mounts `/etc/netns/<netns>/{hosts,resolv.conf}` over `/etc/…` for the process it starts,
 * and glibc (curl, Node's `dns.lookup`, the MariaDB client) reads the hosts file first. Every
 * service gets its Kubernetes names (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`);
 * the bare name only in the pod's own namespace, as the search path would give it.
 */

export interface DnsService {
  readonly name: string;
  readonly namespace: string;
  readonly vip: string | undefined;
}

export interface DnsPod {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
}

export function hostsFile(
  pod: DnsPod,
  services: readonly DnsService[],
  domainSuffix = "cluster.local",
): string {
  const lines = [
    "# Written by the ambit node agent; rewritten when services change.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${pod.ip}\t${pod.name}`,
  ];
  const sorted = [...services].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  for (const s of sorted) {
    if (s.vip === undefined) continue;
    const names = [
      `${s.name}.${s.namespace}.svc.${domainSuffix}`,
      `${s.name}.${s.namespace}.svc`,
      `${s.name}.${s.namespace}`,
    ];
    if (s.namespace === pod.namespace) names.push(s.name);
    lines.push(`${s.vip}\t${names.join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}

export function resolvConf(namespace: string, domainSuffix = "cluster.local"): string {
  return [
    "# Written by the ambit node agent: names resolve from /etc/hosts (no DNS server in a local cluster).",
    `search ${namespace}.svc.${domainSuffix} svc.${domainSuffix} ${domainSuffix}`,
    "nameserver 127.0.0.1",
    "options ndots:5 attempts:1 timeout:1",
    "",
  ].join("\n");
}
