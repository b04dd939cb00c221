/** Pieces every API group uses: object metadata, label maps, selectors, policy target references. */
import { ConfigErrorCode as C } from "../errors.js";
import { checkDns1123Label, checkLabelKey, checkLabelValue, dnsLabel } from "../formats.js";
import { anyValue, enumOf, list, map, obj, type Schema, str } from "../schema.js";

export const labels = (): Schema =>
  map(str({ expect: "a label value", check: checkLabelValue }), {
    key: checkLabelKey,
    expectKey: "label key",
  });

export const stringMap = (): Schema => map(str());

/** `metadata`; `name` is checked by the kind (Services are DNS-1035, most others DNS-1123 subdomains). */
export function objectMeta(nameSchema: Schema): Schema {
  return obj(
    {
      name: nameSchema,
      namespace: dnsLabel(),
      labels: labels(),
      annotations: stringMap(),
    },
    {
      required: ["name"],
      // Server-set or client-managed fields that `kubectl get -o yaml` output carries; accepted so a
      // round-trip through another tool validates, not interpreted.
      ignored: [
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "ownerReferences",
        "finalizers",
        "generateName",
        "selfLink",
      ],
    },
  );
}

/** Istio's `istio.type.v1beta1.WorkloadSelector`. */
export const workloadSelector = (): Schema => obj({ matchLabels: labels() });

export const labelSelector = (): Schema =>
  obj({
    matchLabels: labels(),
    matchExpressions: list(
      obj(
        {
          key: str({ check: checkLabelKey }),
          operator: enumOf(["In", "NotIn", "Exists", "DoesNotExist"]),
          values: list(str()),
        },
        {
          required: ["key", "operator"],
          checks: [
            (v, scope) => {
              const values = (v["values"] as string[] | undefined) ?? [];
              const op = v["operator"];
              if ((op === "In" || op === "NotIn") && values.length === 0) {
                scope.report(C.SEMANTIC, "values", `operator ${String(op)} needs at least one value`);
              }
              if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) {
                scope.report(C.SEMANTIC, "values", `operator ${String(op)} must not have values`);
              }
            },
          ],
        },
      ),
    ),
  });

/** Gateway API policy attachment as Istio accepts it on its policies. */
export const policyTargetRef = (): Schema =>
  obj(
    {
      group: str(),
      kind: enumOf(["Gateway", "GatewayClass", "Service", "ServiceEntry"]),
      name: str({ nonEmpty: true }),
      namespace: str({ check: checkDns1123Label }),
    },
    { required: ["kind", "name"] },
  );

/** Istio `exportTo`: "." (own namespace), "*" (all), or namespace names. */
export const exportTo = (): Schema =>
  list(
    str({
      expect: '".", "*" or a namespace name',
      check: (v) => (v === "." || v === "*" ? undefined : checkDns1123Label(v)),
    }),
  );

export const freeForm = anyValue;
