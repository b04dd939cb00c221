/**
 * The xDS server's own TLS certificate, signed by the mesh CA at every start. It carries Istio's
 * control-plane identity as URI SAN (`spiffe://<td>/ns/istio-system/sa/istiod`) and, because
 * gRPC clients verify the server by host name, DNS/IP SANs as well (`istiod.istio-system.svc`,
 * `localhost`, 127.0.0.1 and the listen host). The CA library issues workload leaves with URI SANs
 * only, so this one is made with the `openssl` CLI from the CA's key file in `<home>/ca/`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { CaFiles } from "../identity/ca.js";
import { generateKeyPair } from "../identity/keys.js";
import { ControlError, ControlErrorCode } from "./errors.js";

const run = promisify(execFile);

export const CONTROL_PLANE_DNS_NAMES = ["istiod.istio-system.svc", "istiod", "localhost"] as const;

export interface ServingCert {
  certPem: string;
  keyPem: string;
  identity: string;
  dnsNames: string[];
  ipAddresses: string[];
}

export async function issueServingCert(o: {
  caDir: string;
  trustDomain: string;
  listenHost: string;
  validityDays: number;
}): Promise<ServingCert> {
  const identity = `spiffe://${o.trustDomain}/ns/istio-system/sa/istiod`;
  const dnsNames: string[] = [...CONTROL_PLANE_DNS_NAMES];
  const ipAddresses = ["127.0.0.1"];
  const host = o.listenHost.replace(/^\[|\]$/g, "");
  if (isIP(host) && host !== "0.0.0.0" && host !== "::" && !ipAddresses.includes(host))
    ipAddresses.push(host);
  else if (!isIP(host) && host !== "" && !dnsNames.includes(host)) dnsNames.push(host);
  const { privateKey } = generateKeyPair();
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const tmp = await mkdtemp(join(o.caDir, ".serving-"));
  try {
    await writeFile(join(tmp, "key.pem"), keyPem, { mode: 0o600 });
    await writeFile(
      join(tmp, "ext.cnf"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        `subjectAltName=${[`URI:${identity}`, ...dnsNames.map((d) => `DNS:${d}`), ...ipAddresses.map((i) => `IP:${i}`)].join(",")}`,
        "",
      ].join("\n"),
    );
    // The subject must differ from the root's (`O=<trust domain>`), or OpenSSL takes the leaf for self-signed.
    await run("openssl", [
      "req",
      "-new",
      "-key",
      join(tmp, "key.pem"),
      "-subj",
      "/O=ambit control plane",
      "-out",
      join(tmp, "csr.pem"),
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      join(tmp, "csr.pem"),
      "-CA",
      join(o.caDir, CaFiles.cert),
      "-CAkey",
      join(o.caDir, CaFiles.key),
      "-set_serial",
      `0x${randomBytes(16)
        .toString("hex")
        .replace(/^[89a-f]/, "1")}`,
      "-days",
      String(o.validityDays),
      "-sha256",
      "-extfile",
      join(tmp, "ext.cnf"),
      "-out",
      join(tmp, "cert.pem"),
    ]);
    return {
      certPem: await readFile(join(tmp, "cert.pem"), "utf8"),
      keyPem,
      identity,
      dnsNames,
      ipAddresses,
    };
  } catch (e) {
    throw new ControlError(
      ControlErrorCode.BAD_OPTIONS,
      `cannot issue the xDS server certificate with openssl (is the openssl package installed?): ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
