// Public entry point of the xDS area: the delta ADS server and client, the CA transport, the
// resource types and their validators. Generated messages are imported from ./gen/… directly.
export { bearerToken, type XdsAuthContext, type XdsAuthenticator, type XdsCaller } from "./auth.js";
export { type BackoffOptions, backoffDelay } from "./backoff.js";
export {
  type CaClientOptions,
  type CaHandler,
  type CaServiceOptions,
  type CertificateSigningRequest,
  caErrorToStatus,
  createCertificate,
  GrpcCaClient,
  IMPERSONATED_IDENTITY_KEY,
} from "./ca-service.js";
export {
  type XdsCachedResource,
  type XdsChange,
  XdsClient,
  type XdsClientOptions,
  type XdsClientState,
  type XdsSubscription,
} from "./client.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./credentials.js";
export type { NackRecord, NodeInfo, SentRecord, TypeStatus } from "./delta-stream.js";
export { XdsError, XdsErrorCode } from "./errors.js";
export type { XdsLogger } from "./log.js";
export {
  type StoredResource,
  type XdsResourceDelta,
  type XdsResourceInput,
  XdsResourceStore,
} from "./resource-store.js";
export {
  ADDRESS_TYPE,
  AUTHORIZATION_TYPE,
  defineResourceType,
  L7_RESOURCE_TYPE,
  type XdsResourceType,
} from "./resource-types.js";
export {
  type XdsConnectionStatus,
  XdsServer,
  type XdsServerEvents,
  type XdsServerOptions,
} from "./server.js";
export { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, L7_RESOURCE_TYPE_URL, typeUrlOf } from "./type-urls.js";
export {
  addressResourceName,
  authorizationResourceName,
  l7ResourceName,
  type ResourceValidator,
  validateAddress,
  validateAuthorization,
  validateL7Resource,
  XDS_LIMITS,
} from "./validate.js";
