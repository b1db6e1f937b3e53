/** GET /openapi.json: the API reference (OpenAPI 3.1), without a key. */
import { isIPv4 } from 'node:net';
import { isHostName, isUsablePort, parseHostHeader } from '../lib/http/host-header.js';
import { httpHandler } from '../lib/http/http-handler.js';
import { openApiDocument } from '../lib/http/openapi.js';
import { jsonResponse } from '../lib/http/responses.js';

export const handler = httpHandler(async (request) => {
  // The document names the server it was asked on. On a stage API Gateway sets both headers; a client that sends
  // another scheme or a Host that is no host name gets the defaults, never its text in the document's URL.
  const sentHost = request.headers.host;
  const parsed = sentHost !== undefined ? parseHostHeader(sentHost) : undefined;
  const named = parsed && isHostName(parsed.name) && (parsed.port === undefined || isUsablePort(parsed.port)) ? parsed : undefined;
  const host = named ? sentHost! : 'localhost';
  const sentProto = request.headers['x-forwarded-proto'];
  const name = named?.name.replace(/\.$/, '').toLowerCase() ?? 'localhost';
  const local = name === 'localhost' || (isIPv4(name) && name.startsWith('127.')) || name === '[::1]';
  const proto = sentProto === 'http' || sentProto === 'https' ? sentProto : local ? 'http' : 'https';
  const context = request.event.requestContext;
  // On the execute-api host the stage is part of the URL; on a custom domain or locally it is not.
  const stagePrefix = context?.domainName?.endsWith('.amazonaws.com') ? `/${context.stage}` : '';
  // The document depends on both headers, so a cache must keep one copy per value of each.
  return jsonResponse(200, openApiDocument(`${proto}://${host}${stagePrefix}`), { 'Cache-Control': 'max-age=300', Vary: 'Host, X-Forwarded-Proto' });
});
