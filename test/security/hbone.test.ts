/**
 * The HTTP/2 frame and CONNECT corpora against a real in-process ztunnel (node-b) over real mTLS.
 * Per case: the exact outcome, then an honest CONNECT still works. Per category: a connection
 * opened before the first case still carries bytes after the last, and no descriptor or heap leaks.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { corpusCategory } from "./category.js";
import { CONNECT_CASES } from "./corpus/connect.js";
import { H2_FRAME_CASES } from "./corpus/h2-frames.js";
import type { H2Case } from "./corpus/types.js";
import { runH2Case } from "./h2-runner.js";
import { type SecurityMesh, startSecurityMesh } from "./mesh.js";

let mesh: SecurityMesh;

before(async () => {
  mesh = await startSecurityMesh();
});

after(async () => {
  await mesh.close();
});

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
  corpusCategory(
    title,
    () => mesh,
    cases,
    async (c) => {
      const observed = await runH2Case(mesh, c);
      assert.deepEqual(observed, c.expect, `${c.target}: ${c.name}`);
    },
    lingering(cases),
  );
}

category("15008 HTTP/2 frames", H2_FRAME_CASES);
category("15008 CONNECT requests", CONNECT_CASES);
