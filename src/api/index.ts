/** The configuration model: kinds, loading with positions, validation, printing. */
export * from "./config-error.js";
export * from "./errors.js";
export { selectorMatches } from "./kinds/apps-v1.js";
export { DATAPLANE_MODE_LABEL, DATAPLANE_MODES, USE_WAYPOINT_LABEL } from "./kinds/core-v1.js";
export { HBONE_PORT, WAYPOINT_CLASS } from "./kinds/gateway-api.js";
export * from "./load.js";
export * from "./print.js";
export { isNamespaced, kindDefinition, knownKinds } from "./registry.js";
export type * from "./types.js";
