import assert from "node:assert/strict";
import { test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { bearerToken } from "./auth.js";

test("bearerToken reads exactly one well-formed Bearer header", () => {
  const md = (...values: string[]) => {
    const m = new Metadata();
    for (const v of values) m.add("authorization", v);
    return m;
  };
  assert.equal(bearerToken(md("Bearer abc.def-123")), "abc.def-123");
  assert.equal(bearerToken(md("bearer abc")), "abc");
  assert.equal(bearerToken(md()), null);
  assert.equal(bearerToken(md("Basic abc")), null);
  assert.equal(bearerToken(md("Bearer ")), null);
  assert.equal(bearerToken(md("Bearer a b")), null);
  assert.equal(bearerToken(md("Bearer a", "Bearer b")), null, "two credentials are ambiguous");
  assert.equal(bearerToken(md(`Bearer ${"x".repeat(9000)}`)), null, "bounded length");
});
