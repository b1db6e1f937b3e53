/** POST /models/{model}/batch: up to 1,000 upserts and deletes, one result per item, in request order. */
import { mergedItems, resendPlan } from '../lib/http/batch-resend.js';
import { batchResponse } from '../lib/http/batch-response.js';
import { earlierPartialAnswer } from '../lib/http/idempotency.js';
import { countBatchItemsRun } from '../lib/http/observability.js';
import { writeDeadline, writeHandler } from '../lib/http/write-handler.js';
import { parseJsonObjectBody, payloadFromJsonObject, rawBodyOf } from '../lib/http/parse-body.js';
import { limits } from '../lib/records/limits.js';
import { batches } from '../lib/services.js';

const service = batches();

export const handler = writeHandler(async (request) => {
  const body = parseJsonObjectBody(rawBodyOf(request), { maxBytes: limits.maxBatchBodyBytes, what: 'a batch' });
  // A resend with the Idempotency-Key of an answer that held items to retry runs only those (lib/http/batch-resend.ts).
  const partial = earlierPartialAnswer(request.event);
  const plan = partial ? resendPlan(partial) : undefined;
  const results = await service.run({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    body,
    toPayload: payloadFromJsonObject,
    deadline: writeDeadline(request),
    ...(plan ? { only: plan.rerun } : {}),
  });
  countBatchItemsRun(request.event, plan ? plan.rerun.size : results.length);
  return batchResponse(results, request.requestId, plan ? (items) => mergedItems(plan, items) : undefined);
});
