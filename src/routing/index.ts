/** The L7 routing engine: compile routing resources once, decide per request. Pure. */
export { compileRoutes, DEFAULT_LOAD_BALANCER, ISTIO_DEFAULT_RETRIES } from "./compile.js";
export { lookupHost, route } from "./decide.js";
export { RoutingError, RoutingErrorCode } from "./errors.js";
export { applyHeaderOps, type HeaderOp } from "./header-ops.js";
export { backendLabel, hostMatches, resolveHost } from "./hosts.js";
export { type Endpoint, LoadBalancer, type LoadBalancerPolicy, policyOf } from "./load-balancer.js";
export { compileRe2 } from "./regex.js";
export { parseRouteRequest } from "./request.js";
export { redirectLocation, replacePrefixMatch, rewritePath } from "./rewrite.js";
export type * from "./types.js";
export { chance, type Rand, seededRand, weightedIndex } from "./weighted.js";
