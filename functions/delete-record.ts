/** DELETE /models/{model}/records/{id} (and /models/{model}/record?id=): 204, or 404 when there was nothing to delete. */
import { parseWriteConditions } from '../lib/http/conditional-headers.js';
import { writeHandler } from '../lib/http/write-handler.js';
import { recordAddress } from '../lib/http/record-address.js';
import { noContent } from '../lib/http/responses.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = writeHandler(async (request) => {
  await service.delete(recordAddress(request), parseWriteConditions(request.headers));
  return noContent();
});
