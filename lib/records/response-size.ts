/**
 * How much of Lambda's 6 MB synchronous response a JSON body takes. The body travels as a string inside the function's
 * result, which is JSON itself, so every `"` and `\` of the body is escaped a second time there: a page of records
 * whose fields are full of quotes weighs up to twice its own length. Every answer that can grow with what clients
 * stored (a listing page, a batch's results, the models) is kept under `maxResponseBytes` of that weight.
 */

/** Leaves room for the status, the headers and the result's own JSON under Lambda's 6 MB (6,291,456 bytes). */
export const maxResponseBytes = 5 * 1024 * 1024;

/** A JSON text's weight inside Lambda's result: its UTF-8 bytes and one more for each `"` and `\` escaped again. */
export function responseBytes(json: string): number {
  let escapes = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34 || c === 92) escapes++;
  }
  return Buffer.byteLength(json, 'utf8') + escapes;
}
