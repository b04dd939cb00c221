import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isAmbitError } from "../../errors.js";
import { MysqlErrorCode } from "./errors.js";
import {
  encodePacket,
  errPacket,
  MAX_FRAME_PAYLOAD,
  okStatus,
  type Packet,
  PacketFramer,
  type PacketHead,
  PacketScanner,
  parseErr,
  readLenEnc,
} from "./packets.js";

/** Splits `buf` at the given cut points (any order, any values) into chunks. */
function chunked(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe("PacketFramer and PacketScanner", () => {
  test("property: any chunking yields the packets that were framed, and the scanner agrees", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (payloads, cuts) => {
          const wire = Buffer.concat(payloads.map((p, i) => encodePacket(Buffer.from(p), i)));
          const framer = new PacketFramer({ maxPacketBytes: 1024 });
          const scanner = new PacketScanner(16);
          const got: Packet[] = [];
          const heads: PacketHead[] = [];
          for (const c of chunked(wire, cuts)) {
            got.push(...framer.push(c));
            heads.push(...scanner.push(c));
          }
          assert.equal(got.length, payloads.length);
          assert.equal(heads.length, payloads.length);
          got.forEach((p, i) => {
            assert.deepEqual(p.payload, Buffer.from(payloads[i] as Uint8Array));
            assert.equal(p.seq, i);
            assert.deepEqual(p.raw, encodePacket(Buffer.from(payloads[i] as Uint8Array), i));
            assert.equal(heads[i]?.length, p.payload.length);
            assert.deepEqual(heads[i]?.head, p.payload.subarray(0, 16));
          });
          assert.equal(framer.bufferedBytes, 0);
        },
      ),
    );
  });

  test("a payload of 16 MiB or more travels as continuation frames and is one logical packet", () => {
    const payload = Buffer.alloc(MAX_FRAME_PAYLOAD + 10, 7);
    payload[0] = 0x03;
    const wire = encodePacket(payload, 0);
    assert.equal(wire.length, payload.length + 8); // two frame headers
    assert.equal(wire[MAX_FRAME_PAYLOAD + 4 + 3], 1); // the second frame has sequence id 1
    const framer = new PacketFramer({ maxPacketBytes: 32 * 1024 * 1024 });
    const scanner = new PacketScanner();
    const packets = [...framer.push(wire.subarray(0, 1000)), ...framer.push(wire.subarray(1000))];
    const heads = scanner.push(wire);
    assert.equal(packets.length, 1);
    assert.equal(packets[0]?.payload.length, payload.length);
    assert.equal(packets[0]?.seq, 0);
    assert.equal(packets[0]?.lastSeq, 1);
    assert.equal(heads.length, 1);
    assert.equal(heads[0]?.length, payload.length);
  });

  test("an exact multiple of 0xFFFFFF ends with an empty frame", () => {
    const wire = encodePacket(Buffer.alloc(MAX_FRAME_PAYLOAD), 5);
    assert.equal(wire.length, MAX_FRAME_PAYLOAD + 8);
    const heads = new PacketScanner().push(wire);
    assert.equal(heads.length, 1);
    assert.equal(heads[0]?.seq, 5);
  });

  test("a packet over the limit fails with WP_ERR_MYSQL_PACKET_TOO_LARGE before it is buffered", () => {
    const framer = new PacketFramer({ maxPacketBytes: 1024 });
    const header = Buffer.from([0x01, 0x08, 0x00, 0x00]); // 2049 bytes announced
    assert.throws(
      () => framer.push(header),
      (e: unknown) => isAmbitError(e, MysqlErrorCode.PACKET_TOO_LARGE),
    );
  });

  test("ERR packets carry code, SQLSTATE and message; OK status and length-encoded integers parse", () => {
    const err = errPacket(1, 1142, "42000", "ambit: DELETE statement denied");
    assert.equal(err[3], 1);
    assert.deepEqual(parseErr(err.subarray(4)), {
      code: 1142,
      sqlState: "42000",
      message: "ambit: DELETE statement denied",
    });
    assert.equal(okStatus(Buffer.from([0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00])), 0x0a);
    assert.deepEqual(readLenEnc(Buffer.from([0xfc, 0x34, 0x12]), 0), { value: 0x1234, next: 3 });
    assert.equal(readLenEnc(Buffer.from([0xfd, 0x01]), 0), null);
  });
});
