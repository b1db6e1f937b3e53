/** GET /models and GET /models/{model}: the workspace's models, standard and custom. */
import { httpHandler } from '../lib/http/http-handler.js';
import { jsonResponse } from '../lib/http/responses.js';
import { models } from '../lib/services.js';

const service = models();

export const handler = httpHandler(async (request) => {
  if (request.event.pathParameters?.model === undefined) {
    // Every model in one answer: no page to ask for, no filter (a query parameter is refused: lib/routes.ts).
    return jsonResponse(200, { models: await service.list(request.workspace) });
  }
  return jsonResponse(200, await service.get(request.workspace, request.pathParameter('model')));
});
