/**
 * Matches a request path against the route table the way API Gateway REST does: segment by segment, `{name}` taking
 * exactly one non-empty segment. API Gateway decodes `%2F` before matching, so an encoded slash splits a segment here
 * too; path parameters are handed on as the client sent them (still percent-encoded), like API Gateway REST.
 */
import type { RouteDefinition } from '../routes.js';

export type RouteMatch =
  | { readonly kind: 'matched'; readonly route: RouteDefinition; readonly pathParameters: Record<string, string> | null }
  | { readonly kind: 'not_found' };

function segments(path: string): string[] {
  return path.replace(/%2f/gi, '/').split('/').slice(1);
}

export function matchRoute(routes: readonly RouteDefinition[], method: string, rawPath: string): RouteMatch {
  const requestSegments = segments(rawPath.length > 1 ? rawPath.replace(/\/$/, '') : rawPath);
  for (const route of routes) {
    if (route.method !== method) continue;
    const routeSegments = route.path.split('/').slice(1);
    if (routeSegments.length !== requestSegments.length) continue;
    const parameters: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < routeSegments.length; i += 1) {
      const expected = routeSegments[i]!;
      const actual = requestSegments[i]!;
      const param = /^\{(\w+)\}$/.exec(expected);
      if (param) {
        if (actual === '') {
          matched = false;
          break;
        }
        parameters[param[1]!] = actual;
      } else if (expected !== actual) {
        matched = false;
        break;
      }
    }
    if (matched) return { kind: 'matched', route, pathParameters: Object.keys(parameters).length > 0 ? parameters : null };
  }
  return { kind: 'not_found' };
}
