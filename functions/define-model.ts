/** PUT /models/{model}: define or change a model (unique field and typed fields). */
import { writeHandler } from '../lib/http/write-handler.js';
import { parseJsonObjectBody, rawBodyOf } from '../lib/http/parse-body.js';
import { jsonResponse } from '../lib/http/responses.js';
import { limits } from '../lib/records/limits.js';
import { models } from '../lib/services.js';
import { worstCaseCallMs } from '../lib/store/dynamodb-client.js';

const service = models();

export const handler = writeHandler(async (request) => {
  const body = parseJsonObjectBody(rawBodyOf(request), { maxBytes: limits.maxBodyBytes, what: 'a model definition' });
  // A PUT overtaken by concurrent ones tries again until then: one attempt's time left (its three calls, as a rule a few
  // milliseconds each; one call's whole retry budget) and a second to answer.
  const result = await service.define(request.workspace, request.pathParameter('model'), body, Date.now() + request.remainingTimeMs() - worstCaseCallMs - 1000);
  return jsonResponse(result.created ? 201 : 200, result.model);
});
