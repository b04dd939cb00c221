/**
 * The relay's `authorize` backed by the policy engine: each statement kind becomes the request's
 * `http.method` (ambit's extension: on a MySQL port `methods` names SQL statement kinds) with path
 * `/`. The path deliberately carries no schema: a statement can name any schema (`db.table`), so a
 * path-based rule would promise a protection it cannot give.
 */
import {
  type AuthzDestinationInfo,
  type AuthzSourceInfo,
  evaluate,
  type PolicySet,
} from "../../policy/index.js";
import type { Authorize, AuthorizeResult } from "./session.js";

export interface MysqlConnectionContext {
  /** The HBONE peer: its principal is the client workload's SPIFFE identity. */
  readonly source: AuthzSourceInfo;
  /** The database service and port the connection addressed. */
  readonly destination: AuthzDestinationInfo;
  /** `host` for `hosts` rules: the service host name the client used, when known. */
  readonly host?: string;
}

const ALLOWED: AuthorizeResult = Object.freeze({ allow: true });

/**
 * An `Authorize` for one connection. `policies` is read on every statement, so a waypoint that swaps
 * its PolicySet on an xDS update applies the new policy to the next statement of open sessions.
 */
export function policyAuthorizer(policies: () => PolicySet, context: MysqlConnectionContext): Authorize {
  return (method) => {
    const d = evaluate(policies(), {
      enforcement: "waypoint",
      source: context.source,
      destination: context.destination,
      http: { method, path: "/", host: context.host ?? "" },
    });
    if (d.decision === "allow") return ALLOWED;
    return { allow: false, reason: d.reason, policy: d.policy };
  };
}
