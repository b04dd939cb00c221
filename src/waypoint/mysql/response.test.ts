import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ResponseShape } from "./commands.js";
import type { PacketHead } from "./packets.js";
import { ResponseTracker } from "./response.js";

const pk = (...bytes: number[]): PacketHead => ({ seq: 0, length: bytes.length, head: Buffer.from(bytes) });
const OK = pk(0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00);
const OK_MORE = pk(0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00);
const EOF = pk(0xfe, 0x00, 0x00, 0x02, 0x00);
const EOF_MORE = pk(0xfe, 0x00, 0x00, 0x0a, 0x00);
const EOF_CURSOR = pk(0xfe, 0x00, 0x00, 0x42, 0x00);
const OK_FE = pk(0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00);
const ERR = pk(0xff, 0x7a, 0x04, 0x23, 0x34, 0x32, 0x30, 0x30, 0x30);
const PROGRESS = pk(0xff, 0xff, 0xff, 0x01);
const COL = pk(0x03, 0x64, 0x65, 0x66);
const ROW = pk(0x01, 0x31);
const COUNT2 = pk(0x02);

/** [name, shape, deprecateEof, packets, index after which the reply is done (or -1: never)] */
const ROWS: readonly (readonly [
  string,
  Exclude<ResponseShape, "none">,
  boolean,
  readonly PacketHead[],
  number,
])[] = [
  ["OK", "result", false, [OK], 0],
  ["ERR", "result", false, [ERR], 0],
  ["result set with EOFs", "result", false, [COUNT2, COL, COL, EOF, ROW, ROW, EOF], 6],
  ["result set, CLIENT_DEPRECATE_EOF", "result", true, [COUNT2, COL, COL, ROW, OK_FE], 4],
  ["rows then ERR", "result", false, [COUNT2, COL, COL, EOF, ROW, ERR], 5],
  ["two results (MORE_RESULTS_EXISTS)", "result", false, [COUNT2, COL, COL, EOF, ROW, EOF_MORE, OK], 6],
  ["OK with more results then OK", "result", false, [OK_MORE, OK], 1],
  ["progress reports are not the end", "result", false, [PROGRESS, OK], 1],
  ["open cursor: no rows now", "result", false, [pk(0x01), COL, EOF_CURSOR], 2],
  [
    "prepare: 2 params, 1 column",
    "prepare",
    false,
    [pk(0x00, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0), COL, COL, EOF, COL, EOF],
    5,
  ],
  ["prepare, DEPRECATE_EOF", "prepare", true, [pk(0x00, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0), COL, COL, COL], 3],
  ["prepare ERR", "prepare", false, [ERR], 0],
  ["field list", "columns", false, [COL, COL, EOF], 2],
  ["single", "single", false, [OK], 0],
  ["fetch", "fetch", false, [ROW, ROW, EOF], 2],
];

describe("ResponseTracker", () => {
  for (const [name, shape, dep, packets, doneAt] of ROWS) {
    test(name, () => {
      const t = new ResponseTracker(shape, { deprecateEof: dep });
      packets.forEach((p, i) => {
        assert.equal(t.done, false, `done too early, before packet ${i}`);
        t.feed(p);
      });
      assert.equal(t.done, doneAt === packets.length - 1);
    });
  }

  test("LOCAL INFILE waits for the client's empty packet, then the server's OK", () => {
    const t = new ResponseTracker("result", { deprecateEof: false });
    t.feed(pk(0xfb, 0x66));
    assert.equal(t.state.state, "infile");
    t.clientDataEnded();
    assert.equal(t.done, false);
    t.feed(OK);
    assert.equal(t.done, true);
  });

  test("a prepare reply reports the statement id", () => {
    const t = new ResponseTracker("prepare", { deprecateEof: false });
    t.feed(pk(0x00, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assert.equal(t.done, true);
    assert.equal(t.preparedId, 7);
  });
});
