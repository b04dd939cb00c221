import { X509Certificate } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  Client,
  status as GrpcStatus,
  Metadata,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { isAmbitError } from "../errors.js";
import { type CaClient, type CaResponse, CertStore } from "../identity/cert-store.js";
import { identityFromCertificate, type SpiffeId } from "../identity/spiffe.js";
import { authContextOf, type XdsAuthenticator } from "./auth.js";
import { type ClientTlsOptions, channelCredentials, channelOptions } from "./credentials.js";
import { XdsError, XdsErrorCode } from "./errors.js";
import {
  type IstioCertificateRequest,
  IstioCertificateRequestSchema,
  type IstioCertificateResponse,
  IstioCertificateResponseSchema,
} from "./gen/istio/v1/auth/ca_pb.js";
import {
  CREATE_CERTIFICATE_PATH,
  deserializeCertificateResponse,
  serializeCertificateRequest,
} from "./grpc-definitions.js";
import { SILENT_LOGGER, type XdsLogger } from "./log.js";

/** ztunnel asks for other identities' certificates by naming them in the request metadata. */
export const IMPERSONATED_IDENTITY_KEY = "ImpersonatedIdentity";

export const CA_LIMITS = {
  csrBytes: 64 * 1024,
  /** A year; the CA applies its own, usually much shorter, maximum. */
  maxValiditySeconds: 365 * 24 * 3600,
  metadataBytes: 16 * 1024,
} as const;

export interface CertificateSigningRequest {
  readonly csr: string;
  /** Requested lifetime in seconds; 0 means "the CA's default". */
  readonly validityDuration: number;
  readonly metadata: JsonObject;
}

/** Signs for an authenticated caller or throws (an AmbitError whose code maps to a gRPC status). */
export type CaHandler<C> = (
  caller: C,
  request: CertificateSigningRequest,
) => Promise<{ certChain: string[] }>;

export interface CaServiceOptions<C> {
  readonly handler: CaHandler<C>;
  /** Extra error-code → gRPC status entries, consulted before the built-in table. */
  readonly statusByCode?: Readonly<Record<string, GrpcStatus>>;
}

// Error codes of the areas a CA handler calls into, and what the caller should make of them.
const STATUS_BY_CODE: Readonly<Record<string, GrpcStatus>> = {
  XDS_ERR_CA_UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  XDS_ERR_CA_DENIED: GrpcStatus.PERMISSION_DENIED,
  XDS_ERR_CA_INVALID_REQUEST: GrpcStatus.INVALID_ARGUMENT,
  XDS_ERR_CA_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  CP_ERR_UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  CP_ERR_PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  CP_ERR_BAD_REQUEST: GrpcStatus.INVALID_ARGUMENT,
  CP_ERR_UNREACHABLE: GrpcStatus.UNAVAILABLE,
  ID_ERR_CSR_IDENTITY_MISMATCH: GrpcStatus.PERMISSION_DENIED,
  ID_ERR_TRUST_DOMAIN_MISMATCH: GrpcStatus.PERMISSION_DENIED,
  ID_ERR_BAD_CSR: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_BAD_PEM: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_BAD_DER: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_BAD_SPIFFE_ID: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_BAD_TTL: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_UNSUPPORTED_KEY: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_NO_URI_SAN: GrpcStatus.INVALID_ARGUMENT,
  ID_ERR_MULTIPLE_URI_SANS: GrpcStatus.INVALID_ARGUMENT,
};

/**
 * The one place where a CA handler's error becomes a gRPC status. Known codes use the table;
 * other AmbitErrors are classified by the words in their code; anything else is INTERNAL with a
 * generic message, so internals never leak to the caller (they are logged instead).
 */
export function caErrorToStatus(
  err: unknown,
  extra: Readonly<Record<string, GrpcStatus>> = {},
): { code: GrpcStatus; details: string } {
  if (!isAmbitError(err)) return { code: GrpcStatus.INTERNAL, details: "internal CA error" };
  const details = `${err.code}: ${err.message}`;
  const known = extra[err.code] ?? STATUS_BY_CODE[err.code];
  if (known !== undefined) return { code: known, details };
  const c = err.code;
  if (/UNAUTHENTICATED|TOKEN/.test(c)) return { code: GrpcStatus.UNAUTHENTICATED, details };
  if (/DENIED|FORBIDDEN|NOT_ALLOWED|MISMATCH/.test(c)) return { code: GrpcStatus.PERMISSION_DENIED, details };
  if (/INVALID|BAD_|MALFORMED/.test(c)) return { code: GrpcStatus.INVALID_ARGUMENT, details };
  if (/UNAVAILABLE|UNREACHABLE|TIMEOUT|CLOSED/.test(c)) return { code: GrpcStatus.UNAVAILABLE, details };
  return { code: GrpcStatus.INTERNAL, details };
}

function grpcError(code: GrpcStatus, details: string): Partial<ServiceError> {
  return { code, details, metadata: new Metadata() };
}

/** The server side of IstioCertificateService.CreateCertificate, for `grpc.Server#addService`. */
export function caServiceImplementation<C>(
  authenticate: XdsAuthenticator<C>,
  options: CaServiceOptions<C>,
  log: XdsLogger = SILENT_LOGGER,
): {
  CreateCertificate: (
    call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
    callback: sendUnaryData<IstioCertificateResponse>,
  ) => void;
} {
  const serve = async (call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>) => {
    const caller = await authenticate(authContextOf(CREATE_CERTIFICATE_PATH, call));
    if (caller === null) {
      log.warn({ peer: call.getPeer() }, "CA request unauthenticated");
      return grpcError(
        GrpcStatus.UNAUTHENTICATED,
        "no valid credential: send `authorization: Bearer <token>`",
      );
    }
    const req = call.request;
    const metadata = req.metadata ?? {};
    if (req.csr.length === 0 || req.csr.length > CA_LIMITS.csrBytes) {
      return grpcError(
        GrpcStatus.INVALID_ARGUMENT,
        `csr of ${req.csr.length} bytes, expected 1-${CA_LIMITS.csrBytes}`,
      );
    }
    if (req.validityDuration < 0n || req.validityDuration > BigInt(CA_LIMITS.maxValiditySeconds)) {
      return grpcError(
        GrpcStatus.INVALID_ARGUMENT,
        `validity_duration ${req.validityDuration}, expected 0-${CA_LIMITS.maxValiditySeconds} seconds`,
      );
    }
    if (JSON.stringify(metadata).length > CA_LIMITS.metadataBytes) {
      return grpcError(GrpcStatus.INVALID_ARGUMENT, `metadata larger than ${CA_LIMITS.metadataBytes} bytes`);
    }
    try {
      const out = await options.handler(caller, {
        csr: req.csr,
        validityDuration: Number(req.validityDuration),
        metadata,
      });
      return create(IstioCertificateResponseSchema, { certChain: out.certChain });
    } catch (e) {
      const mapped = caErrorToStatus(e, options.statusByCode);
      const level = mapped.code === GrpcStatus.INTERNAL ? "error" : "warn";
      log[level](
        { peer: call.getPeer(), code: isAmbitError(e) ? e.code : undefined, err: String(e) },
        "CA request refused",
      );
      return grpcError(mapped.code, mapped.details);
    }
  };
  return {
    CreateCertificate: (call, callback) => {
      serve(call).then(
        (r) => ("$typeName" in r ? callback(null, r) : callback(r)),
        (e: unknown) => {
          log.error({ peer: call.getPeer(), err: String(e) }, "CA request failed");
          callback(grpcError(GrpcStatus.INTERNAL, "internal CA error"));
        },
      );
    },
  };
}

export interface CaClientOptions {
  /** host:port of the CA, usually the control plane's 15012. */
  readonly address: string;
  readonly tls: ClientTlsOptions;
  /** Bearer token (or a function giving the current one, for rotating tokens). */
  readonly token?: string | (() => string | Promise<string>);
  /** Per-request deadline (default 10 s). */
  readonly timeoutMs?: number;
}

function clientStatusError(err: ServiceError): XdsError {
  const code =
    err.code === GrpcStatus.UNAUTHENTICATED
      ? XdsErrorCode.CaUnauthenticated
      : err.code === GrpcStatus.PERMISSION_DENIED
        ? XdsErrorCode.CaDenied
        : err.code === GrpcStatus.INVALID_ARGUMENT
          ? XdsErrorCode.CaInvalidRequest
          : err.code === GrpcStatus.UNAVAILABLE ||
              err.code === GrpcStatus.DEADLINE_EXCEEDED ||
              err.code === GrpcStatus.RESOURCE_EXHAUSTED
            ? XdsErrorCode.CaUnavailable
            : XdsErrorCode.CaFailed;
  return new XdsError(
    code,
    `CA refused the certificate request (gRPC ${GrpcStatus[err.code]}): ${err.details}`,
    {
      cause: err,
    },
  );
}

/**
 * A gRPC client of IstioCertificateService. Implements the identity area's CaClient, so a
 * ztunnel's certificate store asks the control plane for its workloads' certificates through it.
 */
export class GrpcCaClient implements CaClient {
  readonly #client: Client;
  readonly #options: CaClientOptions;
  #closed = false;

  constructor(options: CaClientOptions) {
    if (options.address === "")
      throw new XdsError(XdsErrorCode.Config, "CA address is empty; expected host:port");
    this.#options = options;
    this.#client = new Client(
      options.address,
      channelCredentials(options.tls),
      channelOptions(options.tls, 1 << 20),
    );
  }

  /** Calls CreateCertificate and returns the PEM chain, leaf first. */
  async createCertificate(csrPem: string, ttlSeconds: number, metadata: JsonObject = {}): Promise<string[]> {
    if (this.#closed) throw new XdsError(XdsErrorCode.Closed, "CA client used after close()");
    const md = new Metadata();
    const token =
      typeof this.#options.token === "function" ? await this.#options.token() : this.#options.token;
    if (token !== undefined) md.set("authorization", `Bearer ${token}`);
    const request = create(IstioCertificateRequestSchema, {
      csr: csrPem,
      validityDuration: BigInt(Math.max(0, Math.floor(ttlSeconds))),
      metadata,
    });
    const deadline = Date.now() + (this.#options.timeoutMs ?? 10_000);
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      this.#client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        serializeCertificateRequest,
        deserializeCertificateResponse,
        request,
        md,
        { deadline },
        (err, value) => {
          if (err) reject(clientStatusError(err));
          else if (value === undefined)
            reject(new XdsError(XdsErrorCode.CaBadResponse, "CA sent no response message"));
          else resolve(value);
        },
      );
    });
    return response.certChain;
  }

  async requestCertificate(identity: SpiffeId, csrPem: string, ttlSeconds: number): Promise<CaResponse> {
    const chain = await this.createCertificate(csrPem, ttlSeconds, {
      [IMPERSONATED_IDENTITY_KEY]: identity.toString(),
    });
    const first = chain[0];
    if (first === undefined) {
      throw new XdsError(
        XdsErrorCode.CaBadResponse,
        `CA returned an empty certificate chain for ${identity}`,
      );
    }
    // Istio puts the root last; older CAs concatenate several PEMs in one entry. Split either way.
    const pems = chain.flatMap(
      (entry) => entry.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [],
    );
    let got: SpiffeId;
    try {
      got = identityFromCertificate(new X509Certificate(pems[0] ?? first));
    } catch (e) {
      throw new XdsError(
        XdsErrorCode.CaBadResponse,
        `CA returned an unreadable leaf certificate for ${identity}`,
        {
          cause: e,
        },
      );
    }
    // As ztunnel does: never install a certificate for an identity other than the one asked for.
    if (!got.equals(identity)) {
      throw new XdsError(
        XdsErrorCode.CaBadResponse,
        `CA returned a certificate for ${got}, expected ${identity}`,
      );
    }
    const selfSigned = (pem: string): boolean => {
      const c = new X509Certificate(pem);
      return c.issuer === c.subject && c.checkIssued(c);
    };
    const roots = pems.slice(1).filter(selfSigned);
    const chainPem = pems.filter((p, i) => i === 0 || !roots.includes(p));
    return roots.length > 0 ? { certChainPem: chainPem, rootsPem: roots } : { certChainPem: chainPem };
  }

  close(): void {
    this.#closed = true;
    this.#client.close();
  }
}

/** One-shot CreateCertificate: connects, asks, closes. */
export async function createCertificate(
  options: CaClientOptions,
  csrPem: string,
  ttlSeconds: number,
): Promise<string[]> {
  const client = new GrpcCaClient(options);
  try {
    return await client.createCertificate(csrPem, ttlSeconds);
  } finally {
    client.close();
  }
}

/**
 * The certificate store of a proxy (ztunnel, waypoint) whose CA is the control plane: `caClient`
 * replaces the gRPC client in tests. `closeCa` releases the gRPC channel (a no-op for an injected client).
 */
export function controlPlaneCertStore(o: {
  control: CaClientOptions;
  caClient: CaClient | undefined;
  ttlSeconds: number;
  rootsPem: string;
}): { certs: CertStore; closeCa: () => void } {
  const grpcCa = o.caClient === undefined ? new GrpcCaClient(o.control) : undefined;
  const certs = new CertStore({ ca: o.caClient ?? grpcCa!, ttlSeconds: o.ttlSeconds, rootsPem: o.rootsPem });
  return { certs, closeCa: () => grpcCa?.close() };
}
