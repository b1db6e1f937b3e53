/** GET /models/{model}/records/{id} (and /models/{model}/record?id=): one record with its links resolved. */
import { httpHandler } from '../lib/http/http-handler.js';
import { recordAddress } from '../lib/http/record-address.js';
import { recordResponse } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = httpHandler(async (request) => recordResponse(200, await service.get(recordAddress(request))));
