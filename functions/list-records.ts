/** GET /models/{model}/records?limit=&cursor=: one page of a model's records, with an opaque cursor to the next. */
import { httpHandler, pageParameters } from '../lib/http/http-handler.js';
import { jsonResponse } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = httpHandler(async (request) => {
  const page = await service.list({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    ...pageParameters(request),
  });
  return jsonResponse(200, page);
});
