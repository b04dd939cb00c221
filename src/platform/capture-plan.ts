/**
 * Capture rules for one node's network namespace, as pure planning: inputs (prefix, pods, ports)
 * → nat rules, and (desired rules, current `iptables -t nat -S`) → the iptables-restore batch
 * that gets from one to the other. capture.ts only executes what this file decides.
 *
 * Layout (nat table, all in dedicated chains named `<prefix>-…` so several clusters can share a
 * kernel and removal by prefix is exact):
 *
 *   PREROUTING ─▶ <prefix>-OUTBOUND   per pod: from its host veth
 *              │    -i <veth> -p tcp, to the node's own ztunnel ports  → RETURN (health, metrics, HBONE
 *              │                                                          to the local ztunnel itself)
 *              │    -i <veth> -p tcp                                   → REDIRECT :15001
 *              └▶ <prefix>-INBOUND    per pod: to its IP
 *                   -d <pod> -p tcp --dport 15008                      → REDIRECT :15008 (HBONE)
 *                   -d <pod> -s <this node's pod CIDR>                 → RETURN
 *                   -d <pod> -p tcp                                    → REDIRECT :15006 (plaintext)
 *
 * Only PREROUTING is used: ztunnel's own upstream connections start in the node netns and pass
 * OUTPUT, so they are never re-captured (no mark needed with REDIRECT).
 *
 * Every rule carries a comment `<prefix>/<scope>/<role>/<hash>`: the scope (`base`, or `pod=<name>`)
 * lets one pod's rules be found and replaced without touching others, and the hash of the rule's
 * text detects a changed rule (e.g. a new pod IP) so re-enrolling is idempotent.
 */
import { createHash } from "node:crypto";
import { invalid } from "./errors.js";
import { checkCidr, checkIp, checkLinkName, checkPort } from "./linux-names.js";

export interface CapturePorts {
  /** Where a pod's outbound TCP is redirected (Istio: 15001). */
  readonly outbound: number;
  /** Plaintext inbound to a captured pod (Istio: 15006). */
  readonly inboundPlaintext: number;
  /** HBONE inbound (Istio: 15008). */
  readonly hbone: number;
}

export const DEFAULT_CAPTURE_PORTS: CapturePorts = Object.freeze({
  outbound: 15001,
  inboundPlaintext: 15006,
  hbone: 15008,
});

/**
 * The node ztunnel's own ports a pod may dial on a node address without being captured:
 * 15001/15006/15008 (capture and HBONE), 15020 metrics, 15021 readiness, 15080 SOCKS5.
 */
export const DEFAULT_ZTUNNEL_PORTS: readonly number[] = Object.freeze([
  15001, 15006, 15008, 15020, 15021, 15080,
]);

export interface CaptureOptions {
  /** Cluster-unique, 2-16 of a-z 0-9 starting with a letter; chains are `<prefix>-OUTBOUND|INBOUND`. */
  readonly prefix: string;
  /** Pod CIDRs of this node: plaintext from them to a captured pod is not taken to 15006. */
  readonly localPodCidrs: readonly string[];
  readonly ports?: Partial<CapturePorts>;
  /** Overrides DEFAULT_ZTUNNEL_PORTS (at most 15: the multiport match limit). */
  readonly ztunnelPorts?: readonly number[];
}

export interface CaptureConfig {
  readonly prefix: string;
  readonly chains: { readonly outbound: string; readonly inbound: string };
  readonly localPodCidrs: readonly string[];
  readonly ports: CapturePorts;
  readonly ztunnelPorts: readonly number[];
}

export interface CapturedPod {
  /** Unique within the cluster; letters, digits, `.`, `-`, `_` (it appears in rule comments). */
  readonly name: string;
  readonly ip: string;
  /** The pod's veth end in the node netns. */
  readonly hostVeth: string;
}

/** One nat rule: `-A|-I <chain> [pos] <matches> -m comment --comment <comment> <target>`. */
export interface NatRule {
  readonly chain: string;
  /** 1-based insert position; absent = append. */
  readonly position?: number;
  readonly matches: readonly string[];
  readonly target: readonly string[];
  readonly comment: string;
}

const PREFIX = /^[a-z][a-z0-9]{1,15}$/;
const POD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw invalid(`"${prefix}" is not a usable capture prefix (2-16 of a-z 0-9, starting with a letter)`);
  }
  return prefix;
}

export function captureChains(prefix: string): CaptureConfig["chains"] {
  return { outbound: `${prefix}-OUTBOUND`, inbound: `${prefix}-INBOUND` };
}

export function captureConfig(options: CaptureOptions): CaptureConfig {
  const prefix = checkPrefix(options.prefix);
  const ports: CapturePorts = { ...DEFAULT_CAPTURE_PORTS, ...options.ports };
  for (const p of Object.values(ports)) checkPort(p);
  const ztunnelPorts = [...(options.ztunnelPorts ?? DEFAULT_ZTUNNEL_PORTS)];
  if (ztunnelPorts.length === 0 || ztunnelPorts.length > 15) {
    throw invalid(`ztunnelPorts must list 1-15 ports (iptables multiport limit), got ${ztunnelPorts.length}`);
  }
  for (const p of ztunnelPorts) checkPort(p);
  return Object.freeze({
    prefix,
    chains: Object.freeze(captureChains(prefix)),
    localPodCidrs: Object.freeze(options.localPodCidrs.map(checkCidr)),
    ports: Object.freeze(ports),
    ztunnelPorts: Object.freeze(ztunnelPorts),
  });
}

function hashOf(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 8);
}

function rule(config: CaptureConfig, scope: string, role: string, r: Omit<NatRule, "comment">): NatRule {
  const text = [r.chain, String(r.position ?? ""), ...r.matches, "--", ...r.target];
  return { ...r, comment: `${config.prefix}/${scope}/${role}/${hashOf(text)}` };
}

export function baseScope(config: CaptureConfig): string {
  return `${config.prefix}/base/`;
}

export function podScope(config: CaptureConfig, podName: string): string {
  return `${config.prefix}/pod=${podName}/`;
}

/** The two jumps from PREROUTING, inserted first so other nat rules (kube-proxy) see captured traffic after us. */
export function planBase(config: CaptureConfig): NatRule[] {
  return [
    rule(config, "base", "jump-outbound", {
      chain: "PREROUTING",
      position: 1,
      matches: ["-p", "tcp"],
      target: ["-j", config.chains.outbound],
    }),
    rule(config, "base", "jump-inbound", {
      chain: "PREROUTING",
      position: 2,
      matches: ["-p", "tcp"],
      target: ["-j", config.chains.inbound],
    }),
  ];
}

/** The rules that capture one pod, outbound then inbound (their order inside each chain matters). */
export function planPod(config: CaptureConfig, pod: CapturedPod): NatRule[] {
  if (!POD_NAME.test(pod.name)) throw invalid(`"${pod.name}" is not a usable pod name for capture`);
  const veth = checkLinkName(pod.hostVeth);
  const ip = checkIp(pod.ip);
  if (ip.includes(":"))
    throw invalid(`pod ${pod.name}: IPv6 capture (${ip}) needs ip6tables rules, not supported yet`);
  const host = `${ip}/32`;
  const scope = `pod=${pod.name}`;
  const { outbound, inbound } = config.chains;
  const rules: NatRule[] = [
    rule(config, scope, "out-ztunnel-exempt", {
      chain: outbound,
      matches: [
        "-i",
        veth,
        "-p",
        "tcp",
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-m",
        "multiport",
        "--dports",
        config.ztunnelPorts.join(","),
      ],
      target: ["-j", "RETURN"],
    }),
    rule(config, scope, "out-redirect", {
      chain: outbound,
      matches: ["-i", veth, "-p", "tcp"],
      target: ["-j", "REDIRECT", "--to-ports", String(config.ports.outbound)],
    }),
    rule(config, scope, "in-hbone", {
      chain: inbound,
      matches: ["-d", host, "-p", "tcp", "--dport", String(config.ports.hbone)],
      target: ["-j", "REDIRECT", "--to-ports", String(config.ports.hbone)],
    }),
  ];
  config.localPodCidrs.forEach((cidr, i) => {
    rules.push(
      rule(config, scope, `in-local-pods-${i}`, {
        chain: inbound,
        matches: ["-d", host, "-s", cidr, "-p", "tcp"],
        target: ["-j", "RETURN"],
      }),
    );
  });
  rules.push(
    rule(config, scope, "in-plaintext", {
      chain: inbound,
      matches: ["-d", host, "-p", "tcp"],
      target: ["-j", "REDIRECT", "--to-ports", String(config.ports.inboundPlaintext)],
    }),
  );
  return rules;
}

/**
 * In-pod capture (Istio's in-pod redirection): the rules live inside the pod's own netns and send
 * its traffic to ztunnel sockets opened in that same netns, so captured bytes never cross the
 * pod's veth in plain text. ztunnel marks the sockets it opens there with `INPOD_MARK`, which the
 * rules let through (Istio uses the same mark, 0x539):
 *
 *   PREROUTING ─▶ <prefix>-PRERT    marked, or from lo                 → RETURN
 *                                   -d <pod> --dport 15008             → RETURN (ztunnel's HBONE listener)
 *                                   -s <node address>                  → RETURN (the node's own probes)
 *                                   -d <pod> -p tcp                    → REDIRECT :15006
 *   OUTPUT     ─▶ <prefix>-OUTPUT   marked, or to lo                   → RETURN
 *                                   -d <node address> ztunnel ports    → RETURN
 *                                   -p tcp                             → REDIRECT :15001 (to 127.0.0.1)
 */
export const INPOD_MARK = 0x539;
const INPOD_MARK_MATCH = ["-m", "mark", "--mark", `0x${INPOD_MARK.toString(16)}/0xfff`];

export interface InPodCapturedPod {
  readonly name: string;
  readonly ip: string;
  /** The node's address on the pod's link (its default gateway): probes from it stay plain. */
  readonly nodeAddress: string;
}

export function inPodChains(prefix: string): { readonly prerouting: string; readonly output: string } {
  return { prerouting: `${prefix}-PRERT`, output: `${prefix}-OUTPUT` };
}

/** The rules inside one pod's netns (in order), with the jumps from PREROUTING and OUTPUT first. */
export function planInPod(config: CaptureConfig, pod: InPodCapturedPod): NatRule[] {
  if (!POD_NAME.test(pod.name)) throw invalid(`"${pod.name}" is not a usable pod name for capture`);
  const ip = checkIp(pod.ip);
  const node = checkIp(pod.nodeAddress);
  if (ip.includes(":") || node.includes(":"))
    throw invalid(`pod ${pod.name}: IPv6 capture (${ip}) needs ip6tables rules, not supported yet`);
  const scope = `pod=${pod.name}`;
  const { prerouting, output } = inPodChains(config.prefix);
  const r = (role: string, nat: Omit<NatRule, "comment">): NatRule => rule(config, scope, role, nat);
  const ret = ["-j", "RETURN"];
  return [
    r("jump-prerouting", {
      chain: "PREROUTING",
      position: 1,
      matches: ["-p", "tcp"],
      target: ["-j", prerouting],
    }),
    r("jump-output", { chain: "OUTPUT", position: 1, matches: ["-p", "tcp"], target: ["-j", output] }),
    r("in-ztunnel-own", { chain: prerouting, matches: INPOD_MARK_MATCH, target: ret }),
    r("in-loopback", { chain: prerouting, matches: ["-i", "lo"], target: ret }),
    r("in-hbone", {
      chain: prerouting,
      matches: ["-d", `${ip}/32`, "-p", "tcp", "--dport", String(config.ports.hbone)],
      target: ret,
    }),
    r("in-node", { chain: prerouting, matches: ["-s", `${node}/32`], target: ret }),
    r("in-plaintext", {
      chain: prerouting,
      matches: ["-d", `${ip}/32`, "-p", "tcp"],
      target: ["-j", "REDIRECT", "--to-ports", String(config.ports.inboundPlaintext)],
    }),
    r("out-ztunnel-own", { chain: output, matches: INPOD_MARK_MATCH, target: ret }),
    r("out-loopback", { chain: output, matches: ["-o", "lo"], target: ret }),
    r("out-ztunnel-exempt", {
      chain: output,
      matches: [
        "-d",
        `${node}/32`,
        "-p",
        "tcp",
        "-m",
        "multiport",
        "--dports",
        config.ztunnelPorts.join(","),
      ],
      target: ret,
    }),
    r("out-redirect", {
      chain: output,
      matches: ["-p", "tcp"],
      target: ["-j", "REDIRECT", "--to-ports", String(config.ports.outbound)],
    }),
  ];
}

/** One line of `iptables -t nat -S`. */
export interface ExistingRule {
  readonly chain: string;
  /** The line as printed, starting with `-A `: valid iptables-restore input once `-A` becomes `-D`. */
  readonly line: string;
  readonly comment: string | undefined;
  /** The `-j` target (a chain name or an extension like REDIRECT). */
  readonly jump: string | undefined;
}

export interface NatState {
  readonly chains: readonly string[];
  readonly rules: readonly ExistingRule[];
}

/** Parses `iptables -t nat -S` (both the nf_tables and the legacy backend print this format). */
export function parseNatRules(text: string): NatState {
  const chains: string[] = [];
  const rules: ExistingRule[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("-N ")) {
      chains.push(line.slice(3).trim());
    } else if (line.startsWith("-A ")) {
      const chain = line.slice(3).split(/\s+/)[0] ?? "";
      const comment = /--comment (?:"([^"]*)"|(\S+))/.exec(line);
      const jump = /(?:^|\s)-j (\S+)/.exec(line);
      rules.push({ chain, line, comment: comment?.[1] ?? comment?.[2], jump: jump?.[1] });
    }
  }
  return { chains, rules };
}

export function renderRule(r: NatRule): string {
  const head = r.position === undefined ? `-A ${r.chain}` : `-I ${r.chain} ${r.position}`;
  return [head, ...r.matches, "-m", "comment", "--comment", r.comment, ...r.target].join(" ");
}

/**
 * Lines of an iptables-restore `--noflush` batch that make the rules of `scope` (a comment
 * prefix) equal to `desired`. If anything in the scope differs, the whole scope is deleted and
 * re-added in order (rule order inside a chain matters), in one atomic transaction. `ensureChains`
 * are declared only when missing: declaring an existing chain under --noflush would flush it.
 */
export function planScopeChange(
  state: NatState,
  scope: string,
  desired: readonly NatRule[],
  ensureChains: readonly string[] = [],
): string[] {
  const lines: string[] = [];
  for (const chain of ensureChains) {
    if (!state.chains.includes(chain)) lines.push(`:${chain} - [0:0]`);
  }
  const current = state.rules.filter((r) => r.comment?.startsWith(scope));
  const same =
    current.length === desired.length &&
    desired.every((d) => current.some((c) => c.comment === d.comment && c.chain === d.chain));
  if (same) return lines;
  for (const r of current) lines.push(`-D ${r.line.slice(3)}`);
  for (const r of desired) lines.push(renderRule(r));
  return lines;
}

/** Everything of one prefix: jumps into its chains (and any rule with its comment), then the chains. */
export function planRemoveAll(state: NatState, prefix: string): string[] {
  checkPrefix(prefix);
  const ours = (chain: string): boolean => chain.startsWith(`${prefix}-`);
  const lines: string[] = [];
  for (const r of state.rules) {
    if (ours(r.chain)) continue;
    if ((r.jump !== undefined && ours(r.jump)) || r.comment?.startsWith(`${prefix}/`))
      lines.push(`-D ${r.line.slice(3)}`);
  }
  const chains = state.chains.filter(ours);
  for (const c of chains) lines.push(`-F ${c}`);
  for (const c of chains) lines.push(`-X ${c}`);
  return lines;
}

/** Names of the pods whose rules are present (from the comments). */
export function enrolledPods(state: NatState, prefix: string): string[] {
  const names = new Set<string>();
  const marker = `${prefix}/pod=`;
  for (const r of state.rules) {
    if (r.comment?.startsWith(marker)) names.add(r.comment.slice(marker.length).split("/")[0] ?? "");
  }
  return [...names].filter((n) => n !== "").sort();
}

export function renderRestore(lines: readonly string[]): string {
  return ["*nat", ...lines, "COMMIT", ""].join("\n");
}
