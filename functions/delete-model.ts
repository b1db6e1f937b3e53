/** DELETE /models/{model}: delete a custom model that has no records. */
import { writeHandler } from '../lib/http/write-handler.js';
import { noContent } from '../lib/http/responses.js';
import { models } from '../lib/services.js';

const service = models();

export const handler = writeHandler(async (request) => {
  await service.delete(request.workspace, request.pathParameter('model'));
  return noContent();
});
