/** GET /health: liveness, without a key and without touching the database. */
import { httpHandler } from '../lib/http/http-handler.js';
import { jsonResponse } from '../lib/http/responses.js';

export const handler = httpHandler(async () => jsonResponse(200, { status: 'ok' }));
