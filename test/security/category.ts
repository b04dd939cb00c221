/**
 * One corpus category against the in-process mesh: per case the exact outcome and then an honest
 * CONNECT through the same ztunnel; across the category a tunnel opened before the first case
 * still carries bytes after the last, and descriptors and heap come back to their baseline.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { assertNoLeak, baseline } from "./leaks.js";
import { type Duplex, echoRoundTrip, type SecurityMesh } from "./mesh.js";

export async function stillServes(mesh: SecurityMesh, label: string): Promise<void> {
  const payload = Buffer.from(`still serving after ${label}`);
  const back = await echoRoundTrip(await mesh.connectGood(), payload);
  assert.equal(back.toString(), `${payload.toString()}<EOF SEEN>`);
}

export interface CategoryCase {
  readonly name: string;
}

export function corpusCategory<C extends CategoryCase>(
  title: string,
  mesh: () => SecurityMesh,
  cases: readonly C[],
  run: (c: C) => Promise<void>,
  /** Descriptors a category may legitimately leave behind (a documented known issue). */
  allowedFds = 0,
): void {
  describe(title, () => {
    let held: Duplex;
    let base: ReturnType<typeof baseline>;
    const heldChunks: Buffer[] = [];
    const onHeld = (c: Buffer): number => heldChunks.push(c);
    before(async () => {
      await stillServes(mesh(), "warm-up");
      held = await mesh().connectGood();
      held.on("data", onHeld);
      held.write("before ");
      base = baseline();
    });
    for (const c of cases) {
      test(c.name, async () => {
        await run(c);
        await stillServes(mesh(), c.name);
      });
    }
    test(`${title}: the connection held across the category still works; nothing leaked`, async () => {
      held.off("data", onHeld);
      const back = await echoRoundTrip(held, Buffer.from("after"));
      assert.equal(Buffer.concat([...heldChunks.splice(0), back]).toString(), "before after<EOF SEEN>");
      await assertNoLeak(base, title, allowedFds);
    });
  });
}
