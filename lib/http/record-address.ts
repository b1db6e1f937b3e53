import type { RecordAddress } from '../records/record-service.js';
import type { HttpRequest } from './http-handler.js';
import { HttpError } from './http-error.js';

/**
 * The record a GET, a DELETE or a customers listing names: `{id}` in the path, or `?id=` on the query form for ids that
 * contain `/`.
 */
export function recordAddress(request: HttpRequest): RecordAddress {
  const model = request.pathParameter('model');
  if (request.event.pathParameters?.id !== undefined) {
    return { workspace: request.workspace, model, id: request.pathParameter('id') };
  }
  const id = request.queryParameter('id');
  if (id === undefined) {
    throw new HttpError(400, 'missing_parameter', 'The query parameter "id" is required', [{ field: 'id', issue: 'is required' }]);
  }
  return { workspace: request.workspace, model, id };
}
