import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { replacePrefixMatch, rewritePath } from "./rewrite.js";

const segment = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const path = fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => `/${s.join("/")}`);

test("ReplacePrefixMatch always yields an absolute path and keeps what followed the prefix", () => {
  fc.assert(
    fc.property(
      path,
      fc.array(segment, { maxLength: 3 }),
      path,
      fc.boolean(),
      (prefix, rest, replacement, slash) => {
        const full =
          prefix === "/" ? `/${rest.join("/")}` : `${prefix}${rest.length ? `/${rest.join("/")}` : ""}`;
        const out = replacePrefixMatch(
          full,
          prefix,
          slash && replacement !== "/" ? `${replacement}/` : replacement,
        );
        assert.ok(out.startsWith("/"), out);
        assert.ok(!out.includes("//"), out);
        if (rest.length > 0) assert.ok(out.endsWith(`/${rest.join("/")}`), `${full} → ${out}`);
      },
    ),
  );
});

test("Envoy prefix_rewrite keeps the query string and the unmatched rest", () => {
  assert.equal(rewritePath({ kind: "prefix", value: "/new" }, "/old/x?y=1", 4, undefined), "/new/x?y=1");
  assert.equal(
    rewritePath({ kind: "prefix", value: "/login2" }, "/login?next=/", 6, undefined),
    "/login2?next=/",
  );
  assert.equal(rewritePath(undefined, "/same?q", 1, undefined), "/same?q");
});
