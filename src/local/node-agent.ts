/**
 * The node agent's core: "pod added / updated / removed" events in, capture rules in the node's
 * netns out. It is deliberately the shape of Istio's CNI node agent: the same events can come from
 * `ambit up`'s local runtime (cluster-agent.ts) or, later, from a CNI plugin on Kubernetes, which
 * receives the pod's netns, IPs and labels from the kubelet. Enrollment is decided by the control
 * plane's registry (pod label over namespace label over the mesh-wide default) and carried in the
 * event, so un-labelling a namespace releases its pods live: the rules go, the pods stay.
 */
import { NodeCapture } from "../platform/capture.js";
import type { CommandRunner } from "../platform/command.js";

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
  readonly labels: Readonly<Record<string, string>>;
  readonly enrollment: Enrollment;
}

export type PodEvent =
  | { readonly type: "added"; readonly pod: AgentPod }
  | { readonly type: "updated"; readonly pod: AgentPod }
  | { readonly type: "removed"; readonly pod: Pick<AgentPod, "key" | "ip"> };

export interface NodeAgentOptions {
  /** The node's network namespace. */
  readonly netns: string;
  /** Cluster-unique prefix of chains and rule comments. */
  readonly prefix: string;
  readonly podCidrs: readonly string[];
  readonly run?: CommandRunner;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class NodeAgent {
  readonly capture: NodeCapture;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(o: NodeAgentOptions) {
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

  /** Keys of the pods whose capture rules are in the kernel (the only state; survives restarts). */
  enrolled(): Promise<string[]> {
    return this.capture.enrolled();
  }
}
