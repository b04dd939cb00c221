/** apps/v1: Deployment (replicas become pods spread over the nodes in local mode). */
import { ConfigErrorCode as C } from "../errors.js";
import { checkDns1123Subdomain } from "../formats.js";
import { bool, enumOf, int, intOrString, type ObjectCheck, obj, problem, str } from "../schema.js";
import type { LabelSelector } from "../types.js";
import { labelSelector, labels, stringMap } from "./common.js";
import { podSpec } from "./core-v1.js";

/** Does a Kubernetes label selector select these labels? (matchLabels AND every matchExpression) */
export function selectorMatches(sel: LabelSelector, labelsOf: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labelsOf[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labelsOf, e.key);
    const val = labelsOf[e.key];
    const inValues = val !== undefined && (e.values ?? []).includes(val);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const percentOrCount = () =>
  intOrString((v) =>
    typeof v === "number"
      ? v >= 0
        ? undefined
        : problem(C.RANGE, `${v} is not >= 0`)
      : /^\d+%$/.test(v)
        ? undefined
        : problem(C.FORMAT, `${JSON.stringify(v)} is not a count or a percentage like "25%"`),
  );

const selectorMatchesTemplate: ObjectCheck = (v, scope) => {
  const sel = v["selector"] as LabelSelector;
  const tmplLabels =
    (v["template"] as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {};
  if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
    scope.report(C.MISSING_FIELD, "selector", "selector must not be empty (set matchLabels)");
    return;
  }
  if (!selectorMatches(sel, tmplLabels)) {
    scope.report(
      C.SEMANTIC,
      "template.metadata.labels",
      "selector does not match template labels (the Deployment would own no pods); copy selector.matchLabels into template.metadata.labels",
    );
  }
};

export const deploymentSpec = obj(
  {
    replicas: int({ min: 0 }),
    selector: labelSelector(),
    template: obj(
      {
        metadata: obj(
          { name: str({ check: checkDns1123Subdomain }), labels: labels(), annotations: stringMap() },
          { ignored: ["creationTimestamp", "namespace"] },
        ),
        spec: podSpec,
      },
      { required: ["spec"] },
    ),
    strategy: obj(
      {
        type: enumOf(["RollingUpdate", "Recreate"]),
        rollingUpdate: obj({ maxSurge: percentOrCount(), maxUnavailable: percentOrCount() }),
      },
      {
        checks: [
          (v, scope) => {
            if (v["type"] === "Recreate" && v["rollingUpdate"] !== undefined) {
              scope.report(C.CONFLICT, "rollingUpdate", "rollingUpdate is not allowed with type Recreate");
            }
          },
        ],
      },
    ),
    minReadySeconds: int({ min: 0 }),
    revisionHistoryLimit: int({ min: 0 }),
    progressDeadlineSeconds: int({ min: 1 }),
    paused: bool(),
  },
  {
    required: ["selector", "template"],
    checks: [selectorMatchesTemplate],
  },
);
