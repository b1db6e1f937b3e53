/** POST /models/{model}/records: upsert one record by its unique field, merging the payload into what is stored. */
import { parseWriteConditions } from '../lib/http/conditional-headers.js';
import { writeHandler } from '../lib/http/write-handler.js';
import { parseRecordBody, rawBodyOf } from '../lib/http/parse-body.js';
import { recordResponse } from '../lib/http/responses.js';
import { limits } from '../lib/records/limits.js';
import { records } from '../lib/services.js';

const service = records();

export const handler = writeHandler(async (request) => {
  const conditions = parseWriteConditions(request.headers);
  const payload = parseRecordBody(rawBodyOf(request), { maxBytes: limits.maxBodyBytes });
  const result = await service.upsert({ workspace: request.workspace, model: request.pathParameter('model'), payload, conditions });
  return recordResponse(result.outcome === 'created' ? 201 : 200, result.record);
});
