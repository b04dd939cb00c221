/**
 * Path and URL arithmetic for rewrites and redirects, following Envoy where Istio delegates to it and
 * the Gateway API's HTTPPathModifier tables where the Gateway API defines the result.
 */
import { splitPath } from "./match.js";
import type { PathRewrite, RedirectSpec, RouteRequest } from "./types.js";

function withQuery(path: string, query: string): string {
  return query === "" ? path : `${path}?${query}`;
}

/**
 * Gateway API ReplacePrefixMatch: the matched prefix is replaced element-wise, so `/foo` → `/xyz` turns
 * `/foo/bar` into `/xyz/bar` and `/foo` into `/xyz`, and an empty (or `/`) replacement never leaves
 * an empty path.
 */
export function replacePrefixMatch(pathOnly: string, prefix: string, replacement: string): string {
  const rest = prefix === "/" ? pathOnly.slice(1) : pathOnly.slice(prefix.length);
  const repl = replacement.endsWith("/") ? replacement.slice(0, -1) : replacement;
  if (rest === "") return repl === "" ? "/" : repl;
  return `${repl}/${rest.startsWith("/") ? rest.slice(1) : rest}`;
}

/**
 * The upstream path. Envoy's prefix_rewrite swaps the matched prefix (the whole path for exact and
 * regex matches, and `/` when the match has no uri) and keeps the rest, query string included.
 */
export function rewritePath(
  rewrite: PathRewrite | undefined,
  fullPath: string,
  prefixLength: number,
  matchedPrefix: string | undefined,
): string {
  if (rewrite === undefined) return fullPath;
  const { pathOnly, query } = splitPath(fullPath);
  switch (rewrite.kind) {
    case "prefix":
      return rewrite.value + fullPath.slice(Math.min(prefixLength, pathOnly.length));
    case "regex":
      rewrite.re.lastIndex = 0;
      return withQuery(pathOnly.replace(rewrite.re, rewrite.substitution), query);
    case "fullPath":
      return withQuery(rewrite.value, query);
    case "replacePrefixMatch":
      return withQuery(replacePrefixMatch(pathOnly, matchedPrefix ?? "/", rewrite.value), query);
  }
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** The Location of a redirect and its status code. */
export function redirectLocation(
  spec: RedirectSpec,
  request: RouteRequest,
  authorityHeader: string,
  matchedPrefix: string | undefined,
): { location: string; status: number } {
  const requestScheme = (request.scheme ?? "http").toLowerCase();
  const scheme = spec.scheme ?? requestScheme;
  const { pathOnly, query } = splitPath(request.path);

  let path = request.path;
  if (spec.path?.kind === "full") {
    // Envoy path_redirect: a query string in the new path replaces the request's; otherwise it is kept.
    path = spec.path.value.includes("?") ? spec.path.value : withQuery(spec.path.value, query);
  } else if (spec.path?.kind === "replacePrefixMatch") {
    path = withQuery(replacePrefixMatch(pathOnly, matchedPrefix ?? "/", spec.path.value), query);
  }

  let port: number | undefined;
  let host: string;
  if (spec.gatewayPortRules) {
    // Gateway API HTTPRequestRedirectFilter: no port → the scheme's well-known port when a scheme is
    // given, else the listener (here: service) port; 80 with http and 443 with https are left out.
    port = spec.port ?? (spec.scheme !== undefined ? (DEFAULT_PORT[scheme] ?? request.port) : request.port);
    host = spec.authority ?? hostOnly(authorityHeader);
    if (DEFAULT_PORT[scheme] === port) port = undefined;
  } else {
    if (spec.port !== undefined) port = spec.port;
    else if (spec.derivePort === "FROM_REQUEST_PORT") port = request.port;
    // istiod drops an explicit :80 for http and :443 for https.
    if (port !== undefined && DEFAULT_PORT[scheme] === port) port = undefined;
    if (spec.authority !== undefined) host = spec.authority;
    else {
      // Envoy keeps the request's Host, dropping its port when a new port is set or when the scheme
      // changes away from the default port it carried.
      host = authorityHeader;
      const hp = portOf(authorityHeader);
      if (hp !== undefined) {
        const drop =
          port !== undefined ||
          spec.derivePort === "FROM_PROTOCOL_DEFAULT" ||
          (scheme !== requestScheme && DEFAULT_PORT[requestScheme] === hp);
        if (drop) host = hostOnly(authorityHeader);
      }
    }
  }
  const portPart = port === undefined ? "" : `:${port}`;
  return { location: `${scheme}://${host}${portPart}${path}`, status: spec.code };
}

function portOf(authority: string): number | undefined {
  const m = /:(\d+)$/.exec(authority);
  return m === null || authority.endsWith("]") ? undefined : Number(m[1]);
}

function hostOnly(authority: string): string {
  const p = portOf(authority);
  return p === undefined ? authority : authority.slice(0, authority.lastIndexOf(":"));
}
