/**
 * ambit's own kinds, in the shape ambit's founding article used (apiVersion networking.istio.io/v1beta1,
 * also served as ambit.dev/v1alpha1): TrafficSplit (weighted canary routing) and MeshConfig
 * (network gateways and service registries for federation). Istio has neither kind; they are
 * ambit extensions and documented as such.
 */
import { ConfigErrorCode as C } from "../errors.js";
import { checkHost, checkIp, portNumber } from "../formats.js";
import { enumOf, list, obj, problem, str } from "../schema.js";
import { labels } from "./common.js";
import { destination, httpMatchRequest, weight, weightsSumTo100 } from "./networking-istio.js";

const splitRule = obj(
  {
    match: list(httpMatchRequest()),
    route: list(obj({ destination: destination(), weight: weight() }, { required: ["destination"] }), {
      minItems: 1,
    }),
  },
  { required: ["route"], checks: [weightsSumTo100] },
);

export const trafficSplitSpec = obj(
  {
    workloadSelector: obj({ labels: labels() }, { required: ["labels"] }),
    rules: list(splitRule, { minItems: 1 }),
    layer: enumOf(["L4", "L7"]),
  },
  {
    required: ["workloadSelector", "rules"],
    checks: [
      (v, scope) => {
        // An L4 split chooses per connection: request attributes are not visible to ztunnel.
        const rules = v["rules"] as { match?: unknown[] }[];
        if (v["layer"] === "L4") {
          for (const [i, r] of rules.entries()) {
            if (r.match !== undefined) {
              scope.report(
                C.SEMANTIC,
                `rules[${i}].match`,
                "match needs layer L7 (HTTP attributes are only seen by a waypoint)",
              );
            }
          }
        }
      },
    ],
  },
);

const hostOrIp = str({
  expect: "an IP address or DNS name",
  check: (v) =>
    checkIp(v) === undefined || checkHost(v) === undefined
      ? undefined
      : problem(C.FORMAT, `${JSON.stringify(v)} is not an IP address or DNS name`),
});

const hostPort = str({
  expect: "host:port",
  check: (v) => {
    const m = /^(.+):(\d{1,5})$/.exec(v);
    const port = Number(m?.[2]);
    if (
      m &&
      port >= 1 &&
      port <= 65535 &&
      (checkIp(m[1] ?? "") === undefined || checkHost(m[1] ?? "") === undefined)
    ) {
      return undefined;
    }
    return problem(C.FORMAT, `${JSON.stringify(v)} is not host:port (e.g. consul.eu-central:8500)`);
  },
});

export const meshConfigSpec = obj({
  trustDomain: str({
    check: (v) =>
      checkHost(v) === undefined
        ? undefined
        : problem(C.NAME, `${JSON.stringify(v)} is not a trust domain (a DNS name such as cluster.local)`),
  }),
  networkGateways: list(
    obj(
      { address: hostOrIp, port: portNumber(), cluster: str(), network: str() },
      { required: ["address", "port"] },
    ),
  ),
  serviceDiscovery: obj({
    registry: list(
      obj(
        { type: enumOf(["Kubernetes", "Consul", "Static"]), cluster: str(), address: hostPort },
        {
          required: ["type"],
          checks: [
            (v, scope) => {
              if (v["type"] === "Consul" && v["address"] === undefined) {
                scope.report(
                  C.MISSING_FIELD,
                  "",
                  "a Consul registry needs address (host:port of the Consul agent)",
                );
              }
            },
          ],
        },
      ),
    ),
  }),
});
