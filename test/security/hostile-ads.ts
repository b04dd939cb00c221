/**
 * A hostile control plane: a real gRPC delta-ADS server over TLS (the mesh control-plane identity)
 * that writes whatever DeltaDiscoveryResponse a corpus case hands it — undecodable bytes, wrong
 * type URLs, duplicate names — where the real `XdsServer` would only ever send valid resources.
 * Each `send` resolves with the client's answer to that nonce (ACK, or NACK with its detail).
 */
import { create } from "@bufbuild/protobuf";
import { Server, type ServerDuplexStream } from "@grpc/grpc-js";
import type { TestPki } from "../../src/identity/testing.js";
import { serverCredentials } from "../../src/xds/credentials.js";
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  type Resource,
} from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { aggregatedDiscoveryService } from "../../src/xds/grpc-definitions.js";

type Call = ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export const CONTROL_PLANE_ID = "spiffe://cluster.local/ns/istio-system/sa/istiod";

export class HostileAds {
  readonly port: number;
  readonly #grpc: Server;
  #call: Call | undefined;
  readonly #connected: Promise<void>;
  readonly #answers = new Map<string, (req: DeltaDiscoveryRequest) => void>();
  #nonce = 0;
  /** Types the client subscribed to (its initial requests). */
  readonly subscribed = new Set<string>();

  private constructor(grpc: Server, port: number, connected: Promise<void>) {
    this.#grpc = grpc;
    this.port = port;
    this.#connected = connected;
  }

  static async start(pki: TestPki): Promise<HostileAds> {
    const cred = pki.issue(CONTROL_PLANE_ID);
    const grpc = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    const port = await new Promise<number>((resolve, reject) => {
      grpc.bindAsync(
        "127.0.0.1:0",
        serverCredentials({ certChainPem: cred.certChainPem, keyPem: cred.keyPem }),
        (err, p) => (err ? reject(err) : resolve(p)),
      );
    });
    let onCall: (() => void) | undefined;
    const connected = new Promise<void>((resolve) => {
      onCall = resolve;
    });
    const ads = new HostileAds(grpc, port, connected);
    grpc.addService(aggregatedDiscoveryService, {
      DeltaAggregatedResources: (call: Call) => {
        ads.#call = call;
        call.on("error", () => {});
        call.on("data", (req: DeltaDiscoveryRequest) => {
          if (req.responseNonce === "") {
            ads.subscribed.add(req.typeUrl);
            onCall?.();
            return;
          }
          ads.#answers.get(req.responseNonce)?.(req);
          ads.#answers.delete(req.responseNonce);
        });
      },
    });
    return ads;
  }

  /** Resolves once the client's stream is open and it subscribed to `types`. */
  async ready(types: readonly string[]): Promise<void> {
    await this.#connected;
    const started = Date.now();
    while (!types.every((t) => this.subscribed.has(t))) {
      if (Date.now() - started > 15_000)
        throw new Error(`the client never subscribed to ${types.join(", ")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends one response; resolves with the client's ACK or NACK for it. */
  send(
    typeUrl: string,
    resources: Resource[],
    removed: readonly string[] = [],
  ): Promise<DeltaDiscoveryRequest> {
    const call = this.#call;
    if (call === undefined) throw new Error("no client stream");
    const nonce = `n${++this.#nonce}`;
    const answer = new Promise<DeltaDiscoveryRequest>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ACK/NACK for ${nonce} within 30 s`)), 30_000);
      this.#answers.set(nonce, (req) => {
        clearTimeout(t);
        resolve(req);
      });
    });
    call.write(
      create(DeltaDiscoveryResponseSchema, {
        typeUrl,
        nonce,
        systemVersionInfo: nonce,
        resources,
        removedResources: [...removed],
      }),
    );
    return answer;
  }

  close(): void {
    this.#call?.end();
    this.#grpc.forceShutdown();
  }
}
