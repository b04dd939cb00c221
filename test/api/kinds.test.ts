/**
 * Table tests per kind: a valid document of each kind (using many documented fields), and invalid
 * ones with the exact error code, field path, line and column expected.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDocuments } from "../../src/api/load.js";
import { errorsOf, positionOf } from "./helpers.js";

interface Case {
  name: string;
  yaml: string;
  /** Empty: the document must be valid. Otherwise every error, in order; `at` = text at the error's position. */
  errors: { code: string; path: string; at: string; nth?: number }[];
}

const AP = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ap
  namespace: ns1
`;

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
`;

const cases: Case[] = [
  // ------------------------------------------------------------------ AuthorizationPolicy
  {
    name: "AuthorizationPolicy: full valid policy",
    yaml: `${AP}spec:
  targetRefs:
    - kind: Service
      group: ""
      name: payment-db
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/a/sa/*"]
            notNamespaces: ["kube-*"]
            ipBlocks: ["10.0.0.0/8", "fd00::1"]
      to:
        - operation:
            hosts: ["*.example.com"]
            ports: ["8080", 9090]
            methods: ["GET"]
            paths: ["/admin/*", "*.php"]
      when:
        - key: request.headers[x-tenant]
          values: ["a"]
        - key: destination.port
          notValues: ["22"]
`,
    errors: [],
  },
  {
    name: "AuthorizationPolicy: selector and targetRefs are exclusive",
    yaml: `${AP}spec:
  selector:
    matchLabels: {app: db}
  targetRefs:
    - {kind: Service, name: db}
`,
    errors: [{ code: "CFG_ERR_CONFLICT", path: "spec.targetRefs", at: "- {kind" }],
  },
  {
    name: "AuthorizationPolicy: CUSTOM needs a provider",
    yaml: `${AP}spec:
  action: CUSTOM
`,
    errors: [{ code: "CFG_ERR_MISSING_FIELD", path: "spec.action", at: "CUSTOM" }],
  },
  {
    name: "AuthorizationPolicy: provider only with CUSTOM",
    yaml: `${AP}spec:
  action: DENY
  provider:
    name: ext-authz
`,
    errors: [{ code: "CFG_ERR_CONFLICT", path: "spec.provider", at: "name: ext-authz" }],
  },
  {
    name: "AuthorizationPolicy: ipBlocks must be IPs or CIDRs",
    yaml: `${AP}spec:
  rules:
    - from:
        - source:
            ipBlocks: ["10.0.0.0/8", "10.1.1.1/40", "not-an-ip"]
`,
    errors: [
      { code: "CFG_ERR_CIDR", path: "spec.rules[0].from[0].source.ipBlocks[1]", at: '"10.1.1.1/40"' },
      { code: "CFG_ERR_CIDR", path: "spec.rules[0].from[0].source.ipBlocks[2]", at: '"not-an-ip"' },
    ],
  },
  {
    name: "AuthorizationPolicy: wildcards only leading or trailing",
    yaml: `${AP}spec:
  rules:
    - to:
        - operation:
            paths: ["/api/*/users"]
            hosts: ["**"]
`,
    errors: [
      { code: "CFG_ERR_FORMAT", path: "spec.rules[0].to[0].operation.paths[0]", at: '"/api' },
      { code: "CFG_ERR_FORMAT", path: "spec.rules[0].to[0].operation.hosts[0]", at: '"**"' },
    ],
  },
  {
    name: "AuthorizationPolicy: the brief's port and unknown-field examples",
    yaml: `${AP}spec:
  rulez: []
  rules:
    - to:
        - operation:
            ports: ["http"]
`,
    errors: [
      { code: "CFG_ERR_UNKNOWN_FIELD", path: "spec.rulez", at: "rulez" },
      { code: "CFG_ERR_PORT", path: "spec.rules[0].to[0].operation.ports[0]", at: '"http"' },
    ],
  },
  {
    name: "AuthorizationPolicy: empty source and condition without values",
    yaml: `${AP}spec:
  rules:
    - from:
        - source: {}
      when:
        - key: source.ip
`,
    errors: [
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.rules[0].from[0].source", at: "{}" },
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.rules[0].when[0]", at: "key: source.ip" },
    ],
  },
  {
    name: "AuthorizationPolicy: unknown condition key",
    yaml: `${AP}spec:
  rules:
    - when:
        - key: request.color
          values: ["red"]
`,
    errors: [{ code: "CFG_ERR_ENUM", path: "spec.rules[0].when[0].key", at: "request.color" }],
  },
  // ------------------------------------------------------------------ PeerAuthentication, RequestAuthentication
  {
    name: "PeerAuthentication: valid with port-level settings",
    yaml: `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: pa, namespace: ns1}
spec:
  selector:
    matchLabels: {app: db}
  mtls: {mode: STRICT}
  portLevelMtls:
    3306: {mode: PERMISSIVE}
`,
    errors: [],
  },
  {
    name: "PeerAuthentication: portLevelMtls needs a selector; mode enum; port key",
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: pa}
spec:
  mtls: {mode: strict}
  portLevelMtls:
    http: {mode: DISABLE}
`,
    errors: [
      { code: "CFG_ERR_ENUM", path: "spec.mtls.mode", at: "strict" },
      { code: "CFG_ERR_PORT", path: "spec.portLevelMtls.http", at: "http:" },
    ],
  },
  {
    name: "PeerAuthentication: portLevelMtls without selector",
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: pa}
spec:
  portLevelMtls:
    8080: {mode: DISABLE}
`,
    errors: [{ code: "CFG_ERR_SEMANTIC", path: "spec.portLevelMtls", at: "8080" }],
  },
  {
    name: "RequestAuthentication: jwt rule needs an issuer",
    yaml: `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ra}
spec:
  jwtRules:
    - jwksUri: https://example.com/jwks.json
      timeout: 5s
`,
    errors: [{ code: "CFG_ERR_MISSING_FIELD", path: "spec.jwtRules[0].issuer", at: "jwksUri" }],
  },
  // ------------------------------------------------------------------ VirtualService
  {
    name: "VirtualService: rich valid http route",
    yaml: `${VS}spec:
  hosts: [reviews, "*.bookinfo.com"]
  exportTo: ["."]
  http:
    - name: canary
      match:
        - uri: {prefix: /api}
          method: {exact: GET}
          headers:
            end-user: {exact: jason}
            x-present: {}
          queryParams:
            debug: {regex: "^(1|true)$"}
          withoutHeaders:
            x-skip: {exact: "1"}
          ignoreUriCase: true
          sourceLabels: {app: productpage}
          sourceNamespace: bookinfo
          port: 9080
      route:
        - destination: {host: reviews, subset: v1, port: {number: 9080}}
          weight: 90
          headers:
            response:
              set: {x-version: v1}
        - destination: {host: reviews, subset: v2}
          weight: 10
      rewrite:
        uriRegexRewrite: {match: "^/api(.*)", rewrite: "/v1\\\\1"}
      timeout: 1.5s
      retries: {attempts: 3, perTryTimeout: 300ms, retryOn: "5xx,reset", retryRemoteLocalities: true}
      fault:
        delay: {fixedDelay: 7s, percentage: {value: 0.1}}
        abort: {httpStatus: 503, percentage: {value: 1}}
      mirror: {host: reviews, subset: v3}
      mirrorPercentage: {value: 50}
      corsPolicy:
        allowOrigins: [{exact: "https://example.com"}]
        allowMethods: [GET]
        maxAge: 24h
      headers:
        request:
          add: {x-mesh: ambit}
          remove: [x-debug]
    - redirect: {uri: /new, redirectCode: 301}
  tcp:
    - match: [{port: 27017, destinationSubnets: ["10.0.0.0/8"]}]
      route: [{destination: {host: mongo}}]
  tls:
    - match: [{sniHosts: [login.bookinfo.com], port: 443}]
      route: [{destination: {host: login}}]
`,
    errors: [],
  },
  {
    name: "VirtualService: weights must add up to 100",
    yaml: `${VS}spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {host: reviews, subset: v1}
          weight: 50
        - destination: {host: reviews, subset: v2}
          weight: 30
`,
    errors: [{ code: "CFG_ERR_WEIGHT_SUM", path: "spec.http[0].route", at: "- destination", nth: 1 }],
  },
  {
    name: "VirtualService: type, duration, enum, oneof and conflict errors in one pass",
    yaml: `${VS}spec:
  hosts: reviews
  http:
    - match:
        - uri: {exact: /a, prefix: /b}
      route:
        - destination: {host: reviews}
      redirect: {uri: /c}
      timeout: 10 seconds
      fault:
        abort: {grpcStatus: NOPE}
`,
    errors: [
      { code: "CFG_ERR_TYPE", path: "spec.hosts", at: "reviews\n", nth: 2 },
      { code: "CFG_ERR_CONFLICT", path: "spec.http[0].match[0].uri.prefix", at: "/b" },
      { code: "CFG_ERR_DURATION", path: "spec.http[0].timeout", at: "10 seconds" },
      { code: "CFG_ERR_ENUM", path: "spec.http[0].fault.abort.grpcStatus", at: "NOPE" },
    ],
  },
  {
    name: "VirtualService: route and redirect are exclusive",
    yaml: `${VS}spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {host: reviews}
      redirect: {uri: /c}
`,
    errors: [{ code: "CFG_ERR_CONFLICT", path: "spec.http[0].redirect", at: "{uri" }],
  },
  {
    name: "VirtualService: destination host required, weight range",
    yaml: `${VS}spec:
  hosts: [reviews]
  tcp:
    - route:
        - destination: {subset: v1}
          weight: 101
`,
    errors: [
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.tcp[0].route[0].destination.host", at: "{subset" },
      { code: "CFG_ERR_RANGE", path: "spec.tcp[0].route[0].weight", at: "101" },
    ],
  },
  // ------------------------------------------------------------------ DestinationRule
  {
    name: "DestinationRule: valid traffic policy and subsets",
    yaml: `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: user, ttl: 0.5s}
        ringHash: {minimumRingSize: 1024}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
      http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10, h2UpgradePolicy: UPGRADE}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m, maxEjectionPercent: 50}
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
      - port: {number: 80}
        loadBalancer: {simple: LEAST_REQUEST}
  subsets:
    - name: v1
      labels: {version: v1}
    - name: v2
      labels: {version: v2}
      trafficPolicy:
        loadBalancer: {simple: ROUND_ROBIN}
`,
    errors: [],
  },
  {
    name: "DestinationRule: host required, lb enum, duplicate subset, simple xor consistentHash",
    yaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  trafficPolicy:
    loadBalancer:
      simple: FASTEST
  subsets:
    - name: v1
    - name: v1
`,
    errors: [
      { code: "CFG_ERR_ENUM", path: "spec.trafficPolicy.loadBalancer.simple", at: "FASTEST" },
      { code: "CFG_ERR_DUPLICATE_ITEM", path: "spec.subsets[1]", at: "name: v1", nth: 2 },
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.host", at: "trafficPolicy" },
    ],
  },
  {
    name: "DestinationRule: simple and consistentHash are exclusive",
    yaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: RANDOM
      consistentHash: {useSourceIp: true}
`,
    errors: [
      {
        code: "CFG_ERR_CONFLICT",
        path: "spec.trafficPolicy.loadBalancer.consistentHash",
        at: "{useSourceIp",
      },
    ],
  },
  // ------------------------------------------------------------------ ServiceEntry, WorkloadEntry
  {
    name: "ServiceEntry: valid external service",
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
    - {number: 443, name: https, protocol: TLS}
`,
    errors: [],
  },
  {
    name: "ServiceEntry: STATIC endpoints need IPs, resolution enum",
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.internal]
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints:
    - address: db1.internal
`,
    errors: [{ code: "CFG_ERR_SEMANTIC", path: "spec.endpoints[0].address", at: "db1.internal" }],
  },
  {
    name: "WorkloadEntry: valid; bad port value",
    yaml: `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm1}
spec:
  address: 10.1.2.3
  serviceAccount: legacy
  labels: {app: legacy}
  ports: {http: 70000}
`,
    errors: [{ code: "CFG_ERR_PORT", path: "spec.ports.http", at: "70000" }],
  },
  // ------------------------------------------------------------------ TrafficSplit, MeshConfig
  {
    name: "TrafficSplit: the seed's shape is valid",
    yaml: `apiVersion: networking.istio.io/v1beta1
kind: TrafficSplit
metadata:
  name: payments-split
spec:
  workloadSelector:
    labels:
      app: payment-service
  rules:
  - route:
    - destination:
        host: payment-v1
        subset: canary
      weight: 5
    - destination:
        host: payment-v2
        subset: stable
      weight: 95
  layer: L7 # handled by the waypoint
`,
    errors: [],
  },
  {
    name: "TrafficSplit: ambit.dev version; weight sum and layer enum reported together",
    yaml: `apiVersion: ambit.dev/v1alpha1
kind: TrafficSplit
metadata: {name: s}
spec:
  workloadSelector: {labels: {app: a}}
  rules:
    - route:
        - {destination: {host: a, subset: v1}, weight: 5}
        - {destination: {host: a, subset: v2}, weight: 90}
  layer: L5
`,
    errors: [
      { code: "CFG_ERR_WEIGHT_SUM", path: "spec.rules[0].route", at: "- {destination" },
      { code: "CFG_ERR_ENUM", path: "spec.layer", at: "L5" },
    ],
  },
  {
    name: "TrafficSplit: a single destination needs no weight; L4 split cannot match requests",
    yaml: `apiVersion: ambit.dev/v1alpha1
kind: TrafficSplit
metadata: {name: s}
spec:
  workloadSelector: {labels: {app: a}}
  layer: L4
  rules:
    - match: [{uri: {prefix: /a}}]
      route:
        - {destination: {host: a, subset: v1}}
`,
    errors: [{ code: "CFG_ERR_SEMANTIC", path: "spec.rules[0].match", at: "[{uri" }],
  },
  {
    name: "MeshConfig: the seed's shape is valid and cluster-scoped",
    yaml: `apiVersion: networking.istio.io/v1beta1
kind: MeshConfig
metadata:
  name: global-mesh
spec:
  networkGateways:
    - address: 203.0.113.10
      port: 15443
      cluster: us-east
    - address: 198.51.100.5
      port: 15443
      cluster: eu-central
  serviceDiscovery:
    registry:
      - type: Kubernetes
        cluster: us-east
      - type: Consul
        address: consul.eu-central:8500
`,
    errors: [],
  },
  {
    name: "MeshConfig: bad gateway port, registry type, Consul without address",
    yaml: `apiVersion: networking.istio.io/v1beta1
kind: MeshConfig
metadata: {name: m}
spec:
  networkGateways:
    - {address: 203.0.113.10, port: 0}
  serviceDiscovery:
    registry:
      - type: Eureka
      - type: Consul
`,
    errors: [
      { code: "CFG_ERR_PORT", path: "spec.networkGateways[0].port", at: "0}" },
      { code: "CFG_ERR_ENUM", path: "spec.serviceDiscovery.registry[0].type", at: "Eureka" },
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.serviceDiscovery.registry[1]", at: "type: Consul" },
    ],
  },
  // ------------------------------------------------------------------ Gateway, HTTPRoute
  {
    name: "Gateway: waypoint needs the HBONE listener on 15008",
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec:
  gatewayClassName: istio-waypoint
  listeners:
    - {name: mesh, port: 15009, protocol: HBONE}
`,
    errors: [{ code: "CFG_ERR_SEMANTIC", path: "spec.listeners", at: "- {name" }],
  },
  {
    name: "Gateway: listener protocol, duplicate names",
    yaml: `apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
    - {name: http, port: 80, protocol: HTTP}
    - {name: http, port: 81, protocol: HTTP}
    - {name: quic, port: 443, protocol: QUIC}
`,
    errors: [
      { code: "CFG_ERR_DUPLICATE_ITEM", path: "spec.listeners[1]", at: "{name: http, port: 81" },
      { code: "CFG_ERR_ENUM", path: "spec.listeners[2].protocol", at: "QUIC" },
    ],
  },
  {
    name: "HTTPRoute: valid rules, filters, weighted backends",
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs:
    - {group: "", kind: Service, name: reviews, port: 9080}
  hostnames: ["reviews.example.com"]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /api}
          headers: [{name: x-user, value: "jason"}]
          queryParams: [{type: RegularExpression, name: v, value: "^[0-9]+$"}]
          method: GET
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: x-mesh, value: ambit}]
            remove: [x-debug]
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v1}}
        - type: RequestMirror
          requestMirror: {backendRef: {name: reviews-shadow, port: 9080}, percent: 10}
      backendRefs:
        - {name: reviews-v1, port: 9080, weight: 90}
        - {name: reviews-v2, port: 9080, weight: 10}
      timeouts: {request: 10s, backendRequest: 2s}
`,
    errors: [],
  },
  {
    name: "HTTPRoute: path type enum, filter field mismatch, backend port",
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
    - matches:
        - path: {type: Prefix, value: /api}
      filters:
        - type: RequestRedirect
          urlRewrite: {hostname: example.com}
      backendRefs:
        - name: reviews
`,
    errors: [
      { code: "CFG_ERR_ENUM", path: "spec.rules[0].matches[0].path.type", at: "Prefix" },
      { code: "CFG_ERR_CONFLICT", path: "spec.rules[0].filters[0].urlRewrite", at: "{hostname" },
      {
        code: "CFG_ERR_MISSING_FIELD",
        path: "spec.rules[0].filters[0].requestRedirect",
        at: "type: RequestRedirect",
      },
      { code: "CFG_ERR_MISSING_FIELD", path: "spec.rules[0].backendRefs[0].port", at: "name: reviews" },
    ],
  },
  {
    name: "HTTPRoute: redirect status codes are Gateway API's closed set",
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  hostnames: [Example.com]
  rules:
    - filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https, statusCode: 304}
`,
    errors: [
      { code: "CFG_ERR_NAME", path: "spec.hostnames[0]", at: "Example.com" },
      { code: "CFG_ERR_ENUM", path: "spec.rules[0].filters[0].requestRedirect.statusCode", at: "304" },
    ],
  },
  // ------------------------------------------------------------------ Namespace, Service, ServiceAccount, Pod, Deployment, Node
  {
    name: "Namespace: dataplane-mode must be ambient, monitor or none",
    yaml: `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio.io/dataplane-mode: sidecar
`,
    errors: [{ code: "CFG_ERR_ENUM", path: 'metadata.labels["istio.io/dataplane-mode"]', at: "sidecar" }],
  },
  {
    name: "Namespace: name is a DNS-1123 label",
    yaml: `apiVersion: v1
kind: Namespace
metadata:
  name: shop.eu
`,
    errors: [{ code: "CFG_ERR_NAME", path: "metadata.name", at: "shop.eu" }],
  },
  {
    name: "Service: port range checked; a named targetPort is fine",
    yaml: `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http-web, appProtocol: http}
    - {name: http, port: 65536, targetPort: 8443}
`,
    errors: [{ code: "CFG_ERR_PORT", path: "spec.ports[1].port", at: "65536" }],
  },
  {
    name: "Service: duplicate port names (other fields valid)",
    yaml: `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
    - {name: http, port: 80}
    - {name: http, port: 81}
`,
    errors: [{ code: "CFG_ERR_DUPLICATE_ITEM", path: "spec.ports[1]", at: "{name: http, port: 81" }],
  },
  {
    name: "Service: names are DNS-1035 labels (must start with a letter)",
    yaml: `apiVersion: v1
kind: Service
metadata: {name: 1web}
spec:
  ports: [{port: 80}]
`,
    errors: [{ code: "CFG_ERR_NAME", path: "metadata.name", at: "1web" }],
  },
  {
    name: "ServiceAccount: top-level fields, no spec",
    yaml: `apiVersion: v1
kind: ServiceAccount
metadata: {name: sa1}
automountServiceAccountToken: false
spec: {}
`,
    errors: [{ code: "CFG_ERR_UNKNOWN_FIELD", path: "spec", at: "spec" }],
  },
  {
    name: "Pod: containers required; container name; env",
    yaml: `apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  nodeName: node-1
  containers:
    - name: App
      command: ["ambit", "demo-app"]
      env:
        - {name: A, value: "1", valueFrom: {fieldRef: {fieldPath: metadata.name}}}
`,
    errors: [
      { code: "CFG_ERR_NAME", path: "spec.containers[0].name", at: "App" },
      { code: "CFG_ERR_CONFLICT", path: "spec.containers[0].env[0].valueFrom", at: "{fieldRef" },
    ],
  },
  {
    name: "Deployment: selector must match template labels",
    yaml: `apiVersion: apps/v1
kind: Deployment
metadata: {name: d1}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers: [{name: web, image: web:1}]
`,
    errors: [{ code: "CFG_ERR_SEMANTIC", path: "spec.template.metadata.labels", at: "{app: api}" }],
  },
  {
    name: "Deployment: replicas must be >= 0 and an integer",
    yaml: `apiVersion: apps/v1
kind: Deployment
metadata: {name: d1}
spec:
  replicas: -1
  selector:
    matchExpressions: [{key: app, operator: In, values: [web]}]
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web}]
`,
    errors: [{ code: "CFG_ERR_RANGE", path: "spec.replicas", at: "-1" }],
  },
  {
    name: "Node: zone label and pod CIDR",
    yaml: `apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels:
    topology.kubernetes.io/zone: eu-west-1a
spec:
  podCIDR: 10.244.1.0/24
`,
    errors: [],
  },
  {
    name: "Node: podCIDR must be a CIDR",
    yaml: `apiVersion: v1
kind: Node
metadata: {name: node-1}
spec:
  podCIDR: 10.244.1.0
`,
    errors: [{ code: "CFG_ERR_CIDR", path: "spec.podCIDR", at: "10.244.1.0" }],
  },
  // ------------------------------------------------------------------ envelope
  {
    name: "envelope: unknown kind",
    yaml: `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
`,
    errors: [{ code: "CFG_ERR_UNKNOWN_KIND", path: "kind", at: "ConfigMap" }],
  },
  {
    name: "envelope: apiVersion that does not serve the kind",
    yaml: `apiVersion: apps/v1
kind: Service
metadata: {name: c}
`,
    errors: [{ code: "CFG_ERR_API_VERSION", path: "apiVersion", at: "apps/v1" }],
  },
  {
    name: "envelope: metadata.name required",
    yaml: `apiVersion: v1
kind: ServiceAccount
metadata:
  labels: {a: b}
`,
    errors: [{ code: "CFG_ERR_MISSING_FIELD", path: "metadata.name", at: "labels" }],
  },
  {
    name: "envelope: bad label key and value",
    yaml: `apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
  labels:
    -bad: ok
    good: "not ok"
`,
    errors: [
      { code: "CFG_ERR_NAME", path: 'metadata.labels["-bad"]', at: "-bad" },
      { code: "CFG_ERR_NAME", path: "metadata.labels.good", at: '"not ok"' },
    ],
  },
];

describe("kinds", () => {
  for (const c of cases) {
    test(c.name, () => {
      const got = errorsOf(c.yaml);
      const want = c.errors.map((e) => ({ code: e.code, path: e.path, ...positionOf(c.yaml, e.at, e.nth) }));
      assert.deepEqual(got, want);
      if (want.length === 0) assert.equal(parseDocuments(c.yaml, "t.yaml").resources.length, 1);
    });
  }
});

describe("defaults and normalisation", () => {
  test("namespaced kinds default to namespace default; cluster-scoped kinds drop namespace", () => {
    const r = parseDocuments(
      `apiVersion: v1
kind: ServiceAccount
metadata: {name: a}
---
apiVersion: v1
kind: Node
metadata: {name: n1, namespace: ignored}
`,
      "t.yaml",
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.resources[0]?.metadata.namespace, "default");
    assert.equal(r.resources[1]?.metadata.namespace, undefined);
  });

  test("integer AuthorizationPolicy ports become strings; source position is the kind's", () => {
    const text = `${AP}spec:\n  rules:\n    - to:\n        - operation: {ports: [3306]}\n`;
    const r = parseDocuments(text, "t.yaml");
    assert.deepEqual(r.errors, []);
    const ap = r.resources[0];
    assert.equal(ap?.kind, "AuthorizationPolicy");
    if (ap?.kind !== "AuthorizationPolicy") return;
    assert.deepEqual(ap.spec?.rules?.[0]?.to?.[0]?.operation?.ports, ["3306"]);
    assert.deepEqual(ap.source, { file: "t.yaml", ...positionOf(text, "AuthorizationPolicy") });
  });

  test("status and server-set metadata are accepted and dropped", () => {
    const r = parseDocuments(
      `apiVersion: v1
kind: ServiceAccount
metadata: {name: a, uid: 123, resourceVersion: "9", creationTimestamp: null}
status: {phase: Active}
`,
      "t.yaml",
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(JSON.parse(JSON.stringify(r.resources[0])), {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "a", namespace: "default" },
    });
  });
});
