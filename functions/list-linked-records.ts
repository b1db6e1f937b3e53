/**
 * GET /models/{model}/records/{id}/customers (and /models/{model}/record/customers?id=, for an account id that contains
 * `/`): the customers whose `account` is that account id, paginated.
 */
import { httpHandler, pageParameters } from '../lib/http/http-handler.js';
import { recordAddress } from '../lib/http/record-address.js';
import { jsonResponse } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = httpHandler(async (request) => {
  const page = await service.listLinking({
    ...recordAddress(request),
    linking: 'customer',
    // The `?id=` form names the account in the query.
    ...pageParameters(request),
  });
  return jsonResponse(200, page);
});
