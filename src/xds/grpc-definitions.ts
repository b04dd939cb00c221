import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import {
  type IstioCertificateRequest,
  IstioCertificateRequestSchema,
  type IstioCertificateResponse,
  IstioCertificateResponseSchema,
} from "./gen/istio/v1/auth/ca_pb.js";

// grpc-js wants serializers per method; connect-node would derive them but needs Node 22, so the
// definitions are built by hand from the protobuf-es schemas. The paths are Envoy's and Istio's,
// so an Envoy/ztunnel-speaking peer interoperates.
export const DELTA_ADS_PATH =
  "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
export const CREATE_CERTIFICATE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

function serializer<S extends DescMessage>(schema: S): (m: MessageShape<S>) => Buffer {
  return (m) => {
    const bytes = toBinary(schema, m);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<S extends DescMessage>(schema: S): (b: Buffer) => MessageShape<S> {
  // Unknown fields are dropped: a peer speaking a newer Envoy/Istio revision must not make us
  // hold (or re-emit) bytes we do not understand.
  return (b) => fromBinary(schema, b, { readUnknownFields: false });
}

export const serializeDeltaRequest = serializer(DeltaDiscoveryRequestSchema);
export const deserializeDeltaRequest = deserializer(DeltaDiscoveryRequestSchema);
export const serializeDeltaResponse = serializer(DeltaDiscoveryResponseSchema);
export const deserializeDeltaResponse = deserializer(DeltaDiscoveryResponseSchema);
export const serializeCertificateRequest = serializer(IstioCertificateRequestSchema);
export const deserializeCertificateRequest = deserializer(IstioCertificateRequestSchema);
export const serializeCertificateResponse = serializer(IstioCertificateResponseSchema);
export const deserializeCertificateResponse = deserializer(IstioCertificateResponseSchema);

export const aggregatedDiscoveryService: ServiceDefinition<{
  DeltaAggregatedResources: MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
}> = {
  DeltaAggregatedResources: {
    path: DELTA_ADS_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeDeltaRequest,
    requestDeserialize: deserializeDeltaRequest,
    responseSerialize: serializeDeltaResponse,
    responseDeserialize: deserializeDeltaResponse,
    originalName: "deltaAggregatedResources",
  },
};

export const istioCertificateService: ServiceDefinition<{
  CreateCertificate: MethodDefinition<IstioCertificateRequest, IstioCertificateResponse>;
}> = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializeCertificateRequest,
    requestDeserialize: deserializeCertificateRequest,
    responseSerialize: serializeCertificateResponse,
    responseDeserialize: deserializeCertificateResponse,
    originalName: "createCertificate",
  },
};
