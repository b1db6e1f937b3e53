import type { APIGatewayProxyResult } from 'aws-lambda';
import type { RecordEnvelope } from '../records/envelope.js';
import { etag } from './conditional-headers.js';

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return jsonTextResponse(statusCode, JSON.stringify(body), headers);
}

/** A JSON answer whose text is already written. */
export function jsonTextResponse(statusCode: number, json: string, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': 'application/json', ...headers }, body: json };
}

/** A record envelope with its ETag. */
export function recordResponse(statusCode: number, record: RecordEnvelope): APIGatewayProxyResult {
  return jsonResponse(statusCode, record, { ETag: etag(record.version) });
}

export function noContent(): APIGatewayProxyResult {
  return { statusCode: 204, headers: {}, body: '' };
}
