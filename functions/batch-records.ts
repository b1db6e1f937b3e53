/** POST /models/{model}/batch: up to 1,000 upserts and deletes, one result per item, in request order. */
import { batchResponse } from '../lib/http/batch-response.js';
import { writeHandler } from '../lib/http/write-handler.js';
import { parseJsonObjectBody, payloadFromJsonObject, rawBodyOf } from '../lib/http/parse-body.js';
import { limits } from '../lib/records/limits.js';
import { batches } from '../lib/services.js';
import { worstCaseCallMs } from '../lib/store/dynamodb-client.js';

const service = batches();

export const handler = writeHandler(async (request) => {
  const body = parseJsonObjectBody(rawBodyOf(request), { maxBytes: limits.maxBatchBodyBytes, what: 'a batch' });
  const results = await service.run({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    body,
    toPayload: payloadFromJsonObject,
    // Leave one DynamoDB call's full retry budget and a second to answer.
    deadline: Date.now() + request.remainingTimeMs() - worstCaseCallMs - 1000,
  });
  return batchResponse(results, request.requestId);
});
