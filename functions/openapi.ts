/** GET /openapi.json: the API reference (OpenAPI 3.1), without a key. */
import { httpHandler } from '../lib/http/http-handler.js';
import { openApiDocument } from '../lib/http/openapi.js';
import { jsonResponse } from '../lib/http/responses.js';

export const handler = httpHandler(async (request) => {
  const host = request.headers.host ?? 'localhost';
  const proto = request.headers['x-forwarded-proto'] ?? (host.startsWith('localhost') || host.startsWith('127.') ? 'http' : 'https');
  const context = request.event.requestContext;
  // On the execute-api host the stage is part of the URL; on a custom domain or locally it is not.
  const stagePrefix = context?.domainName?.endsWith('.amazonaws.com') ? `/${context.stage}` : '';
  return jsonResponse(200, openApiDocument(`${proto}://${host}${stagePrefix}`), { 'Cache-Control': 'max-age=300' });
});
