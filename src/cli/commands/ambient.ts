/**
 * `ambit ambient init --mode=monitor|ambient` and `ambit ambient upgrade --enable-ztunnel`: the
 * mesh-wide default enrollment. It is a label (`ambit.dev/default-dataplane-mode`) on the MeshConfig
 * `istio-system/default`, which the registry applies to every namespace without its own
 * `istio.io/dataplane-mode` (a namespace or pod labelled `none` stays out). Monitor mode captures and
 * observes — metrics, access records, "would deny" decisions — and changes nothing on the wire.
 */
import type { Command } from "commander";
import { MESH_DATAPLANE_MODE_LABEL } from "../../control/registry.js";
import { isAmbitError } from "../../errors.js";
import { LocalError, LocalErrorCode } from "../../local/errors.js";
import { AdminClient, adminOptionsOf } from "../admin-client.js";

const MESH_CONFIG = { kind: "MeshConfig", name: "default", namespace: "istio-system" } as const;

async function setDefaultMode(
  flags: { home?: string; server?: string },
  mode: "ambient" | "monitor" | "none",
): Promise<void> {
  const admin = await AdminClient.connect(adminOptionsOf(flags));
  try {
    await admin.get(`/v1/resources/MeshConfig/${MESH_CONFIG.name}?namespace=${MESH_CONFIG.namespace}`);
  } catch (e) {
    if (!isAmbitError(e, "CP_ERR_NOT_FOUND")) throw e;
    const yaml = [
      "apiVersion: networking.istio.io/v1beta1",
      "kind: MeshConfig",
      "metadata:",
      `  name: ${MESH_CONFIG.name}`,
      `  namespace: ${MESH_CONFIG.namespace}`,
      "spec: {}",
      "",
    ].join("\n");
    await admin.post("/v1/apply", {
      sources: [{ filename: "<ambit ambient>", yaml }],
      namespace: MESH_CONFIG.namespace,
    });
  }
  await admin.post("/v1/label", {
    ...MESH_CONFIG,
    set: { [MESH_DATAPLANE_MODE_LABEL]: mode },
    remove: [],
    overwrite: true,
  });
  process.stdout.write(
    mode === "none"
      ? "mesh-wide default enrollment removed: only namespaces/pods labelled istio.io/dataplane-mode are captured\n"
      : `every namespace without istio.io/dataplane-mode is now ${mode === "monitor" ? "observed (monitor mode: nothing changes on the wire)" : "in the mesh (ambient: mTLS and L4 policy)"}; opt one out with istio.io/dataplane-mode=none\n`,
  );
}

export function register(program: Command): void {
  const ambient = program
    .command("ambient")
    .description("mesh-wide enrollment: observe everything first, then secure it");
  ambient
    .command("init")
    .description("set the mesh-wide default enrollment (monitor: capture and observe, change nothing)")
    .option("--mode <mode>", "monitor, ambient or none", "monitor")
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the unix socket")
    .action(async (flags: { mode: string; home?: string; server?: string }) => {
      if (flags.mode !== "monitor" && flags.mode !== "ambient" && flags.mode !== "none") {
        throw new LocalError(
          LocalErrorCode.BAD_OPTIONS,
          `--mode ${JSON.stringify(flags.mode)} must be monitor, ambient or none`,
        );
      }
      await setDefaultMode(flags, flags.mode);
    });
  ambient
    .command("upgrade")
    .description(
      "turn the mesh-wide default from monitor to ambient (L4 security for every namespace not opted out)",
    )
    .requiredOption(
      "--enable-ztunnel",
      "enforce: mTLS and L4 authorization in every namespace without dataplane-mode none",
    )
    .option("--home <dir>", "data directory (default $AMBIT_HOME or ./.ambit)")
    .option("--server <host:port>", "admin API TCP address instead of the unix socket")
    .action(async (flags: { home?: string; server?: string }) => {
      await setDefaultMode(flags, "ambient");
    });
}
