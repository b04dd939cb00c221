/**
 * The node agent's core: "pod added / updated / removed" events in, capture rules in the node's
 * netns out. It is deliberately the shape of Istio's CNI node agent: the same events can come from
 * `ambit up`'s local runtime (cluster-agent.ts) or, later, from a CNI plugin on Kubernetes, which
 * receives the pod's netns, IPs and labels from the kubelet. Enrollment is decided by the control
 * plane's registry (pod label over namespace label over the mesh-wide default) and carried in the
 * event, so un-labelling a namespace releases its pods live: the rules go, the pods stay.
 */
import { captureInPod, NodeCapture, removeCaptureByPrefix } from "../platform/capture.js";
import type { CommandRunner } from "../platform/command.js";
import { runCommand } from "../platform/command.js";
import type { InPodAgent } from "./inpod-agent.js";

export type Enrollment = "ambient" | "monitor" | "none";

export interface AgentPod {
  /** Unique on the node; keys the capture rules (`<pod>.<namespace>`). */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly ip: string;
  /** The pod's veth end in the node netns. */
  readonly hostVeth: string;
  /** The node's address on the pod's link (the pod's gateway). */
  readonly nodeAddress: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly enrollment: Enrollment;
}

export type PodEvent =
  | { readonly type: "added"; readonly pod: AgentPod }
  | { readonly type: "updated"; readonly pod: AgentPod }
  | { readonly type: "removed"; readonly pod: Pick<AgentPod, "key" | "ip" | "netns"> };

export interface NodeAgentOptions {
  /** The node's network namespace. */
  readonly netns: string;
  /** Cluster-unique prefix of chains and rule comments. */
  readonly prefix: string;
  readonly podCidrs: readonly string[];
  readonly run?: CommandRunner;
  /** In-pod mode: the channel to the node's ztunnels. Absent: node mode. */
  readonly inPod?: InPodAgent;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class NodeAgent {
  readonly capture: NodeCapture;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #o: NodeAgentOptions;

  constructor(o: NodeAgentOptions) {
    this.#o = o;
    this.capture = new NodeCapture({
      netns: o.netns,
      prefix: o.prefix,
      localPodCidrs: o.podCidrs,
      ...(o.run !== undefined ? { run: o.run } : {}),
    });
    this.#log = o.log ?? (() => {});
  }

  /**
   * Monitor mode is captured exactly like ambient: ztunnel sees the connection and decides (from
   * its xDS state) to observe and pass it through unchanged.
   */
  async handle(event: PodEvent): Promise<void> {
    if (this.#o.inPod !== undefined) return this.#handleInPod(event, this.#o.inPod);
    if (event.type === "removed") {
      await this.capture.unenroll(event.pod.key);
      this.#log("pod removed: capture off", { pod: event.pod.key });
      return;
    }
    const { pod } = event;
    if (pod.enrollment === "none") {
      await this.capture.unenroll(pod.key);
      this.#log(`pod ${event.type}: not enrolled`, { pod: pod.key });
    } else {
      await this.capture.enroll({ name: pod.key, ip: pod.ip, hostVeth: pod.hostVeth });
      this.#log(`pod ${event.type}: captured (${pod.enrollment})`, { pod: pod.key });
    }
  }

  /**
   * In-pod: rules go into the pod's netns first, then the ztunnel is told to open its sockets
   * there (until it has, the pod's connections are refused: fail closed); on the way out the
   * rules go first, then the listeners (the netns itself is deleted with the pod).
   */
  async #handleInPod(event: PodEvent, inPod: InPodAgent): Promise<void> {
    const run = this.#o.run ?? runCommand;
    const { pod } = event;
    if (event.type === "removed" || event.pod.enrollment === "none") {
      // Rules first: new connections go direct before the listeners they were sent to close.
      await removeCaptureByPrefix(pod.netns, this.#o.prefix, run).catch((e: unknown) => {
        // A pod whose netns is already gone has no rules left to remove.
        if (event.type !== "removed") throw e;
      });
      await inPod.remove(pod.key, { gone: event.type === "removed" });
      this.#log(`pod ${event.type}: ${event.type === "removed" ? "capture off" : "not enrolled"} (in-pod)`, {
        pod: pod.key,
      });
      return;
    }
    const p = event.pod;
    await captureInPod(
      { prefix: this.#o.prefix, localPodCidrs: this.#o.podCidrs, netns: p.netns, run },
      { name: p.key, ip: p.ip, nodeAddress: p.nodeAddress },
    );
    const served = await inPod.add({ uid: p.key, netns: p.netns, ips: [p.ip] });
    this.#log(`pod ${event.type}: captured in its netns (${p.enrollment})`, { pod: p.key, served });
  }

  /** Keys of the pods whose capture rules are in the kernel (the only state; survives restarts). */
  enrolled(): Promise<string[]> {
    return this.capture.enrolled();
  }
}
