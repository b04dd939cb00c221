import { X509Certificate } from "node:crypto";
import { createSecureContext, type PeerCertificate } from "node:tls";
import { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";
import { identityFromCertificate } from "../identity/spiffe.js";
import { XdsError, XdsErrorCode } from "./errors.js";

export interface ServerTlsOptions {
  /** The server's certificate chain (leaf first), PEM; the control plane's is signed by the mesh CA. */
  readonly certChainPem: string;
  /** PKCS#8 or SEC1 PEM. */
  readonly keyPem: string;
  /** Roots that verify client certificates, when clients present one. */
  readonly rootsPem?: string;
  /** Refuse clients without a certificate verified by `rootsPem` (default false: bearer tokens suffice). */
  readonly requireClientCert?: boolean;
}

export interface ClientTlsOptions {
  /** Roots that verify the server's certificate, PEM. */
  readonly rootsPem: string;
  /** Name to verify the server certificate against, when the address is an IP or differs (e.g. "istiod.istio-system.svc"). */
  readonly serverName?: string;
  /**
   * The control plane's SPIFFE identity (e.g. "spiffe://cluster.local/ns/istio-system/sa/istiod").
   * When set, the server certificate's URI SAN must equal it instead of matching a hostname: mesh CA
   * certificates carry only the SPIFFE URI.
   */
  readonly serverIdentity?: string;
  /** A client certificate, for servers that authenticate by mTLS instead of (or besides) tokens. */
  readonly certChainPem?: string;
  readonly keyPem?: string;
}

/** Node ignores unparsable trust roots silently; refuse them here instead of failing every handshake later. */
function checkRoots(pem: string, what: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new XdsError(XdsErrorCode.Tls, `${what} holds no PEM certificate; expected the mesh root(s)`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (e) {
      throw new XdsError(
        XdsErrorCode.Tls,
        `${what}: certificate ${i + 1} is unreadable: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  });
}

export function serverCredentials(tls: ServerTlsOptions): ServerCredentials {
  if (tls.requireClientCert === true && tls.rootsPem === undefined) {
    throw new XdsError(
      XdsErrorCode.Config,
      "tls.requireClientCert needs tls.rootsPem to verify client certificates",
    );
  }
  if (tls.rootsPem !== undefined) checkRoots(tls.rootsPem, "tls.rootsPem");
  try {
    // grpc-js only parses the PEMs when binding, and then reports a bare OpenSSL error as a bind
    // failure; building a context here names the real problem at start-up.
    createSecureContext({
      cert: tls.certChainPem,
      key: tls.keyPem,
      ...(tls.rootsPem !== undefined ? { ca: tls.rootsPem } : {}),
    });
    return ServerCredentials.createSsl(
      tls.rootsPem !== undefined ? Buffer.from(tls.rootsPem) : null,
      [{ cert_chain: Buffer.from(tls.certChainPem), private_key: Buffer.from(tls.keyPem) }],
      tls.requireClientCert === true,
    );
  } catch (e) {
    throw new XdsError(
      XdsErrorCode.Tls,
      `server TLS credentials rejected: ${(e as Error).message}; check the PEM files`,
      {
        cause: e,
      },
    );
  }
}

export function channelCredentials(tls: ClientTlsOptions): ChannelCredentials {
  if ((tls.certChainPem === undefined) !== (tls.keyPem === undefined)) {
    throw new XdsError(XdsErrorCode.Config, "tls.certChainPem and tls.keyPem must be given together");
  }
  checkRoots(tls.rootsPem, "tls.rootsPem");
  try {
    createSecureContext({
      ca: tls.rootsPem,
      ...(tls.certChainPem !== undefined ? { cert: tls.certChainPem } : {}),
      ...(tls.keyPem !== undefined ? { key: tls.keyPem } : {}),
    });
    const expected = tls.serverIdentity;
    return ChannelCredentials.createSsl(
      Buffer.from(tls.rootsPem),
      tls.keyPem !== undefined ? Buffer.from(tls.keyPem) : null,
      tls.certChainPem !== undefined ? Buffer.from(tls.certChainPem) : null,
      expected === undefined
        ? {}
        : {
            // The chain is still verified against rootsPem; this replaces only the name check.
            checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
              let got: string;
              try {
                got = identityFromCertificate(cert).toString();
              } catch (e) {
                return new Error(`control plane certificate has no SPIFFE identity: ${(e as Error).message}`);
              }
              return got === expected
                ? undefined
                : new Error(`control plane is ${got}, expected ${expected}`);
            },
          },
    );
  } catch (e) {
    throw new XdsError(
      XdsErrorCode.Tls,
      `client TLS credentials rejected: ${(e as Error).message}; check the PEM files`,
      {
        cause: e,
      },
    );
  }
}

/** gRPC channel options shared by the xDS and CA clients. */
export function channelOptions(
  tls: ClientTlsOptions,
  maxReceiveBytes: number,
): Record<string, string | number> {
  // With serverIdentity the name is not checked, but SNI must still be a hostname, not an IP (RFC 6066).
  const sni = tls.serverName ?? (tls.serverIdentity !== undefined ? "ambit-control-plane" : undefined);
  return {
    ...(sni !== undefined ? { "grpc.ssl_target_name_override": sni } : {}),
    ...(tls.serverName !== undefined ? { "grpc.default_authority": tls.serverName } : {}),
    // A dead control plane must be noticed without traffic: ping every 30 s, give up after 10 s.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_receive_message_length": maxReceiveBytes,
    // Reconnects are paced by the xDS client's own backoff, not by the channel's.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 5_000,
  };
}
