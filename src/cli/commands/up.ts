/**
 * `ambit up`: a whole local cluster in Linux network namespaces (control plane, nodes, ztunnels,
 * the node agent, the pods of `-f` manifests). Also `ambit node-agent`, the agent process `up`
 * starts detached (not for direct use).
 */
import type { Command } from "commander";
import { ClusterAgent } from "../../local/cluster-agent.js";
import { clusterConfig, invokedAs, resolveLocalHome } from "../../local/cluster-config.js";
import { requireClusterState } from "../../local/cluster-state.js";
import { clusterUp } from "../../local/cluster-up.js";
import { repeatable } from "../admin-client.js";
import { interruptibly, untilStopSignal } from "../process-io.js";

interface UpFlags {
  file?: string[];
  nodes: string;
  name?: string;
  home?: string;
  capture: string;
  output?: string;
}

export function register(program: Command): void {
  program
    .command("up")
    .description("start a local cluster in network namespaces: control plane, nodes, ztunnels, pods (root)")
    .option(
      "-f, --file <path>",
      "manifests to apply once the cluster runs (file or directory; repeatable)",
      repeatable,
    )
    .option("--nodes <n>", "number of nodes", "2")
    .option("--name <name>", "cluster name, prefix of every netns/link/chain (2-16 of a-z 0-9)", "ambit")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option(
      "--capture <mode>",
      "where pods' traffic is captured: inpod (rules and ztunnel sockets inside each pod's netns, as Istio's in-pod redirection) or node (in the node's netns)",
      "inpod",
    )
    .option("-o, --output <format>", "json: print the cluster state as JSON at the end")
    .action(async (flags: UpFlags) => {
      const config = clusterConfig({
        nodes: Number(flags.nodes),
        files: flags.file ?? [],
        capture: flags.capture,
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.home !== undefined ? { home: flags.home } : {}),
      });
      const json = flags.output === "json";
      const say = (line: string): void => {
        (json ? process.stderr : process.stdout).write(`${line}\n`);
      };
      say(
        `ambit up: cluster "${config.name}", ${config.nodes} nodes, ${config.capture} capture, data in ${config.home}`,
      );
      const t0 = performance.now();
      // Ctrl-C (or SIGTERM): stop at the next step and remove what was created; again: leave now.
      const { state, pods } = await interruptibly(
        {
          stopping: "stopping at the next step, then removing what was created",
          again: "leave it",
          left: "`ambit down` removes what was created",
        },
        (signal) => clusterUp(config, say, signal),
      );
      if (json) {
        process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
        return;
      }
      const home = flags.home !== undefined ? ` --home ${config.home}` : "";
      say(
        `\ncluster "${config.name}" is up in ${((performance.now() - t0) / 1000).toFixed(1)}s: ${state.nodes.length} nodes, ${pods} pods.\n`,
      );
      const ambit = invokedAs();
      say("Next:");
      say(`  ${ambit} get workloads -A${home}                      # pods, nodes, IPs, enrollment`);
      say(`  ${ambit} exec${home} -n payment-system client-0 -- curl -s http://payment-service:8080/`);
      say(`  tail -f ${config.home}/logs/payment-system.client-0.log      # a pod's output`);
      say(`  tail -f ${config.home}/logs/ztunnel.node-1.log                # access records of node-1`);
      say(`  ${ambit} exec${home} --node node-1 -- curl -s localhost:15020/metrics   # ztunnel metrics`);
      say(`  ${ambit} down${home}                                  # remove everything`);
    });

  program
    .command("node-agent", { hidden: true })
    .description("the local cluster's node agent (started by `ambit up`)")
    .option("--home <dir>", "data directory of the cluster")
    .action(async (flags: { home?: string }) => {
      const state = await requireClusterState(resolveLocalHome(flags.home));
      const agent = await ClusterAgent.start(state);
      await untilStopSignal();
      await agent.stop();
    });
}
