/** POST /models/{model}/batch: up to 1,000 upserts and deletes, one result per item, in request order. */
import { mapError } from '../lib/http/error-envelope.js';
import { writeHandler } from '../lib/http/write-handler.js';
import { parseJsonObjectBody, payloadFromJsonObject } from '../lib/http/parse-body.js';
import { jsonResponse } from '../lib/http/responses.js';
import type { BatchItemResult } from '../lib/records/batch-service.js';
import { limits } from '../lib/records/limits.js';
import { batches } from '../lib/services.js';
import { worstCaseCallMs } from '../lib/store/dynamodb-client.js';

const service = batches();

const statusOf = { created: 201, updated: 200, unchanged: 200, deleted: 204 } as const;

export const handler = writeHandler(async (request) => {
  const body = parseJsonObjectBody(
    { body: request.event.body, isBase64Encoded: request.event.isBase64Encoded, contentType: request.headers['content-type'] },
    { maxBytes: limits.maxBatchBodyBytes, what: 'a batch' },
  );
  const results = await service.run({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    body,
    toPayload: payloadFromJsonObject,
    // Leave one DynamoDB call's full retry budget and a second to answer.
    deadline: Date.now() + request.remainingTimeMs() - worstCaseCallMs - 1000,
  });
  return jsonResponse(200, {
    results: results.map((result: BatchItemResult) => {
      if ('error' in result) {
        const mapped = mapError(result.error, request.requestId);
        const { request_id: _ignored, ...error } = mapped.envelope.error;
        return { op: result.op, index: result.index, status: mapped.statusCode, ...(result.id !== undefined ? { id: result.id } : {}), error };
      }
      return { op: result.op, index: result.index, status: statusOf[result.outcome], id: result.id };
    }),
  });
});
