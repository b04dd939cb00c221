import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isAmbitError } from "../errors.js";
import {
  bitString,
  bitStringBytes,
  children,
  contextTag,
  decodeOid,
  decodeTime,
  namedBits,
  octetString,
  oid,
  readNode,
  readSingle,
  sequence,
  set,
  smallInteger,
  Tag,
  time,
  tlv,
  unsignedInteger,
} from "./der.js";

const hex = (b: Buffer): string => b.toString("hex");

describe("DER encoder: known encodings", () => {
  const table: Array<[string, Buffer, string]> = [
    ["INTEGER 0", smallInteger(0), "020100"],
    ["INTEGER 2", smallInteger(2), "020102"],
    ["INTEGER 127", smallInteger(127), "02017f"],
    ["INTEGER 128 gets a 0x00 pad", smallInteger(128), "02020080"],
    ["INTEGER 256", smallInteger(256), "02020100"],
    ["unsigned INTEGER strips leading zeros", unsignedInteger(Buffer.from("000001ff", "hex")), "020201ff"],
    ["unsigned INTEGER pads a high bit", unsignedInteger(Buffer.from("ff", "hex")), "020200ff"],
    ["OID ecPublicKey", oid("1.2.840.10045.2.1"), "06072a8648ce3d0201"],
    ["OID subjectAltName", oid("2.5.29.17"), "0603551d11"],
    ["OID with a large arc", oid("2.999.3"), "0603883703"],
    ["KeyUsage digitalSignature+keyEncipherment", namedBits([0, 2]), "030205a0"],
    ["KeyUsage keyCertSign+cRLSign", namedBits([5, 6]), "03020106"],
    ["BIT STRING", bitString(Buffer.from("abcd", "hex")), "030300abcd"],
    ["OCTET STRING", octetString(Buffer.from("01", "hex")), "040101"],
    ["empty SEQUENCE", sequence(), "3000"],
    ["[0] EXPLICIT INTEGER 2", contextTag(0, smallInteger(2), true), "a003020102"],
    ["[6] IMPLICIT IA5String", contextTag(6, Buffer.from("a"), false), "860161"],
    ["SET sorts its members", set(smallInteger(2), smallInteger(1)), "3106020101020102"],
    ["UTCTime in 2049", time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))), "170d3439313233313233353935395a"],
    ["GeneralizedTime from 2050", time(new Date(Date.UTC(2050, 0, 1))), "180f32303530303130313030303030305a"],
  ];
  for (const [name, encoded, expected] of table) {
    test(name, () => assert.equal(hex(encoded), expected));
  }

  test("long-form lengths at the boundaries", () => {
    for (const [length, header] of [
      [0, "0400"],
      [127, "047f"],
      [128, "048180"],
      [255, "0481ff"],
      [256, "04820100"],
      [65536, "0483010000"],
    ] as const) {
      const encoded = octetString(Buffer.alloc(length, 7));
      assert.equal(hex(encoded.subarray(0, header.length / 2)), header, `length ${length}`);
      const node = readSingle(encoded);
      assert.equal(node.value.length, length);
    }
  });
});

describe("DER round trips (property)", () => {
  test("any TLV content reads back", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70000 }),
        fc.constantFrom(0x04, 0x0c, 0x30, 0xa3),
        (bytes, tag) => {
          const node = readSingle(tlv(tag, bytes));
          assert.equal(node.tag, tag);
          assert.ok(Buffer.from(bytes).equals(node.value));
        },
      ),
      { numRuns: 60 },
    );
  });

  test("OIDs round-trip", () => {
    const arc = fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 2 ** 32 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(arc, { maxLength: 8 }),
        (a, b, rest) => {
          const dotted = [a, b, ...rest].join(".");
          assert.equal(decodeOid(readSingle(oid(dotted))), dotted);
        },
      ),
    );
  });

  test("times round-trip to the second across the UTCTime/GeneralizedTime switch", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(9999, 11, 31) / 1000 }),
        (s) => {
          const d = new Date(s * 1000);
          const node = readSingle(time(d));
          assert.equal(node.tag, d.getUTCFullYear() < 2050 ? Tag.UTC_TIME : Tag.GENERALIZED_TIME);
          assert.equal(decodeTime(node).getTime(), d.getTime());
        },
      ),
    );
  });

  test("integers keep their magnitude", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
        const node = readSingle(unsignedInteger(bytes));
        assert.equal(node.tag, Tag.INTEGER);
        assert.equal((node.value[0] as number) & 0x80, 0, "must stay non-negative");
        const strip = (b: Buffer): string => b.toString("hex").replace(/^(00)+/, "");
        assert.equal(strip(node.value), strip(Buffer.from(bytes)));
      }),
    );
  });

  test("nested sequences expose their children and BIT STRING bytes", () => {
    const inner = bitString(Buffer.from("0102", "hex"));
    const outer = readSingle(sequence(smallInteger(1), sequence(inner)));
    const [a, b] = children(outer);
    assert.equal(a?.tag, Tag.INTEGER);
    assert.equal(hex(bitStringBytes(children(b!)[0]!)), "0102");
  });
});

describe("DER reader rejects malformed input", () => {
  const bad: Array<[string, string]> = [
    ["truncated header", "30"],
    ["content past the end", "3005020101"],
    ["indefinite length", "3080020101000000"],
    ["non-minimal long length", "04810101"],
    ["length with a leading zero byte", "0482000101"],
    ["multi-byte tag", "1f8101"],
  ];
  for (const [name, h] of bad) {
    test(name, () => {
      assert.throws(
        () => readSingle(Buffer.from(h, "hex")),
        (e: unknown) => isAmbitError(e, "ID_ERR_BAD_DER"),
      );
    });
  }
  test("trailing bytes after a single value", () => {
    assert.throws(
      () => readSingle(Buffer.from("02010100", "hex")),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_DER"),
    );
    assert.equal(readNode(Buffer.from("02010100", "hex")).raw.length, 3);
  });
  test("time values outside the RFC 5280 profile", () => {
    assert.throws(
      () => decodeTime(readSingle(tlv(Tag.UTC_TIME, Buffer.from("4912312359Z")))),
      (e: unknown) => isAmbitError(e, "ID_ERR_BAD_DER"),
    );
  });
});
