import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { AmbitError } from "../errors.js";
import { caErrorToStatus } from "./ca-service.js";

test("CA handler errors map to gRPC statuses in one table", () => {
  const cases: [unknown, status][] = [
    [new AmbitError("ID_ERR_CSR_IDENTITY_MISMATCH", "x"), status.PERMISSION_DENIED],
    [new AmbitError("CP_ERR_PERMISSION_DENIED", "x"), status.PERMISSION_DENIED],
    [new AmbitError("ID_ERR_BAD_CSR", "x"), status.INVALID_ARGUMENT],
    [new AmbitError("CP_ERR_UNAUTHENTICATED", "x"), status.UNAUTHENTICATED],
    [new AmbitError("CP_ERR_UNREACHABLE", "x"), status.UNAVAILABLE],
    [new AmbitError("WP_ERR_SOMETHING_DENIED", "x"), status.PERMISSION_DENIED],
    [new AmbitError("FOO_ERR_INVALID_THING", "x"), status.INVALID_ARGUMENT],
    [new AmbitError("FOO_ERR_WEIRD", "x"), status.INTERNAL],
    [new Error("secret"), status.INTERNAL],
    ["not even an error", status.INTERNAL],
  ];
  for (const [err, want] of cases) assert.equal(caErrorToStatus(err).code, want, String(err));
  assert.equal(caErrorToStatus(new Error("secret")).details, "internal CA error");
  assert.equal(
    caErrorToStatus(new AmbitError("FOO_ERR_WEIRD", "x"), { FOO_ERR_WEIRD: status.ABORTED }).code,
    status.ABORTED,
  );
});
