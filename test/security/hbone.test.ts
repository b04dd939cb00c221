/**
 * The HTTP/2 frame and CONNECT corpora against a real in-process ztunnel (node-b) over real mTLS.
 * Per case: the exact outcome, then an honest CONNECT still works. Per category: a connection
 * opened before the first case still carries bytes after the last, and no descriptor or heap leaks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CONNECT_CASES } from "./corpus/connect.js";
import { H2_FRAME_CASES } from "./corpus/h2-frames.js";
import type { H2Case } from "./corpus/types.js";
import { runH2Case } from "./h2-runner.js";
import { assertNoLeak, baseline } from "./leaks.js";
import { type Duplex, echoRoundTrip, type SecurityMesh, startSecurityMesh } from "./mesh.js";

let mesh: SecurityMesh;

before(async () => {
  mesh = await startSecurityMesh();
});

after(async () => {
  await mesh.close();
});

async function stillServes(label: string): Promise<void> {
  const payload = Buffer.from(`still serving after ${label}`);
  const back = await echoRoundTrip(await mesh.connectGood(), payload);
  assert.equal(back.toString(), `${payload.toString()}<EOF SEEN>`);
}

/**
 * Known issue (docs/security.md): when nghttp2 itself ends a session (GOAWAY with its own code),
 * node:http2 stops reading and never destroys the socket; the server holds it (and the upstream of
 * a CONNECT still open on it) until the session idle timeout. Bounded per case, so counted here.
 */
function lingering(cases: readonly H2Case[]): number {
  const held = cases.filter(
    (c) => "goaway" in c.expect && c.expect.goaway !== "INTERNAL_ERROR" && c.expect.goaway !== "NO_ERROR",
  );
  return held.length * 3;
}

function category(title: string, cases: readonly H2Case[]): void {
  describe(title, () => {
    let held: Duplex;
    let base: ReturnType<typeof baseline>;
    const heldChunks: Buffer[] = [];
    const onHeld = (c: Buffer): number => heldChunks.push(c);
    before(async () => {
      await stillServes("warm-up");
      held = await mesh.connectGood();
      held.on("data", onHeld);
      held.write("before ");
      base = baseline();
    });
    for (const c of cases) {
      test(c.name, async () => {
        const observed = await runH2Case(mesh, c);
        assert.deepEqual(observed, c.expect, `${c.target}: ${c.name}`);
        await stillServes(c.name);
      });
    }
    test(`${title}: the connection held across the category still works; nothing leaked`, async () => {
      held.off("data", onHeld);
      const back = await echoRoundTrip(held, Buffer.from("after"));
      assert.equal(Buffer.concat([...heldChunks.splice(0), back]).toString(), "before after<EOF SEEN>");
      await assertNoLeak(base, title, lingering(cases));
    });
  });
}

category("15008 HTTP/2 frames", H2_FRAME_CASES);
category("15008 CONNECT requests", CONNECT_CASES);
