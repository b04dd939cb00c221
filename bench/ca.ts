// CA signing throughput on one core. Run: `npx tsc -p . && node dist/bench/ca.js [seconds-per-case]`.
// Writes bench/results/ca-<date>.json and adds a row to the CA table of bench/README.md.
//
// Cases (what a ztunnel asking for certificates costs the control plane, and the ztunnel itself):
//   sign-only          CertificateAuthority.sign(publicKey): template fill + one ECDSA P-256 signature
//   csr-verify+sign    signCsr(csrPem): PEM/DER parse of the PKCS#10, its signature check, then sign
//   keygen+csr+sign    what one workload certificate costs end to end on one machine: P-256 key
//                      generation and CSR (ztunnel side) plus signCsr (CA side)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CertificateAuthority } from "../src/identity/ca.js";
import { createCsr, generateKeyPair } from "../src/identity/keys.js";
import { SpiffeId } from "../src/identity/spiffe.js";

interface CaseResult {
  /** Per second of CPU time of this process: "on one core", robust when other work shares the machine. */
  readonly certsPerSecond: number;
  /** Per second of wall time (lower than certsPerSecond when the machine is busy). */
  readonly wallCertsPerSecond: number;
  readonly operations: number;
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
}

function measure(seconds: number, op: (i: number) => void): CaseResult {
  for (let i = 0; i < 200; i++) op(i); // warm-up: JIT and OpenSSL caches
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < 50; k++) op(n++);
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const wallSeconds = Number(now - start) / 1e9;
  return {
    certsPerSecond: Math.round(n / cpuSeconds),
    wallCertsPerSecond: Math.round(n / wallSeconds),
    operations: n,
    cpuSeconds: Number(cpuSeconds.toFixed(3)),
    wallSeconds: Number(wallSeconds.toFixed(3)),
  };
}

const seconds = Number(process.argv[2] ?? 5);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ca = CertificateAuthority.createSelfSigned({});
const identities = Array.from({ length: 64 }, (_, i) => SpiffeId.of(`ns-${i % 8}`, `sa-${i}`));
const keys = identities.map(() => generateKeyPair());
const csrs = identities.map((id, i) =>
  createCsr((keys[i] as ReturnType<typeof generateKeyPair>).privateKey, id),
);
const at = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

const results = {
  "sign-only": measure(seconds, (i) => {
    ca.sign(at(keys, i).publicKey, { identity: at(identities, i) });
  }),
  "csr-verify+sign": measure(seconds, (i) => {
    ca.signCsr(at(csrs, i), { identity: at(identities, i) });
  }),
  "keygen+csr+sign": measure(seconds, (i) => {
    const id = at(identities, i);
    const { privateKey } = generateKeyPair();
    ca.signCsr(createCsr(privateKey, id), { identity: id });
  }),
};

let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
} catch {
  // not a git checkout
}
const date = new Date().toISOString();
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  node: process.version,
  openssl: process.versions.openssl,
  loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
};
const record = { benchmark: "ca", date, commit, machine, secondsPerCase: seconds, results };
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(16)} ${String(r.certsPerSecond).padStart(7)} certs/s per CPU-second  (wall ${r.wallCertsPerSecond}/s, ${r.operations} ops)`,
  );
}

const resultsDir = join(repoRoot, "bench", "results");
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `ca-${date.slice(0, 10)}.json`);
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
console.log(`wrote ${file}`);

const readme = join(repoRoot, "bench", "README.md");
const heading = "## CA signing (`bench/ca.ts`)";
const tableHead = [
  "| date | commit | machine | sign-only | csr-verify+sign | keygen+csr+sign | load (1 min) |",
  "|---|---|---|---|---|---|---|",
];
const row = `| ${date.slice(0, 16).replace("T", " ")} | ${commit} | ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} | ${results["sign-only"].certsPerSecond}/s | ${results["csr-verify+sign"].certsPerSecond}/s | ${results["keygen+csr+sign"].certsPerSecond}/s | ${machine.loadAverage1m} |`;
let text = existsSync(readme)
  ? readFileSync(readme, "utf8")
  : "# Benchmarks\n\nEach benchmark records date, commit and machine beside its numbers.\n";
if (!text.includes(heading)) {
  text = `${text.trimEnd()}\n\n${heading}\n\nCertificates per CPU-second of one core (ECDSA P-256, DER template + \`crypto.sign\`); the JSON also has\nwall-clock rates, which drop when other work shares the machine (see the load column).\nRun \`npx tsc -p . && node dist/bench/ca.js\`.\n\n${tableHead.join("\n")}\n`;
}
// Insert the row at the end of the CA table (the table ends at the first blank line after the heading).
const start = text.indexOf(heading);
const tableStart = text.indexOf(tableHead[1] as string, start);
const tableEnd = text.indexOf("\n\n", tableStart);
text =
  tableEnd === -1
    ? `${text.trimEnd()}\n${row}\n`
    : `${text.slice(0, tableEnd)}\n${row}${text.slice(tableEnd)}`;
writeFileSync(readme, text);
console.log(`added a row to ${readme}`);
