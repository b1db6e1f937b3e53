/** GET /models/{model}/records?limit=&cursor=: one page of a model's records, with an opaque cursor to the next. */
import { httpHandler } from '../lib/http/http-handler.js';
import { jsonResponse } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = httpHandler(async (request) => {
  const limit = request.queryParameter('limit');
  const cursor = request.queryParameter('cursor');
  const page = await service.list({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    ...(limit !== undefined ? { limit } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  });
  return jsonResponse(200, page);
});
