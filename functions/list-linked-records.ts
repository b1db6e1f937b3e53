/** GET /models/{model}/records/{id}/customers: the customers whose `account` is that account id, paginated. */
import { httpHandler, pageParameters } from '../lib/http/http-handler.js';
import { jsonResponse } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = httpHandler(async (request) => {
  const page = await service.listLinking({
    workspace: request.workspace,
    model: request.pathParameter('model'),
    id: request.pathParameter('id'),
    linking: 'customer',
    ...pageParameters(request),
  });
  return jsonResponse(200, page);
});
