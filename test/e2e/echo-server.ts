/**
 * The e2e tests' workload: a TCP echo server (argv: port). Every byte comes back; when the client
 * half-closes, the server finishes sending and closes its side, so half-close is observable.
 */
import net from "node:net";

const port = Number(process.argv[2] ?? "9000");
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on("error", () => s.destroy());
  s.pipe(s);
});
server.listen(port, "0.0.0.0", () => process.stdout.write(`echo listening on ${port}\n`));
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
