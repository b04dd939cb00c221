import { create } from "@bufbuild/protobuf";
import { Client, type ClientDuplexStream, Metadata } from "@grpc/grpc-js";
import { channelCredentials } from "../../src/xds/credentials.js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import {
  DELTA_ADS_PATH,
  deserializeDeltaResponse,
  serializeDeltaRequest,
} from "../../src/xds/grpc-definitions.js";
import { CONTROL_PLANE_ID } from "./fixture.js";

/**
 * A bare delta ADS stream for protocol tests: the test writes requests and reads responses one by
 * one, so it can check exactly what the server sends (the real client hides that behind its cache).
 */
export class RawAdsStream {
  readonly #client: Client;
  readonly #call: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  readonly #queue: DeltaDiscoveryResponse[] = [];
  #waiter: ((r: DeltaDiscoveryResponse) => void) | undefined;
  readonly ended: Promise<{ code: number; details: string }>;

  constructor(port: number, rootsPem: string, token: string | null) {
    this.#client = new Client(
      `127.0.0.1:${port}`,
      channelCredentials({ rootsPem, serverIdentity: CONTROL_PLANE_ID }),
      { "grpc.ssl_target_name_override": "ambit-control-plane" },
    );
    const md = new Metadata();
    if (token !== null) md.set("authorization", `Bearer ${token}`);
    this.#call = this.#client.makeBidiStreamRequest(
      DELTA_ADS_PATH,
      serializeDeltaRequest,
      deserializeDeltaResponse,
      md,
    );
    this.#call.on("data", (r: DeltaDiscoveryResponse) => {
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        w(r);
      } else this.#queue.push(r);
    });
    this.ended = new Promise((resolve) => {
      this.#call.on("error", (e: Error & { code: number; details: string }) =>
        resolve({ code: e.code, details: e.details }),
      );
      this.#call.on("status", (s: { code: number; details: string }) => {
        if (s.code === 0) resolve({ code: 0, details: s.details });
      });
    });
  }

  send(init: Omit<Partial<DeltaDiscoveryRequest>, "$typeName">): void {
    this.#call.write(create(DeltaDiscoveryRequestSchema, init));
  }

  next(ms = 5000): Promise<DeltaDiscoveryResponse> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error("no response"));
      }, ms);
      this.#waiter = (r) => {
        clearTimeout(t);
        resolve(r);
      };
    });
  }

  get pending(): number {
    return this.#queue.length;
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}
