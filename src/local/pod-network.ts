/**
 * A pod's network, as a container runtime + CNI plugin would make it: its own netns, a veth to its
 * node's netns, a /32 address routed through the node (the layout of platform/topology-plan.ts),
 * and the name-resolution files of `ip netns exec`. Creating an existing pod network is a no-op.
 * Deleting removes the veth first, then the netns (killing what is left inside): a netns whose name is
 * gone lives on while any socket is still open in it, and its veth, routes and interface name with it.
 */
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { IpTool } from "../platform/netns.js";
import { type DnsService, hostsFile, resolvConf } from "./pod-dns.js";

export const ETC_NETNS = "/etc/netns";

export interface PodNetworkSpec {
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly ip: string;
  readonly hostVeth: string;
  readonly node: { readonly netns: string; readonly gateway: string };
}

export class PodNetworks {
  readonly #ip: IpTool;
  constructor(ip: IpTool = new IpTool()) {
    this.#ip = ip;
  }

  async create(pod: PodNetworkSpec, services: readonly DnsService[]): Promise<void> {
    // DNS files first: `ip netns exec` only mounts what exists when the process starts.
    await this.writeDns(pod, services);
    if ((await this.#ip.listNetns()).includes(pod.netns)) return;
    try {
      await this.#ip.ip(["netns", "add", pod.netns]);
      await this.#ip.in(pod.node.netns, ["-batch", "-"], {
        input: batch([
          ["link", "add", pod.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", pod.netns],
          ["addr", "add", `${pod.node.gateway}/32`, "dev", pod.hostVeth],
          ["link", "set", pod.hostVeth, "up"],
          ["route", "replace", `${pod.ip}/32`, "dev", pod.hostVeth, "scope", "link"],
        ]),
      });
      await this.#ip.in(pod.netns, ["-batch", "-"], {
        input: batch([
          ["link", "set", "lo", "up"],
          ["addr", "add", `${pod.ip}/32`, "dev", "eth0"],
          ["link", "set", "eth0", "up"],
          ["route", "add", pod.node.gateway, "dev", "eth0", "scope", "link"],
          ["route", "add", "default", "via", pod.node.gateway, "dev", "eth0"],
        ]),
      });
    } catch (e) {
      // What was made goes again, a veth left over from an earlier pod of this name included, so
      // the next attempt starts clean.
      await this.delete(pod).catch(() => undefined);
      throw e;
    }
  }

  /** Rewrites the hosts file in place: a rename would leave running processes the old (bind-mounted) inode. */
  async writeDns(pod: PodNetworkSpec, services: readonly DnsService[]): Promise<void> {
    const dir = join(ETC_NETNS, pod.netns);
    await mkdir(dir, { recursive: true });
    await writeInPlace(join(dir, "hosts"), hostsFile(pod, services));
    await writeInPlace(join(dir, "resolv.conf"), resolvConf(pod.namespace));
  }

  async delete(pod: Pick<PodNetworkSpec, "netns" | "hostVeth" | "node">): Promise<void> {
    await this.#ip.deletePodNetwork({ netns: pod.netns, hostVeth: pod.hostVeth, nodeNetns: pod.node.netns });
    await rm(join(ETC_NETNS, pod.netns), { recursive: true, force: true });
  }
}

async function writeInPlace(path: string, text: string): Promise<void> {
  const f = await open(path, "a+");
  try {
    const current = await f.readFile("utf8");
    if (current === text) return;
    await f.truncate(0);
    await f.write(text, 0, "utf8");
  } finally {
    await f.close();
  }
}

function batch(lines: readonly (readonly string[])[]): string {
  return `${lines.map((l) => l.join(" ")).join("\n")}\n`;
}
