/** PUT /models/{model}: define or change a model (unique field and typed fields). */
import { writeDeadline, writeHandler } from '../lib/http/write-handler.js';
import { parseJsonObjectBody, rawBodyOf } from '../lib/http/parse-body.js';
import { jsonResponse } from '../lib/http/responses.js';
import { limits } from '../lib/records/limits.js';
import { models } from '../lib/services.js';

const service = models();

export const handler = writeHandler(async (request) => {
  const body = parseJsonObjectBody(rawBodyOf(request), { maxBytes: limits.maxBodyBytes, what: 'a model definition' });
  // A PUT overtaken by concurrent ones tries again until then (its calls take a few milliseconds each, as a rule).
  const result = await service.define(request.workspace, request.pathParameter('model'), body, writeDeadline(request));
  return jsonResponse(result.created ? 201 : 200, result.model);
});
