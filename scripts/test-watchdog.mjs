// Loaded with --import into every test file's process (scripts/run-tests.mjs). A file that is
// still running shortly before the runner's per-file timeout writes what it is waiting on —
// its live libuv handles (sockets with their addresses, timers, child processes) and what each
// child process is doing — so a hang that prints no subtest leaves a trace in the CI log.
// No line at all from a file that timed out means its event loop was blocked: busy JavaScript, or
// the main thread stuck in native code (a lock: attach gdb, see README).
import { readFileSync } from "node:fs";

const seconds = Number(process.env.AMBIT_TEST_WATCHDOG_S ?? "540");

function childDescription(pid) {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    let wchan = "";
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, "utf8");
    } catch {}
    return `pid ${pid} state ${state}${wchan ? ` wchan ${wchan}` : ""}: ${cmd.slice(0, 200)}`;
  } catch {
    return `pid ${pid}: gone`;
  }
}

function handleDescription(h) {
  const parts = [h.type];
  if (h.localEndpoint)
    parts.push(`local ${h.localEndpoint.ip4 ?? h.localEndpoint.ip6}:${h.localEndpoint.port}`);
  if (h.remoteEndpoint)
    parts.push(`remote ${h.remoteEndpoint.ip4 ?? h.remoteEndpoint.ip6}:${h.remoteEndpoint.port}`);
  if (h.type === "timer") parts.push(`fires in ${h.firesInMsFromNow} ms`);
  if (h.type === "process") parts.push(childDescription(h.pid));
  if (h.writeQueueSize) parts.push(`write queue ${h.writeQueueSize} B`);
  return parts.join(" ");
}

if (process.env.NODE_TEST_CONTEXT && seconds > 0) {
  const timer = setTimeout(() => {
    const file = process.argv[1] ?? "?";
    const lines = [`watchdog: ${file} still running after ${seconds} s; waiting on:`];
    for (const h of process.report.getReport().libuv) {
      // Referenced, active handles are what keep a process (and an awaited promise) alive.
      if (h.is_active && h.is_referenced && h.type !== "loop") lines.push(`  ${handleDescription(h)}`);
    }
    lines.push(`  resources: ${JSON.stringify(process.getActiveResourcesInfo())}`);
    process.stderr.write(`${lines.join("\n")}\n`);
  }, seconds * 1000);
  timer.unref();
}
