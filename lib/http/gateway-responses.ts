/**
 * API Gateway's own errors, rewritten to the error envelope. The stack installs these as gateway responses; the local
 * gateway answers with the same status, code and message, so a client sees one error shape from both.
 */
export interface GatewayResponseDefinition {
  /** API Gateway's response type (CDK `ResponseType.of(type)`). */
  readonly type: string;
  /** Status to answer with; undefined keeps API Gateway's own (for the DEFAULT_ types). */
  readonly statusCode?: number;
  readonly code: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const gatewayResponses: readonly GatewayResponseDefinition[] = [
  { type: 'UNAUTHORIZED', statusCode: 401, code: 'unauthorized', message: 'A valid API key is required: send "Authorization: Token <key>"' },
  { type: 'ACCESS_DENIED', statusCode: 403, code: 'forbidden', message: 'This API key may not use this route' },
  // The key is valid, but its workspace's usage key is in none of the stage's usage plans (docs/operations.md).
  { type: 'INVALID_API_KEY', statusCode: 403, code: 'forbidden', message: "This key's workspace is not enabled on this stage (it is in no usage plan)" },
  // API Gateway's other refusals are 403s too: left to DEFAULT_4XX they would keep the status with `bad_request`. The
  // stack's WAF rules answer with their own bodies and its API signs nothing, so these are not expected, only covered.
  { type: 'WAF_FILTERED', statusCode: 403, code: 'forbidden', message: 'The request was blocked by the firewall' },
  { type: 'INVALID_SIGNATURE', statusCode: 403, code: 'forbidden', message: 'The request signature is not valid' },
  { type: 'EXPIRED_TOKEN', statusCode: 403, code: 'forbidden', message: 'The request signature has expired' },
  // REST APIs answer an unknown path or method with 403 "Missing Authentication Token"; to a client it is a 404.
  { type: 'MISSING_AUTHENTICATION_TOKEN', statusCode: 404, code: 'route_not_found', message: 'No such route' },
  { type: 'RESOURCE_NOT_FOUND', statusCode: 404, code: 'route_not_found', message: 'No such route' },
  { type: 'REQUEST_TOO_LARGE', statusCode: 413, code: 'payload_too_large', message: 'The request body exceeds 10 MB' },
  { type: 'UNSUPPORTED_MEDIA_TYPE', statusCode: 415, code: 'unsupported_media_type', message: 'Unsupported content type' },
  { type: 'THROTTLED', statusCode: 429, code: 'rate_limited', message: 'Too many requests; retry after a pause', headers: { 'Retry-After': '1' } },
  { type: 'QUOTA_EXCEEDED', statusCode: 429, code: 'rate_limited', message: 'The request quota is used up', headers: { 'Retry-After': '60' } },
  // The authorizer failed (for example, the key table throttled it): retryable, not a defect of the request. An error
  // thrown by a Lambda authorizer, other than `Unauthorized`, is what API Gateway calls AUTHORIZER_CONFIGURATION_ERROR
  // (500 by default, `x-amzn-ErrorType: AuthorizerConfigurationException`), so that type answers 503 too. Ours throws,
  // by design, only when it cannot read the key table (SPEC: a 503, never a bare 500). An authorizer API Gateway could
  // not run at all (a missing permission, a timeout) ends the same way; the runbook tells the two apart by the
  // `AuthorizerFailures` alarm (docs/operations.md). Unlike INTEGRATION_FAILURE below, this type's usual cause is the
  // retryable one. AUTHORIZER_FAILURE is kept for what else API Gateway reports as a failed authorizer. API Gateway
  // counts an answer whose status a gateway response changed as a 4XXError, so these 503s are alarmed on from the
  // access log instead (`AuthorizerUnavailable`, infra/constructs/monitoring.ts).
  { type: 'AUTHORIZER_CONFIGURATION_ERROR', statusCode: 503, code: 'unavailable', message: 'Authentication is unavailable; retry after a pause', headers: { 'Retry-After': '1' } },
  { type: 'AUTHORIZER_FAILURE', statusCode: 503, code: 'unavailable', message: 'Authentication is unavailable; retry after a pause', headers: { 'Retry-After': '1' } },
  { type: 'INTEGRATION_TIMEOUT', statusCode: 504, code: 'timeout', message: 'The request timed out' },
  // INTEGRATION_FAILURE is left to DEFAULT_5XX on purpose (API Gateway's own status, `internal_error`): it covers a
  // function that Lambda throttled, but also one that threw, timed out, failed to start or answered over 6 MB, which a
  // retry does not mend, and a gateway response cannot tell them apart. A throttled function raises its `Throttles`
  // alarm (docs/operations.md). Its status is not set, although the developer guide gives the type a default of 504:
  // a gateway response that changes a status makes API Gateway count the answer as a 4XXError (see the authorizer's
  // types above), which would hide failed functions from the Api5xxRate alarm.
  { type: 'DEFAULT_4XX', code: 'bad_request', message: 'The request was rejected by the gateway' },
  { type: 'DEFAULT_5XX', code: 'internal_error', message: 'Internal error; the request id identifies it in the logs' },
];

export function gatewayResponse(type: string): GatewayResponseDefinition {
  const found = gatewayResponses.find((response) => response.type === type);
  if (!found) throw new Error(`Unknown gateway response type ${type}`);
  return found;
}

/** The VTL body template API Gateway renders for a gateway response. */
export function gatewayResponseTemplate(definition: GatewayResponseDefinition): string {
  return JSON.stringify({
    error: { code: definition.code, message: definition.message, request_id: '$context.requestId' },
  });
}
